// Serialising NgramTables into a reference model file (ngram_file_format.hpp).
#pragma once

#include <filesystem>

#include "tracemark/refmodel/ngram_tables.hpp"

namespace tracemark {

// Writes the model atomically (a reader never sees a partial file). Refuses to replace an existing
// file unless overwrite (Error io). Throws Error(invalid_argument) for a tokenizer name or spec
// longer than the header's fields (127 and 255 bytes).
void write_ngram_model(const NgramTables& tables, const ModelTokenizerRecord& tokenizer,
                       const std::filesystem::path& path, bool overwrite);

}  // namespace tracemark
