// Reading training text for the reference model (train and distill).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark {

// Turns text into token ids of the model's tokenizer. Empty function: the model reads ids only.
using TextEncoder = std::function<std::vector<std::uint32_t>(std::string_view)>;

using TokenDocuments = std::vector<std::vector<std::uint32_t>>;

// Reads one corpus file into documents.
//  - A file whose name ends in .jsonl: one document per line, a JSON object with "text" (a
//    string, encoded with `encoder`; preferred when an encoder is given) or "tokens" (ids of the
//    model's vocabulary, used as they are). Blank lines are skipped.
//  - Any other file: plain UTF-8 text, documents separated by one or more blank lines (lines with
//    only spaces or tabs count as blank); needs an encoder.
// Throws Error(invalid_input) naming the file and line for a record without usable text or
// tokens, an id >= vocab_size, or plain text without an encoder; Error(io) when unreadable.
TokenDocuments read_corpus_file(const std::filesystem::path& path, const TextEncoder& encoder, std::uint32_t vocab_size);

class JsonlReader;
struct JsonlRecord;
// The ids of one JSONL record as read_corpus_file reads it: "text" encoded when an encoder is
// given and the record has text, else "tokens". Same errors as read_corpus_file, naming the
// reader's file and line.
std::vector<std::uint32_t> record_document(const JsonlReader& reader, const JsonlRecord& record,
                                           const TextEncoder& encoder, std::uint32_t vocab_size);

// Resolves a corpus argument. "CORPUS:SPLIT" with CORPUS one of brown, nlp-corpus, spam-assassin,
// go-code, tool-calls, reasoning
// and SPLIT one of train, heldout, null names the set-up's file
// cache_folder()/corpora/CORPUS/SPLIT.jsonl (an existing file of that literal name wins);
// anything else is a path, returned as it is. Throws Error(io) naming ./tools/setup.sh when a
// named corpus, or a missing file inside a cache corpora/ folder, is not there.
std::filesystem::path resolve_corpus_argument(const std::string& argument);

}  // namespace tracemark
