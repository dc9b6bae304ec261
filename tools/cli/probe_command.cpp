// tracemark probe: ask an OpenAI-compatible endpoint every prompt of a set and keep its answers as
// records `tracemark scan --suspect` reads (serving/include/tracemark/serving/openai_prober.hpp).
#include <cstdlib>
#include <iostream>
#include <memory>
#include <unistd.h>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/serving/openai_prober.hpp"
#include "tracemark/error.hpp"

namespace tracemark::cli {
namespace {

struct ProbeCommandOptions {
  serving::ProbeOptions probe;
  std::string api_key_env = "OPENAI_API_KEY";
  bool completions = false;
  bool chat = false;
  bool no_progress = false;
  std::int64_t seed = 0;
  double temperature = 1.0;
};

void run_probe_command(ProbeCommandOptions options, bool seed_given, bool temperature_given) {
  if (options.chat && options.completions) {
    throw Error(ErrorCode::invalid_argument, "give --chat or --completions, not both");
  }
  options.probe.chat = !options.completions;
  if (seed_given) options.probe.seed = options.seed;
  if (temperature_given) options.probe.temperature = options.temperature;
  // The key comes only from the environment: a command line is visible to every user of the
  // machine (ps) and lands in shell histories.
  const char* key = std::getenv(options.api_key_env.c_str());
  if (key == nullptr || *key == '\0') {
    throw Error(ErrorCode::invalid_argument, "the environment variable " + options.api_key_env +
                                                 " holds no API key; export it (or name another variable with --api-key-env)");
  }
  options.probe.progress = !options.no_progress && ::isatty(STDERR_FILENO) == 1;
  const serving::ProbeSummary summary = serving::run_probe(options.probe, key, std::cerr);
  std::cout << "probe: " << summary.prompts << " prompts; " << summary.already_answered << " already answered in "
            << options.probe.out << ", " << summary.answered << " answered now, " << summary.failed << " failed; "
            << summary.retries << " retries" << std::endl;
  if (summary.failed > 0) {
    throw Error(ErrorCode::io, std::to_string(summary.failed) + " prompt(s) got no answer (reasons above); run the same "
                                                                 "command again to retry them: answered prompts are skipped");
  }
}

}  // namespace

void add_probe_command(CLI::App& app) {
  auto options = std::make_shared<ProbeCommandOptions>();
  CLI::App* command = app.add_subcommand("probe", "collect a model's answers to prompts from an OpenAI-compatible endpoint");
  command->add_option("--endpoint", options->probe.endpoint,
                      "base URL, for example http://127.0.0.1:8080/v1 or https://api.openai.com/v1 (no path: /v1)")
      ->required();
  command->add_option("--model", options->probe.model, "model name sent in each request")->required();
  command->add_option("--prompts", options->probe.prompts,
                      "JSON lines {\"id\", \"prompt\": text} (or {\"id\", \"messages\": [...]} with --chat)")
      ->required();
  add_out_option(*command, options->probe.out,
                 "JSON lines to append: the response object plus \"id\" and \"prompt\"; a re-run skips answered ids");
  command->add_option("--api-key-env", options->api_key_env, "environment variable holding the API key")->capture_default_str();
  command->add_option("--concurrency", options->probe.concurrency, "requests in flight at once")
      ->capture_default_str()->check(CLI::Range(1u, 256u));
  command->add_option("--rate", options->probe.rate, "at most this many requests per second (0: no limit)")
      ->capture_default_str()->check(CLI::Range(0.0, 1e6));
  command->add_option("--max-retries", options->probe.max_retries, "retries after 429, 5xx or a lost connection")
      ->capture_default_str()->check(CLI::Range(0u, 100u));
  command->add_option("--retry-base", options->probe.retry_base_seconds, "first backoff in seconds (doubles per retry, jittered)")
      ->capture_default_str()->check(CLI::Range(0.0, 600.0));
  command->add_option("--retry-max", options->probe.retry_max_seconds, "largest backoff in seconds")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  command->add_option("--timeout", options->probe.timeout_seconds, "seconds per request: for connecting, for each read and write, and for the whole response")
      ->capture_default_str()->check(CLI::Range(0.1, 3600.0));
  command->add_option("--max-tokens", options->probe.max_tokens, "max_tokens sent with each request")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  auto* temperature = command->add_option("--temperature", options->temperature, "temperature sent with each request")
                          ->check(CLI::Range(0.0, 2.0));
  auto* seed = command->add_option("--seed", options->seed, "seed sent with each request");
  // 20 is OpenAI's chat limit (its completions allow 5; vLLM's default server limit is 20).
  command->add_option("--top-logprobs", options->probe.top_logprobs,
                      "ask for the K most probable tokens at each step (chat: logprobs + top_logprobs K; completions: "
                      "logprobs K), for `reading scan`'s weighted tests")
      ->check(CLI::Range(1u, 20u));
  command->add_option("--ca-cert", options->probe.ca_cert, "PEM file of trusted CAs for HTTPS (default: the system's)");
  command->add_flag("--chat", options->chat, "ask POST /chat/completions (the default)");
  command->add_flag("--completions", options->completions, "ask POST /completions with the text prompt");
  command->add_flag("--no-progress", options->no_progress, "no progress bar even on a terminal");
  command->callback([options, seed, temperature] { run_probe_command(*options, seed->count() > 0, temperature->count() > 0); });
}

}  // namespace tracemark::cli
