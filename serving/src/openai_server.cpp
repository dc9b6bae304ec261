#include "tracemark/serving/openai_server.hpp"

#include <algorithm>
#include <ctime>
#include <httplib.h>
#include <iostream>
#include <openssl/rand.h>
#include <optional>

#include "tracemark/json_input.hpp"

#include "guarded_http_server.hpp"
#include "tracemark/error.hpp"
#include "tracemark/rfc3339_time.hpp"
#include "tracemark/verify/audit_log_events.hpp"
#include "tracemark/sha256.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark::serving {
namespace {

using OrderedJson = nlohmann::ordered_json;
constexpr const char* kJson = "application/json";

std::string dump(const OrderedJson& value) { return value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace); }

std::uint64_t random_u64() {
  std::uint64_t value = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value) != 1) {
    throw Error(ErrorCode::internal, "OpenSSL's random generator failed");
  }
  return value;
}

std::string random_id(const char* prefix) {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error(ErrorCode::internal, "OpenSSL's random generator failed");
  return prefix + to_hex(std::span<const std::uint8_t>(bytes));
}

// Every line of a header that may repeat, joined by "," (RFC 9110: the same as one line listing them).
std::string all_header_values(const httplib::Request& req, const char* name) {
  std::string joined;
  const std::size_t count = req.get_header_value_count(name);
  for (std::size_t i = 0; i < count; ++i) {
    if (i) joined += ",";
    joined += req.get_header_value(name, i);
  }
  return joined;
}

void send_error(httplib::Response& res, const ApiError& error) {
  res.status = error.status();
  res.set_content(error.body(), kJson);
}

// What one completion needs from request to audit line.
struct Exchange {
  CompletionRequest request;
  std::string account;
  std::string request_id;
  std::string time;
  std::string client_address;  // resolve_client_address(): the peer, or what our trusted proxies report
  std::string user_agent;
  std::int64_t created = 0;
  std::uint64_t seed = 0;
  std::vector<std::uint32_t> prompt;
  ServingKey key;  // chosen once, when the request arrives; a policy reload never changes it
};

}  // namespace

struct OpenAiServer::Impl {
  ServerSettings settings;
  const CompletionService& service;
  const KeySelector& keys;
  const ApiKeyTable& api_keys;
  AuditLog& audit_log;
  OpenAiServer& owner;
  GuardedHttpServer http;
  std::int64_t started = static_cast<std::int64_t>(std::time(nullptr));

  Impl(ServerSettings s, const CompletionService& svc, const KeySelector& selector, const ApiKeyTable& table, AuditLog& log,
       OpenAiServer& o)
      : settings(std::move(s)), service(svc), keys(selector), api_keys(table), audit_log(log), owner(o),
        http(connection_guards()) {}

  ConnectionGuards connection_guards() {
    ConnectionGuards guards;
    guards.request_timeout = std::chrono::seconds(settings.request_timeout_seconds);
    guards.max_request_bytes = settings.max_body + (64 << 10);
    guards.max_connections_per_address =
        settings.max_connections_per_address ? settings.max_connections_per_address : std::max(1u, settings.threads / 2);
    const ApiError refusal(429, "Too many connections from your address at once (this server allows " +
                                    std::to_string(guards.max_connections_per_address) +
                                    "); close idle connections or wait for answers before opening more",
                           "rate_limit_error", {}, "too_many_connections");
    guards.refusal_body = refusal.body();
    guards.on_refused = [this, refusal](const std::string& address, const std::string& reason) {
      log_rejection(address, "", "", reason == "too_many_connections" ? refusal : cut_off_error(reason), std::nullopt);
    };
    return guards;
  }

  // The error for a request whose reading was cut off by a connection guard.
  ApiError cut_off_error(const std::string& reason) const {
    if (reason == "request_too_large") {
      return ApiError(413, "The request is larger than this server's limit of " + std::to_string(settings.max_body) +
                               " bytes of body; send a smaller request",
                      "invalid_request_error", {}, "request_too_large");
    }
    return ApiError(408, "The request did not arrive whole within " + std::to_string(settings.request_timeout_seconds) +
                             " seconds of its first byte; send requests at once, not a few bytes at a time",
                    "invalid_request_error", {}, "request_timeout");
  }

