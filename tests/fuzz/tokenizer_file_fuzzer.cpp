// libFuzzer target: tokenizer files in every format tracemark reads (Hugging Face tokenizer.json,
// tiktoken JSON and rank files, GPT-2 encoder.json with vocab.bpe: the input's part after its first
// NUL byte), then the tokenizer built from what loaded, encoding a few texts. Nothing but
// tracemark::Error may escape.
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer_loaders.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace {

template <typename Load>
void try_loader(Load load) {
  try {
    tracemark::TokenizerDefinition definition = load();
    definition.name = "<fuzz>";
    const auto tokenizer = tracemark::Tokenizer::from_definition(std::move(definition));
    for (std::string_view text : {"hello world", " 123 <|endoftext|>\n\n", "\xc3\xa9t\xc3\xa9"}) {
      const auto ids = tokenizer->encode(text, {true});
      tokenizer->decode(ids);
    }
    tokenizer->encode_lossy("\xff\xfe ok");
  } catch (const tracemark::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view first = input.substr(0, nul);
  const std::string_view second = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  try_loader([&] { return tracemark::load_hf_tokenizer_json(input, "<fuzz>"); });
  try_loader([&] { return tracemark::load_tiktoken_json(input, "<fuzz>"); });
  try_loader([&] { return tracemark::load_tiktoken_rank_file(input, "<fuzz>"); });
  try_loader([&] { return tracemark::load_gpt2_files(first, second, "<fuzz>"); });
  return 0;
}
