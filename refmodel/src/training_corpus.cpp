#include "tracemark/refmodel/training_corpus.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "tracemark/error.hpp"
#include "tracemark/text_lines.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/pinned_files.hpp"

namespace tracemark {
namespace {

void check_ids(const std::vector<std::uint32_t>& tokens, std::uint32_t vocab_size, const std::string& where) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab_size) {
      throw Error(ErrorCode::invalid_input, where + ": token id " + std::to_string(tokens[i]) + " at position " +
                                                std::to_string(i) + " is outside the vocabulary (size " +
                                                std::to_string(vocab_size) + "); were these ids made with this tokenizer?");
    }
  }
}

TokenDocuments read_jsonl(const std::filesystem::path& path, const TextEncoder& encoder, std::uint32_t vocab_size) {
  TokenDocuments documents;
  JsonlReader reader(path);
  JsonlRecord record;
  while (reader.next(record)) documents.push_back(record_document(reader, record, encoder, vocab_size));
  return documents;
}

TokenDocuments read_plain_text(const std::filesystem::path& path, const TextEncoder& encoder, std::uint32_t vocab_size) {
  if (!encoder) {
    throw Error(ErrorCode::invalid_input, path.string() + " is plain text, which needs a tokenizer: pass --tokenizer, "
                                                          "or give JSONL files (name ending in .jsonl) with \"tokens\"");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::io, "cannot open corpus " + path.string() + ": " + std::strerror(errno));
  TokenDocuments documents;
  std::string document;
  std::uint64_t first_line = 0;
  auto flush = [&] {
    if (document.empty()) return;
    documents.push_back(encoder(document));
    check_ids(documents.back(), vocab_size, path.string() + " line " + std::to_string(first_line));
    document.clear();
  };
  LineReader lines(file, path.string());
  TextLine line;
  while (lines.next(line)) {
    if (line.text.find_first_not_of(" \t\r") == std::string::npos) {
      flush();
      continue;
    }
    if (document.empty()) first_line = line.position.line;
    document += line.text;
    document += '\n';
  }
  flush();
  return documents;
}

}  // namespace

std::vector<std::uint32_t> record_document(const JsonlReader& reader, const JsonlRecord& record,
                                           const TextEncoder& encoder, std::uint32_t vocab_size) {
  std::vector<std::uint32_t> document;
  const auto& value = record.value;
  const auto text = value.is_object() ? value.find("text") : value.end();
  if (encoder && value.is_object() && text != value.end() && text->is_string()) {
    document = encoder(text->get_ref<const std::string&>());
  } else if (value.is_object() && value.contains("tokens")) {
    document = record_tokens(reader, record);
  } else {
    throw Error(ErrorCode::invalid_input,
                reader.where(record) + (encoder ? ": expected an object with \"text\" (a string) or \"tokens\" (ids)"
                                                : ": expected an object with \"tokens\" (ids); records with \"text\" "
                                                  "need --tokenizer"));
  }
  check_ids(document, vocab_size, reader.where(record));
  return document;
}

std::filesystem::path resolve_corpus_argument(const std::string& argument) {
  static constexpr std::array<std::string_view, 6> kCorpora{"brown", "nlp-corpus", "spam-assassin",
                                                            "go-code", "tool-calls", "reasoning"};
  static constexpr std::array<std::string_view, 3> kSplits{"train", "heldout", "null"};
  const std::size_t colon = argument.find(':');
  const auto known = [](const auto& names, std::string_view name) {
    for (std::string_view n : names) {
      if (n == name) return true;
    }
    return false;
  };
  std::error_code ignored;
  if (colon != std::string::npos && known(kCorpora, std::string_view(argument).substr(0, colon)) &&
      known(kSplits, std::string_view(argument).substr(colon + 1)) && !std::filesystem::exists(argument, ignored)) {
    const std::filesystem::path path = cache_folder() / "corpora" / argument.substr(0, colon) /
                                       (argument.substr(colon + 1) + ".jsonl");
    if (!std::filesystem::is_regular_file(path, ignored)) {
      throw Error(ErrorCode::io, "corpus " + argument + ": " + path.string() +
                                     " is missing: the corpus cache is not set up; run ./tools/setup.sh (its "
                                     "corpora/fetch.sh writes the corpora into $TRACEMARK_CACHE, default "
                                     "~/.cache/tracemark)");
    }
    return path;
  }
  const std::filesystem::path path(argument);
  if (!std::filesystem::exists(path, ignored) && path.has_parent_path() &&
      path.parent_path().parent_path().filename() == "corpora" && path.extension() == ".jsonl") {
    throw Error(ErrorCode::io, "corpus file " + argument +
                                   " is missing: if it is one of tracemark's corpora, the corpus cache is not set "
                                   "up; run ./tools/setup.sh (its corpora/fetch.sh writes CACHE/corpora/CORPUS/"
                                   "{train,heldout,null}.jsonl); otherwise check the path");
  }
  return path;
}

TokenDocuments read_corpus_file(const std::filesystem::path& path, const TextEncoder& encoder, std::uint32_t vocab_size) {
  if (path.extension() == ".jsonl") return read_jsonl(path, encoder, vocab_size);
  return read_plain_text(path, encoder, vocab_size);
}

}  // namespace tracemark
