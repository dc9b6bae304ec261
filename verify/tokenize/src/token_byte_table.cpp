#include "tracemark/verify/token_byte_table.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

std::vector<std::string> token_byte_table(const Tokenizer& tokenizer, std::uint32_t size) {
  std::vector<std::string> bytes(size);
  for (std::uint32_t id = 0; id < size && id < tokenizer.vocab_size(); ++id) {
    try {
      bytes[id] = tokenizer.decode({&id, 1});
    } catch (const Error&) {
      // A gap in the vocabulary: no bytes.
    }
  }
  return bytes;
}

}  // namespace tracemark