  // One audit line for a refused request. Never the presented key: the message of every ApiError
  // is ours, and no header is copied.
  void log_rejection(const std::string& client, const std::string& method, const std::string& path, const ApiError& error,
                     const std::optional<std::string>& account) {
    OrderedJson line;
    line[std::string(kAuditEventField)] = kAuditRejectedEvent;
    line["time"] = rfc3339_utc_now();
    line["status"] = error.status();
    line["reason"] = error.reason();
    line["message"] = error.what();
    line["client"] = client;
    line["method"] = replace_invalid_utf8(method.substr(0, 16));
    line["path"] = replace_invalid_utf8(path.substr(0, 256));
    line["account"] = account ? OrderedJson(*account) : OrderedJson(nullptr);
    try {
      audit_log.append(dump(line));
    } catch (const std::exception& e) {
      std::cerr << "tracemark serve: " << e.what() << "\n";
    }
  }

  // The account of the request's bearer key; throws ApiError 401.
  std::string authenticate(const httplib::Request& req) const {
    if (!req.has_header("Authorization")) {
      throw ApiError(401, "You didn't provide an API key. Send it as the header `Authorization: Bearer KEY`.",
                     "invalid_request_error");
    }
    const std::string header = req.get_header_value("Authorization");
    const auto token = bearer_token(header);
    if (!token) {
      throw ApiError(401, "The Authorization header is not a bearer credential; send `Authorization: Bearer KEY`.",
                     "invalid_request_error", {}, "invalid_api_key");
    }
    auto account = api_keys.account_of(*token);
    if (!account) {
      // The key is never echoed (not even in part): it may be someone else's secret.
      throw ApiError(401, "Incorrect API key provided. Ask the operator of this server for a key.", "invalid_request_error",
                     {}, "invalid_api_key");
    }
    return *account;
  }

  OrderedJson model_object() const {
    return {{"id", settings.limits.model_name}, {"object", "model"}, {"created", started}, {"owned_by", "tracemark"}};
  }

  void write_audit(const Exchange& exchange, const std::vector<std::uint32_t>& tokens, const std::string& text,
                   const std::string& finish_reason, const std::vector<float>& entropy = {}) {
    OrderedJson line;
    line["audit_version"] = kAuditLogVersion;
    line["time"] = exchange.time;
    line["account"] = exchange.account;
    line["client_address"] = exchange.client_address;
    line["user_agent"] = exchange.user_agent;
    line["request_id"] = exchange.request_id;
    line["endpoint"] = exchange.request.endpoint == Endpoint::chat_completions ? "/v1/chat/completions" : "/v1/completions";
    line["model"] = settings.limits.model_name;
    line["key_id"] = exchange.key.key_id;
    if (!exchange.key.label.empty()) line["key_label"] = exchange.key.label;
    line["prompt"] = exchange.request.prompt_for_log;
    line["prompt_tokens"] = exchange.prompt;
    line["text"] = text;
    line["tokens"] = tokens;
    if (settings.tokenizer) line["tokenizer"] = record_tokenizer_json(*settings.tokenizer);
    // One value per token: what entropy-aware detection reads instead of a reference model.
    if (settings.record_entropy) line["entropy"] = entropy;
    line["finish_reason"] = finish_reason;
    line["stream"] = exchange.request.stream;
    line["max_tokens"] = exchange.request.max_tokens;
    line["temperature"] = exchange.request.temperature;
    line["top_p"] = exchange.request.top_p;
    line["seed"] = exchange.seed;
    audit_log.append(dump(line));
  }

