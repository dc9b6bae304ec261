// tracemark serve: an OpenAI-compatible HTTP server backed by the reference model, watermarking
// every response with --key, or with the keyring subkey a key policy picks (--keyring,
// --key-policy; SIGHUP reloads the policy), and appending every exchange to --audit-log.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <thread>
#include <ctime>

#include "commands.hpp"
#include "shared_options.hpp"
#include "model_vocabulary.hpp"
#include "tracemark/serving/api_keys.hpp"
#include "tracemark/serving/audit_log.hpp"
#include "tracemark/serving/completion_service.hpp"
#include "tracemark/serving/openai_server.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/key_selector.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/error.hpp"

namespace tracemark::cli {
namespace {

struct ServeOptions {
  std::string model;
  std::string key;
  std::string keyring;
  std::string key_policy;
  std::string api_keys;
  std::string audit_log;
  std::string model_name;
  serving::ServerSettings server;
  std::uint32_t top_k = 0;
  std::optional<double> keyed_fraction;  // gumbel-max keys: share of keyable steps keyed
  bool audit_fsync = false;
  std::vector<std::string> trusted_proxies;
};

// SIGHUP: the policy file is read again and, when valid, in force for the requests that arrive
// afterwards; a bad one is refused and the old policy stays (KeySelector::reload).
void reload_key_policy(KeySelector& keys) {
  if (!keys.uses_policy()) {
    std::cerr << "tracemark serve: SIGHUP ignored: this server watermarks with one --key; there is no --key-policy to reload"
              << std::endl;
    return;
  }
  try {
    const std::string description = keys.reload();
    std::cout << "tracemark serve: SIGHUP: key policy reloaded; now " << description << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "tracemark serve: SIGHUP: the new key policy was refused and the old one stays in force: " << e.what()
              << std::endl;
  }
}

void run_serve(ServeOptions options) {
  if (options.keyring.empty() == options.key.empty()) {
    throw Error(ErrorCode::invalid_argument, "give either --key KEY.json, or --keyring RING.json with --key-policy POLICY.json");
  }
  if (options.keyring.empty() != options.key_policy.empty()) {
    throw Error(ErrorCode::invalid_argument, "--keyring and --key-policy go together: the policy says which of the ring's "
                                             "labels watermarks each request");
  }
  // SIGINT, SIGTERM and SIGHUP are taken by a waiting thread (below), never by a handler, and
  // SIGPIPE from writing to a client that went away is ignored; the mask is set before any thread
  // starts, so every worker inherits it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigset_t blocked = signals;
  sigaddset(&blocked, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);

  // Cheap checks first: a bad key file is reported before the model and tokenizer are loaded.
  const serving::ApiKeyTable api_keys = serving::ApiKeyTable::load(options.api_keys);
  ReferenceModel model = ReferenceModel::load(options.model);
  const ModelVocabulary vocabulary = vocabulary_of_model(model.tokenizer(), model.vocab_size(), options.model);
  if (!vocabulary.has_tokenizer()) {
    throw Error(ErrorCode::invalid_input, options.model + " was trained on raw token ids, but an OpenAI-compatible server "
                                                          "speaks text; train a model with `tracemark train --tokenizer NAME`");
  }
  // The ring file is a secret (mode 0600, checked); the policy and the accounts files it names are not.
  const std::unique_ptr<KeySelector> selector =
      options.keyring.empty() ? std::make_unique<KeySelector>(WatermarkKey::load(options.key))
                              : std::make_unique<KeySelector>(Keyring::load(options.keyring), options.keyring, options.key_policy);
  KeySelector& keys = *selector;
  if (options.keyed_fraction && keys.params().scheme != kGumbelMaxSchemeName) {
    throw Error(ErrorCode::invalid_argument, "--keyed-fraction applies to a gumbel-max --key, which chooses the tokens; "
                                             "drop it, or serve a key made with `tracemark keygen --scheme gumbel-max`");
  }
  const std::string& key_source = options.keyring.empty() ? options.key : options.keyring;
  if (keys.params().vocab_size != model.vocab_size()) {
    throw Error(ErrorCode::invalid_input, key_source + ": the key's vocabulary size " + std::to_string(keys.params().vocab_size) +
                                              " differs from " + options.model + "'s " + std::to_string(model.vocab_size()) +
                                              "; make a key with `tracemark " + (options.keyring.empty() ? "keygen" : "keyring new") +
                                              " --tokenizer " + vocabulary.record.name + "`");
  }
  if (keys.params().tokenizer && keys.params().tokenizer->vocab_sha256 != vocabulary.record.vocab_sha256) {
    throw Error(ErrorCode::invalid_input, key_source + ": the key is bound to tokenizer " + keys.params().tokenizer->name +
                                              ", but " + options.model + " uses " + vocabulary.record.name);
  }
  std::vector<serving::IpNetwork> trusted;
  for (const std::string& cidr : options.trusted_proxies) trusted.push_back(serving::IpNetwork::parse(cidr));
  options.server.trusted_proxies = serving::TrustedProxies(std::move(trusted));
  serving::AuditLog audit_log(options.audit_log, options.audit_fsync);
  if (options.model_name.empty()) options.model_name = std::filesystem::path(options.model).stem().string();
  options.server.limits.model_name = options.model_name;
  options.server.tokenizer = TokenizerBinding{vocabulary.record.name, vocabulary.record.vocab_sha256};
  if (options.server.limits.default_max_tokens > options.server.limits.max_tokens_limit) {
    throw Error(ErrorCode::invalid_argument, "--default-max-tokens is larger than --max-tokens-limit");
  }
  serving::ModelTextCodec codec{vocabulary.encode, vocabulary.decode};
  ProcessorOptions processor_options;
  processor_options.keyed_fraction = options.keyed_fraction;
  const serving::CompletionService service(std::move(model), std::move(codec), options.top_k, processor_options);
  serving::OpenAiServer server(options.server, service, keys, api_keys, audit_log);
  const int port = server.bind();
  const bool ipv6 = options.server.host.find(':') != std::string::npos;
  std::cout << "tracemark serve: listening on http://" << (ipv6 ? "[" : "") << options.server.host << (ipv6 ? "]" : "")
            << ":" << port << " (model " << options.model_name << ", " << keys.describe() << ", "
            << api_keys.size() << " API key(s), audit log " << audit_log.name() << ", " << options.server.threads
            << " threads); stop with Ctrl-C or SIGTERM" << (keys.uses_policy() ? "; SIGHUP reloads the key policy" : "")
            << std::endl;

  std::atomic<bool> finished{false};
  std::thread signal_waiter([&] {
    const timespec poll{0, 200'000'000};
    while (!finished.load()) {
      const int signal = sigtimedwait(&signals, nullptr, &poll);
      if (signal == SIGHUP) {
        reload_key_policy(keys);
        continue;
      }
      if (signal == SIGINT || signal == SIGTERM) {
        std::cout << "tracemark serve: " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
                  << " received; finishing the requests in progress" << std::endl;
        server.stop();
        return;
      }
    }
  });
  server.serve();
  finished = true;
  signal_waiter.join();
  std::cout << "tracemark serve: stopped after " << server.completions_served() << " completion(s); audit log "
            << audit_log.name() << " holds " << audit_log.lines_written() << " new line(s)" << std::endl;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* command = app.add_subcommand("serve", "serve a reference model over an OpenAI-compatible HTTP API, watermarked with --key or a keyring's subkeys");
  command->add_option("--model", options->model, "model file from `tracemark train` or `distill`, n-gram or transformer (trained with --tokenizer)")->required();
  command->add_option("--key", options->key, "watermark key (its vocabulary must be the model's); or --keyring with --key-policy");
  command->add_option("--keyring", options->keyring, "keyring (from `tracemark keyring new`): each request is watermarked with "
                                                     "the subkey of the label --key-policy picks");
  command->add_option("--key-policy", options->key_policy, "key policy JSON: label by account cohort, model, epoch, default "
                                                           "(docs/METHOD.md); SIGHUP reloads it");
  command->add_option("--api-keys", options->api_keys,
                      "file of `KEY ACCOUNT` lines (mode 0600); a request's bearer key names its account")
      ->required();
  command->add_option("--audit-log", options->audit_log, "JSON lines file every exchange is appended to (created 0600)")
      ->required();
  command->add_option("--host", options->server.host, "address to listen on (loopback unless you mean otherwise)")
      ->capture_default_str();
  command->add_option("--port", options->server.port, "TCP port; 0 picks a free one (printed)")
      ->capture_default_str()->check(CLI::Range(0, 65535));
  add_threads_option(*command, options->server.threads, "worker threads (one connection each at a time)");
  command->add_option("--max-body", options->server.max_body, "largest request body in bytes; larger ones get 413")
      ->capture_default_str()->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30));
  command->add_option("--model-name", options->model_name, "model id clients send in \"model\" (default: the model file's stem)");
  command->add_option("--max-tokens-limit", options->server.limits.max_tokens_limit, "largest max_tokens a request may ask")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  command->add_option("--default-max-tokens", options->server.limits.default_max_tokens,
                      "max_tokens when a request gives none (the model has no end token)")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  command->add_flag("--record-entropy", options->server.record_entropy,
                    "audit lines carry \"entropy\": each step's entropy before the watermark, which detect and scan read "
                    "for keys with an entropy threshold (no reference model needed)");
  command->add_option("--keyed-fraction", options->keyed_fraction,
                      "gumbel-max --key: the share of steps chosen with the key (0, 1]; the rest use the request's own "
                      "randomness, so repeated prompts get different answers (default 1: every step)");
  command->add_option("--top-k", options->top_k, "sample among the model's k most probable tokens (faster); 0: whole vocabulary")
      ->capture_default_str();
  command->add_option("--read-timeout", options->server.read_timeout_seconds, "seconds to wait for a client's request")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  command->add_option("--request-timeout", options->server.request_timeout_seconds,
                      "seconds a request (line, headers and body) may take to arrive from its first byte; slower clients "
                      "are disconnected")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  command->add_option("--max-connections-per-address", options->server.max_connections_per_address,
                      "connections one client address may hold at once (more get 429); default: half of --threads")
      ->check(CLI::Range(1u, 100000u));
  command->add_option("--trusted-proxy", options->trusted_proxies,
                      "CIDR (or address) of a reverse proxy of ours: from such a peer the audit log records the client "
                      "named in Forwarded / X-Forwarded-For instead of the peer; repeatable");
  command->add_flag("--audit-fsync", options->audit_fsync, "fdatasync the audit log after every line (slower, survives power loss)");
  command->callback([options] { run_serve(*options); });
}

}  // namespace tracemark::cli
