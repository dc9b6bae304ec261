// Tokenizers: text to exactly the token ids of a protected model's byte-level BPE tokenizer
// (tiktoken rank files such as cl100k_base and o200k_base, the Claude tokenizer of
// @anthropic-ai/tokenizer, GPT-2's encoder.json + vocab.bpe, and Hugging Face tokenizer.json files of
// byte-level BPE models). docs/DESIGN.md ("Tokenizers") says how each step matches its reference.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark {

struct TokenizerDefinition;  // private to verify/: everything that decides the ids (see tokenizer_definition.hpp)
class Pretokenizer;
class BytePairEncoder;

// Token ids of a tokenizer file must be below this (the largest real vocabularies have a few
// hundred thousand ids): tables are indexed by id, so a single id of 4294967294 in a file would
// otherwise ask for gigabytes. Version-2 keys have the same limit.
inline constexpr std::uint32_t kMaxTokenizerVocabulary = 1u << 24;

// Options of one encode call. Defaults give ordinary encoding: special tokens are never produced.
struct EncodeOptions {
  // When true, the text of a special token (for example "<|endoftext|>") is encoded as that special
  // token's id, as tiktoken's encode(text, "all") does. When false it is encoded as ordinary text.
  bool allow_special = false;
};

// The result of encode_lossy: ids, and how many U+FFFD replaced invalid UTF-8 before encoding.
struct LossyEncoding {
  std::vector<std::uint32_t> ids;
  std::uint64_t replacements = 0;
};

// One loaded tokenizer. Immutable after loading and thread-safe: any number of threads may call
// every const member concurrently on one shared instance.
class Tokenizer {
 public:
  // Loads a tokenizer by name (cl100k_base, o200k_base, claude, gpt2: files fetched by
  // corpora/fetch.sh into ${TRACEMARK_CACHE:-$HOME/.cache/tracemark}, checked against their pinned
  // SHA-256) or by path (a tiktoken JSON such as claude.json, a tiktoken rank file of cl100k_base or
  // o200k_base, a Hugging Face tokenizer.json, or a folder or encoder.json with vocab.bpe beside it).
  // Nothing is downloaded. Throws Error(io) naming the missing file and the set-up command that
  // fetches it, Error(invalid_input) for a malformed file (naming file and line or field), and
  // Error(unsupported) for a tokenizer feature this build does not implement.
  static std::shared_ptr<const Tokenizer> load(std::string_view spec);
  // A tokenizer from an already built definition (the loaders' common output).
  static std::shared_ptr<const Tokenizer> from_definition(TokenizerDefinition definition);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of UTF-8 text. Throws Error(invalid_input) naming the byte offset (from 0, in `utf8`)
  // of the first byte that is not valid UTF-8.
  std::vector<std::uint32_t> encode(std::string_view utf8, EncodeOptions options = {}) const;
  // As encode, but each maximal invalid subsequence (Unicode's recommended practice, as ICU and
  // WHATWG decoders do) is replaced by U+FFFD first; never throws for bad bytes.
  LossyEncoding encode_lossy(std::string_view bytes, EncodeOptions options = {}) const;
  // The bytes of the ids, concatenated. For valid text x, decode(encode(x)) == x, or its
  // normalisation when the tokenizer normalises (claude: NFKC). A prefix of ids may end inside a
  // UTF-8 sequence, so the result is bytes, not necessarily valid UTF-8. Throws
  // Error(invalid_argument) naming the position of an id that is not in the vocabulary.
  std::string decode(std::span<const std::uint32_t> ids) const;

  // Token ids are 0..vocab_size()-1 (the largest id of any token, ordinary or special, plus one).
  std::uint32_t vocab_size() const noexcept;
  // The name it was loaded by: one of the built-in names, or the absolute path of its file.
  const std::string& name() const noexcept;
  // SHA-256 (64 lowercase hex digits) of the canonical description of everything that decides the
  // ids: normalisation, pre-tokenizer pattern and its dialect, tokens, merges and special tokens.
  // Independent of the file format it was read from (docs/DESIGN.md gives the byte layout).
  const std::string& vocab_sha256() const noexcept;

 private:
  explicit Tokenizer(TokenizerDefinition definition);
  void encode_ordinary_into(std::string_view text, std::vector<std::uint32_t>& ids) const;
  void encode_valid_into(std::string_view text, EncodeOptions options, std::vector<std::uint32_t>& ids) const;

  std::unique_ptr<const TokenizerDefinition> definition_;
  std::unique_ptr<const Pretokenizer> pretokenizer_;
  std::unique_ptr<const BytePairEncoder> encoder_;
  std::string vocab_sha256_;
};

// One file a tokenizer is loaded from: its file name and its bytes.
struct TokenizerFile {
  std::string name;
  std::string bytes;
};

// The files Tokenizer::load(spec) reads (a built-in's pinned files, checked against their pins; a
// path's file, with vocab.bpe beside an encoder.json). Written into one folder, they load again by
// the path of the first as the same tokenizer, with the same vocabulary digest (a copy of a
// built-in's file is that built-in), so a bundle that holds them needs no tokenizer cache. Throws
// like load().
std::vector<TokenizerFile> tokenizer_files(std::string_view spec);

// The built-in tokenizer names, in a fixed order (for help texts and error messages).
std::span<const std::string_view> builtin_tokenizer_names() noexcept;

}  // namespace tracemark