  void complete(const httplib::Request& req, httplib::Response& res, Endpoint endpoint, std::optional<std::string>& account) {
    auto exchange = std::make_shared<Exchange>();
    const std::int64_t time_ms = utc_now_ms();
    exchange->time = format_rfc3339_ms(time_ms);
    exchange->account = authenticate(req);
    account = exchange->account;
    exchange->client_address = resolve_client_address(req.remote_addr, all_header_values(req, "Forwarded"),
                                                      all_header_values(req, "X-Forwarded-For"), settings.trusted_proxies);
    exchange->user_agent = req.get_header_value("User-Agent").substr(0, kAuditUserAgentBytes);
    exchange->request = parse_completion_request(req.body, endpoint, settings.limits);
    exchange->request_id = random_id(endpoint == Endpoint::chat_completions ? "chatcmpl-" : "cmpl-");
    exchange->created = static_cast<std::int64_t>(std::time(nullptr));
    exchange->seed = exchange->request.seed ? static_cast<std::uint64_t>(*exchange->request.seed) : random_u64();
    exchange->prompt = service.prompt_tokens(exchange->request);
    exchange->key = keys.select(KeyRequest{exchange->account, settings.limits.model_name, time_ms});
    if (!exchange->request.stream) {
      std::vector<float> entropy;
      const std::vector<std::uint32_t> tokens =
          service.generate(exchange->prompt, exchange->request, exchange->seed, exchange->key.scheme, [](std::uint32_t) { return true; },
                           settings.record_entropy ? &entropy : nullptr);
      const std::string text = replace_invalid_utf8(service.decode(tokens));
      write_audit(*exchange, tokens, text, "length", entropy);  // logged before anything is sent
      owner.completions_served_.fetch_add(1);
      res.status = 200;
      res.set_content(dump(completion_response(endpoint, exchange->request_id, exchange->created, settings.limits.model_name,
                                               text, "length", {exchange->prompt.size(), tokens.size()})),
                      kJson);
      return;
    }
    auto logged = std::make_shared<bool>(false);
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, exchange, logged](std::size_t, httplib::DataSink& sink) {
          const CompletionRequest& request = exchange->request;
          const std::string& model = settings.limits.model_name;
          bool connected = true;
          auto send = [&](const std::string& event) {
            if (connected && !sink.write(event.data(), event.size())) connected = false;
            return connected;
          };
          if (request.endpoint == Endpoint::chat_completions) {
            send(server_sent_event(completion_chunk(request.endpoint, exchange->request_id, exchange->created, model, "", true, "")));
          }
          Utf8StreamSplitter splitter;
          std::vector<std::uint32_t> tokens;
          std::vector<float> entropy;
          try {
            tokens = service.generate(exchange->prompt, request, exchange->seed, exchange->key.scheme, [&](std::uint32_t token) {
              const std::uint32_t one[1] = {token};
              const std::string piece = splitter.take(service.decode(one));
              if (piece.empty()) return connected;
              return send(server_sent_event(
                  completion_chunk(request.endpoint, exchange->request_id, exchange->created, model, piece, false, "")));
            }, settings.record_entropy ? &entropy : nullptr);
          } catch (const std::exception& e) {
            std::cerr << "tracemark serve: generation failed for " << exchange->request_id << ": " << e.what() << "\n";
            connected = false;
          }
          if (connected) {
            const std::string rest = splitter.finish();
            if (!rest.empty()) {
              send(server_sent_event(completion_chunk(request.endpoint, exchange->request_id, exchange->created, model, rest, false, "")));
            }
            send(server_sent_event(completion_chunk(request.endpoint, exchange->request_id, exchange->created, model, "", false, "length")));
            if (request.include_usage) {
              send(server_sent_event(usage_chunk(request.endpoint, exchange->request_id, exchange->created, model,
                                                 {exchange->prompt.size(), tokens.size()})));
            }
            send("data: [DONE]\n\n");
          }
          try {
            write_audit(*exchange, tokens, replace_invalid_utf8(service.decode(tokens)), connected ? "length" : "client_disconnected",
                        entropy);
            *logged = true;
            owner.completions_served_.fetch_add(1);
          } catch (const std::exception& e) {
            std::cerr << "tracemark serve: " << e.what() << "\n";
          }
          if (connected) sink.done();
          return connected;
        },
        [this, exchange, logged](bool) {
          // The client went away before the stream started: nothing was generated, but the
          // exchange is still recorded.
          if (*logged) return;
          try {
            write_audit(*exchange, {}, "", "client_disconnected");
          } catch (const std::exception& e) {
            std::cerr << "tracemark serve: " << e.what() << "\n";
          }
        });
  }

  void dispatch(const httplib::Request& req, httplib::Response& res, std::optional<std::string>& account) {
    const std::string& path = req.path;
    const std::string& method = req.method;
    const bool get = method == "GET" || method == "HEAD";
    std::string allowed;
    if (path == "/v1/chat/completions" || path == "/v1/completions") {
      if (method == "POST") {
        complete(req, res, path == "/v1/chat/completions" ? Endpoint::chat_completions : Endpoint::completions, account);
        return;
      }
      allowed = "POST";
    } else if (path == "/v1/models" || path.starts_with("/v1/models/")) {
      if (get) {
        account = authenticate(req);
        if (path == "/v1/models") {
          res.set_content(dump(OrderedJson{{"object", "list"}, {"data", OrderedJson::array({model_object()})}}), kJson);
        } else if (path.substr(std::string_view("/v1/models/").size()) == settings.limits.model_name) {
          res.set_content(dump(model_object()), kJson);
        } else {
          throw ApiError(404, "The model '" + escaped_excerpt(path.substr(std::string_view("/v1/models/").size())) + "' does not exist",
                         "invalid_request_error", "model", "model_not_found");
        }
        return;
      }
      allowed = "GET, HEAD";
    } else if (path == "/healthz") {
      if (get) {
        res.set_content(dump(OrderedJson{{"status", "ok"}, {"model", settings.limits.model_name}}), kJson);
        return;
      }
      allowed = "GET, HEAD";
    } else {
      throw ApiError(404, "Invalid URL (" + escaped_excerpt(method, 16) + " " + escaped_excerpt(path, 200) +
                              "); this server has POST /v1/chat/completions, "
                          "POST /v1/completions, GET /v1/models and GET /healthz",
                     "invalid_request_error", {}, "unknown_url");
    }
    res.set_header("Allow", allowed);
    throw ApiError(405, "Method " + escaped_excerpt(method, 16) + " is not allowed for " + path + "; use " + allowed, "invalid_request_error",
                   {}, "method_not_allowed");
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    std::optional<std::string> account;  // known once the request is authenticated
    try {
      dispatch(req, res, account);
    } catch (const ApiError& e) {
      send_error(res, e);
      if (e.status() >= 400 && e.status() < 500) log_rejection(req.remote_addr, req.method, req.path, e, account);
    } catch (const std::exception& e) {
      std::cerr << "tracemark serve: internal error on " << req.method << " " << req.path << ": " << e.what() << "\n";
      send_error(res, ApiError(500, "The server had an error while processing your request; it was logged.", "server_error"));
    }
  }
};

