// Unicode normalisation by ICU (and, through utf8.hpp, UTF-8 validation and lossy repair).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer_definition.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark {

// `text` (valid UTF-8) in the given normalisation form. Returns a view of `text` itself when it is
// already normalised, else of `storage`, which it fills.
std::string_view normalize_utf8(std::string_view text, Normalization form, std::string& storage);

}  // namespace tracemark
