// `tracemark probe`: collects a suspect model's answers to a prompt set from any OpenAI-compatible
// endpoint, politely (concurrency, rate limit, retries with backoff) and resumably.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace tracemark::serving {

struct ProbeOptions {
  std::string endpoint;  // base URL as OpenAI SDKs take it: http[s]://host[:port][/path]; no path means /v1
  std::string model;
  std::string prompts;   // JSON lines: {"id", "prompt": text} or {"id", "messages": [...]} (chat)
  std::string out;       // JSON lines, appended to; prompts already answered there are skipped
  bool chat = true;      // POST {base}/chat/completions, else {base}/completions
  unsigned concurrency = 4;
  double rate = 0;       // requests per second over all workers; 0: no limit
  unsigned max_retries = 5;
  std::optional<std::size_t> max_tokens;
  std::optional<double> temperature;
  std::optional<std::int64_t> seed;
  // Ask for the k most probable tokens at each step (reading mode's weighted tests read the first):
  // chat sends "logprobs": true and "top_logprobs": k, completions send "logprobs": k.
  std::optional<unsigned> top_logprobs;
  double timeout_seconds = 120;     // per request: connecting, each read and write, and the whole response
  double retry_base_seconds = 1.0;  // first backoff; doubles each retry, with jitter
  double retry_max_seconds = 60;    // largest backoff (Retry-After is honoured even when longer, up to 1 hour)
  std::string ca_cert;              // PEM bundle for HTTPS; empty: the system's trust store
  bool progress = false;            // draw a progress bar on stderr (the CLI sets it when stderr is a terminal)
};

struct ProbeSummary {
  std::size_t prompts = 0;
  std::size_t already_answered = 0;  // skipped: their ids are in the output already
  std::size_t answered = 0;          // answered by this run
  std::size_t failed = 0;
  std::size_t retries = 0;
  bool dropped_torn_line = false;
};

// Runs the probe. api_key: sent as `Authorization: Bearer`, never written anywhere (messages from
// the server are scrubbed of it). Throws Error(invalid_input) for bad prompt or output files
// (file, line, byte offset), Error(invalid_argument) for a bad endpoint, Error(permission) when
// the endpoint refuses the key (401/403: the run stops at once). Prompts that still fail after the
// retries are counted in the summary and left out of the output, so a re-run retries them.
// log: progress lines and per-prompt failures.
ProbeSummary run_probe(const ProbeOptions& options, const std::string& api_key, std::ostream& log);

// Exposed for tests. The delay a Retry-After value asks for, in seconds: delta-seconds (also with
// a fraction) or an HTTP-date; nothing when the value is neither.
std::optional<double> parse_retry_after(const std::string& value, std::int64_t now_unix);

}  // namespace tracemark::serving