OpenAiServer::OpenAiServer(ServerSettings settings, const CompletionService& service, const KeySelector& keys,
                           const ApiKeyTable& api_keys, AuditLog& audit_log)
    : impl_(std::make_unique<Impl>(std::move(settings), service, keys, api_keys, audit_log, *this)) {
  httplib::Server& http = impl_->http;
  const unsigned threads = impl_->settings.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(impl_->settings.max_body);
  http.set_read_timeout(impl_->settings.read_timeout_seconds, 0);
  http.set_write_timeout(impl_->settings.write_timeout_seconds, 0);
  http.set_keep_alive_max_count(1000);
  http.set_tcp_nodelay(true);
  Impl* impl = impl_.get();
  const auto handler = [impl](const httplib::Request& req, httplib::Response& res) { impl->handle(req, res); };
  // One catch-all route per method: routing (404 or 405) is decided in dispatch(), after the body
  // has been read, so a refused request never leaves its body on a kept-alive connection.
  http.Get(".*", handler);
  http.Post(".*", handler);
  http.Put(".*", handler);
  http.Patch(".*", handler);
  http.Delete(".*", handler);
  http.Options(".*", handler);
  http.set_error_handler(httplib::Server::HandlerWithResponse([impl](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours, already filled in
    std::optional<ApiError> error;
    const ConnectionState connection = impl->http.current_connection();
    if (!connection.cut_off.empty()) {
      // Cut off by a connection guard: logged once, when the connection is closed.
      error.emplace(impl->cut_off_error(connection.cut_off));
      res.status = error->status();
      send_error(res, *error);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (res.status == 413) {
      error.emplace(413, "The request body is larger than this server's limit of " + std::to_string(impl->settings.max_body) +
                             " bytes; send a smaller request",
                    "invalid_request_error", std::string(), "request_too_large");
    } else if (res.status == 404 || res.status == 405) {
      error.emplace(res.status, "Invalid URL or method", "invalid_request_error", std::string(), "unknown_url");
    } else {
      error.emplace(res.status, "The HTTP request could not be read (status " + std::to_string(res.status) +
                                    "); send a well-formed HTTP/1.1 request",
                    res.status >= 500 ? "server_error" : "invalid_request_error");
    }
    send_error(res, *error);
    if (res.status >= 400 && res.status < 500) {
      impl->log_rejection(req.remote_addr.empty() ? connection.address : req.remote_addr, req.method, req.path, *error,
                          std::nullopt);
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, ApiError(500, "The server had an error while processing your request.", "server_error"));
  });
}

OpenAiServer::~OpenAiServer() = default;

int OpenAiServer::bind() {
  httplib::Server& http = impl_->http;
  const ServerSettings& s = impl_->settings;
  int port = s.port;
  if (port == 0) {
    port = http.bind_to_any_port(s.host);
    if (port < 0) port = 0;
  } else if (!http.bind_to_port(s.host, port)) {
    port = 0;
  }
  if (port <= 0) {
    throw Error(ErrorCode::io, "cannot listen on " + s.host + ":" + std::to_string(s.port) +
                                   " (address in use, or not an address of this machine?); choose another --port or --host");
  }
  return port;
}

void OpenAiServer::serve() { impl_->http.listen_after_bind(); }

void OpenAiServer::stop() { impl_->http.stop(); }

}  // namespace tracemark::serving
