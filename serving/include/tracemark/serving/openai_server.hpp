// `tracemark serve`'s HTTP server: OpenAI's chat completions, completions (with and without
// streaming), model list and a health check, over cpp-httplib, backed by a CompletionService.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tracemark/embed/key_selector.hpp"
#include "tracemark/serving/api_keys.hpp"
#include "tracemark/serving/audit_log.hpp"
#include "tracemark/serving/client_address.hpp"
#include "tracemark/serving/completion_service.hpp"
#include "tracemark/serving/openai_protocol.hpp"

namespace tracemark::serving {

struct ServerSettings {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;                  // 0: any free port (bind() returns it)
  unsigned threads = 8;             // worker threads; each serves one connection at a time
  std::size_t max_body = 1 << 20;   // bytes; larger bodies get 413
  int read_timeout_seconds = 30;
  int write_timeout_seconds = 30;
  // Slowloris guards: a request (line, headers and body) must arrive whole within this many seconds
  // of its first byte, and one client address holds at most this many connections at a time
  // (0: half of `threads`, at least 1), so the other workers (and /healthz) stay free.
  int request_timeout_seconds = 10;
  unsigned max_connections_per_address = 0;
  RequestLimits limits;
  // The tokenizer of the served ids, named in every audit line ("tokenizer"), so that a scan of the
  // log never takes them for another tokenizer's.
  std::optional<TokenizerBinding> tokenizer;
  bool record_entropy = false;  // audit lines carry "entropy": each step's entropy before the watermark
  TrustedProxies trusted_proxies;  // peers whose Forwarded / X-Forwarded-For name the client
};

// Routes:
//   POST /v1/chat/completions, POST /v1/completions   (auth; "stream": true gives server-sent events)
//   GET  /v1/models, GET /v1/models/{name}            (auth)
//   GET  /healthz                                     (no auth)
// Errors have OpenAI's shape: 400 malformed JSON or bad fields, 401 missing or unknown API key,
// 404 unknown path or model, 405 wrong method, 413 body over max_body, 429 too many connections from
// one address, 500 internal. Every refused request (4xx) is one line of the audit log too:
// {"event": "rejected", "time", "status", "reason", "message", "client", "method", "path",
// "account"} (account null before authentication); the API key presented is never logged.
// Each completion is watermarked with the key `keys` selects for (account, model name, request
// time), and its audit line names that key's id and, from a keyring, its label.
// Every completion is appended to the audit log: before the response is sent when not streaming
// (nothing is served unlogged); when streaming, after the last chunk, or at once when the client
// goes away (with the tokens generated so far and finish_reason "client_disconnected").
// Thread-safe: stop() may be called from any thread while serve() runs.
class OpenAiServer {
 public:
  // service, keys, api_keys and audit_log must outlive the server.
  OpenAiServer(ServerSettings settings, const CompletionService& service, const KeySelector& keys, const ApiKeyTable& api_keys,
               AuditLog& audit_log);
  ~OpenAiServer();
  OpenAiServer(const OpenAiServer&) = delete;
  OpenAiServer& operator=(const OpenAiServer&) = delete;

  // Binds the listening socket; returns the port. Throws Error(io) when the address cannot be bound.
  int bind();
  // Serves until stop(); requests in progress are finished before it returns.
  void serve();
  void stop();

  std::uint64_t completions_served() const noexcept { return completions_served_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<std::uint64_t> completions_served_{0};
};

}  // namespace tracemark::serving
