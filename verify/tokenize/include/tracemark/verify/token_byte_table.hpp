// The bytes each token id stands for: what the syntax rule (embed/token_syntax.hpp) reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {

// Entry i is the bytes of id i for i < size; ids the tokenizer does not have (gaps, or beyond its
// vocabulary) get no bytes, which the syntax rule treats as syntax.
std::vector<std::string> token_byte_table(const Tokenizer& tokenizer, std::uint32_t size);

}  // namespace tracemark
