// A suspect's listed next tokens at its first generated step, with their probabilities, read from
// an answer record in any of the three shapes a suspect's answers come in:
//   - tracemark's own: "top_logprobs": [[{"id", "logprob"}, ...], ...] (`generate --top-logprobs K`);
//   - an OpenAI chat completion: "choices"[0]."logprobs"."content"[0]."top_logprobs":
//     [{"token", "logprob", "bytes"}] (`probe --chat --top-logprobs K`);
//   - an OpenAI completion: "choices"[0]."logprobs"."top_logprobs"[0]: {"<token>": logprob}
//     (`probe --completions --top-logprobs K`).
// The API shapes name tokens by their text (or bytes), in the suspect's own tokenizer. Each is mapped
// to the first id of its bytes under the key's tokenizer, and entries that map to the same id have
// their probabilities added. The mapping reads only the answer and the public tokenizer, never the
// key's secret, so any test over the result keeps its null (reading_mode.hpp); a suspect with
// another tokenizer is read approximately (the probability of a token that begins with ours), which
// costs power, never validity.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/key_tokenizer.hpp"

namespace tracemark {

struct FirstStepLogprobs {
  std::vector<std::uint32_t> ids;     // distinct key-tokenizer ids
  std::vector<double> logprobs;       // natural logs, <= 0
  std::vector<double> probabilities;  // exp(logprobs); they sum to at most 1
};

// Reads the listed tokens of one file's answers. Not thread-safe: it keeps the ids of the token
// texts it has mapped (an answer file names the same few thousand tokens over and over).
class FirstStepLogprobsReader {
 public:
  // `vocab`: the key's vocabulary size (ids at or above it are refused); `tokenizer`: the key's,
  // used only for named tokens and loaded only then.
  FirstStepLogprobsReader(std::uint32_t vocab, const KeyTokenizer& tokenizer);

  // Reads the first step's listed tokens of `record` into `out`; false (and `out` untouched) when
  // the record carries none in any shape (a probe made without --top-logprobs is not an error: only
  // the greedy test reads it). Throws Error(invalid_input) naming file, line and byte offset for a
  // malformed list (no first step, an id outside the vocabulary, a logprob above 0 or not a number,
  // an id listed twice in tracemark's shape, probabilities summing to more than 1, a "bytes" entry
  // that is not bytes) and for named tokens when the key binds no tokenizer.
  bool read(const JsonlReader& reader, const JsonlRecord& record, FirstStepLogprobs& out);

 private:
  std::uint32_t vocab_;
  const KeyTokenizer& tokenizer_;
  // Token bytes -> the first id they encode to (the largest uint32 when they encode to nothing).
  std::unordered_map<std::string, std::uint32_t> named_ids_;
};

}  // namespace tracemark
