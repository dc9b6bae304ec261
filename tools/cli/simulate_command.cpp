// tracemark simulate traffic: a realistic period of serving traffic with planted distillation
// campaigns, written in serve's audit-log format, and its ground truth (campaigns/).
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "shared_options.hpp"
#include "model_vocabulary.hpp"
#include "tracemark/campaigns/line_file_writer.hpp"
#include "tracemark/campaigns/traffic_simulator.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/key_selector.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/error.hpp"
#include "tracemark/serving/completion_service.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark::cli {
namespace {

struct SimulateOptions {
  campaigns::TrafficSimulationOptions simulation;
  std::string out;
  std::string truth;
  std::string responses = "none";
  std::string model;
  std::string key;
  std::string keyring;
  std::string key_policy;
  double scale = -1;
  bool no_shifts = false;
  bool force = false;
};

// Answers each simulated request exactly as `tracemark serve` would (the same request parsing,
// prompt rendering, generation, and key selection: one --key, or a keyring's subkey chosen by a key
// policy for the request's account, model and time).
class ServeResponder {
 public:
  ServeResponder(const std::string& model_path, std::unique_ptr<KeySelector> keys, const std::string& key_source)
      : keys_(std::move(keys)) {
    ReferenceModel model = ReferenceModel::load(model_path);
    const ModelVocabulary vocabulary = vocabulary_of_model(model.tokenizer(), model.vocab_size(), model_path);
    if (!vocabulary.has_tokenizer()) {
      throw Error(ErrorCode::invalid_input, model_path + " was trained on raw token ids; --responses model needs a model "
                                                         "trained with `tracemark train --tokenizer NAME`");
    }
    if (keys_->params().vocab_size != model.vocab_size()) {
      throw Error(ErrorCode::invalid_input, key_source + ": the key's vocabulary size differs from " + model_path + "'s");
    }
    service_ = std::make_unique<serving::CompletionService>(std::move(model), serving::ModelTextCodec{vocabulary.encode, vocabulary.decode}, 0);
  }
  campaigns::SimulatedResponse operator()(const nlohmann::ordered_json& body, std::string_view account, std::int64_t time_ms) const {
    serving::RequestLimits limits;
    limits.model_name = body["model"].get<std::string>();
    const bool chat = body.contains("messages");
    const serving::CompletionRequest request = serving::parse_completion_request(
        body.dump(), chat ? serving::Endpoint::chat_completions : serving::Endpoint::completions, limits);
    const ServingKey key = keys_->select(KeyRequest{account, limits.model_name, time_ms});
    campaigns::SimulatedResponse response;
    response.key_id = key.key_id;
    response.key_label = key.label;
    response.prompt_tokens = service_->prompt_tokens(request);
    response.tokens = service_->generate(response.prompt_tokens, request, body["seed"].get<std::uint64_t>(), key.scheme,
                                         [](std::uint32_t) { return true; });
    response.text = replace_invalid_utf8(service_->decode(response.tokens));
    return response;
  }
 private:
  std::unique_ptr<KeySelector> keys_;
  std::unique_ptr<serving::CompletionService> service_;
};

void run_simulate(SimulateOptions options) {
  for (const std::string& output : {options.out, options.truth}) {
    // A courtesy check before the work; the final move refuses an existing file in any case.
    if (!options.force && std::filesystem::exists(output)) {
      throw Error(ErrorCode::io, output + " already exists; it was left untouched (pass --force to replace it)");
    }
  }
  if (options.scale >= 0) options.simulation.scale = options.scale;
  options.simulation.operator_shifts = !options.no_shifts;
  std::unique_ptr<ServeResponder> responder;
  if (options.responses == "model") {
    if (options.model.empty() || options.key.empty() == options.keyring.empty()) {
      throw Error(ErrorCode::invalid_argument,
                  "--responses model needs --model MODEL.tmlm and either --key KEY.json or --keyring RING.json --key-policy POLICY.json");
    }
    if (options.keyring.empty() != options.key_policy.empty()) {
      throw Error(ErrorCode::invalid_argument, "--keyring and --key-policy go together");
    }
    std::unique_ptr<KeySelector> keys =
        options.keyring.empty()
            ? std::make_unique<KeySelector>(WatermarkKey::load(options.key))
            : std::make_unique<KeySelector>(Keyring::load(options.keyring), options.keyring, options.key_policy);
    responder = std::make_unique<ServeResponder>(options.model, std::move(keys), options.keyring.empty() ? options.key : options.keyring);
  } else if (!options.model.empty() || !options.key.empty() || !options.keyring.empty() || !options.key_policy.empty()) {
    throw Error(ErrorCode::invalid_argument, "--model, --key, --keyring and --key-policy are for --responses model");
  }
  campaigns::LineFileWriter audit(options.out, 0600);  // the log holds prompts, as serve's does
  campaigns::SimulatedResponder answer;
  if (responder) {
    answer = [&](const nlohmann::ordered_json& body, std::string_view account, std::int64_t time_ms) {
      return (*responder)(body, account, time_ms);
    };
  }
  const campaigns::TrafficSimulationSummary summary = campaigns::simulate_traffic(
      options.simulation, [&](std::string_view line) { audit.write_line(line); }, responder ? &answer : nullptr);
  campaigns::LineFileWriter truth(options.truth, 0644);
  truth.write_line("# account\tlabel\tkind\tdetail");
  for (const campaigns::TruthRow& row : summary.truth) {
    truth.write_line(row.account + "\t" + row.label + "\t" + row.kind + "\t" + row.detail);
  }
  audit.commit(options.force);
  truth.commit(options.force);
  std::cout << "wrote " << options.out << ": " << summary.exchanges << " exchanges (" << summary.benign_exchanges
            << " benign from " << summary.benign_accounts << " accounts";
  for (const auto& op : summary.operators) std::cout << "; " << op.name << ": " << op.exchanges << " from " << op.accounts << " accounts";
  std::cout << "; campaign scale " << summary.scale << ")\nwrote " << options.truth << ": " << summary.truth.size() << " accounts\n";
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  CLI::App* simulate = app.add_subcommand("simulate", "simulate inputs for benchmarks and tests");
  simulate->require_subcommand(1);
  auto options = std::make_shared<SimulateOptions>();
  auto& s = options->simulation;
  CLI::App* traffic = simulate->add_subcommand(
      "traffic", "a period of serving traffic with planted distillation campaigns, in serve's audit-log format");
  add_out_option(*traffic, options->out, "audit log to write (JSON lines; .gz: gzip)");
  traffic->add_option("--truth", options->truth, "ground truth to write: account, label (benign or the operator), kind, detail (TSV)")
      ->required();
  traffic->add_option("--seed", s.seed, "random seed (the output depends only on the options)")->capture_default_str();
  traffic->add_option("--exchanges", s.exchanges, "exchanges in all (benign and campaign)")->capture_default_str();
  traffic->add_option("--days", s.days, "length of the period in days (from 2026-03-02T00:00:00Z)")->capture_default_str();
  traffic->add_option("--scale", options->scale,
                      "campaign size as a multiple of the reported operators (150k, 3.4M, 13M exchanges; 24k accounts); "
                      "0: benign only; default: --campaign-share of --exchanges");
  traffic->add_option("--campaign-share", s.campaign_share, "campaigns' share of --exchanges when --scale is not given")
      ->capture_default_str();
  traffic->add_option("--templates", s.templates_per_operator, "prompt templates per operator")->capture_default_str();
  traffic->add_option("--proxy-overlap", s.proxy_overlap, "share of each proxy pool that is benign households' own addresses")
      ->capture_default_str();
  traffic->add_option("--proxy-pool-factor", s.proxy_pool_factor, "proxy pool size: 1.5 x campaign accounts x this")
      ->capture_default_str();
  traffic->add_option("--pacing-jitter", s.pacing_jitter, "coefficient of variation of campaign accounts' gaps (1: as irregular as Poisson)")
      ->capture_default_str();
  traffic->add_flag("--no-operator-shifts", options->no_shifts, "campaign accounts do not pause and resume together");
  traffic->add_option("--paraphrase-rate", s.paraphrase_rate, "probability each paraphrasable phrase of a template is reworded")
      ->capture_default_str();
  traffic->add_option("--burst-minutes", s.burst_minutes, "accounts of one creation burst are created within this many minutes")
      ->capture_default_str();
  traffic->add_option("--popular-share", s.popular_prompt_share, "share of individuals' prompts that are popular prompts strangers also send")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  traffic->add_option("--corpus", s.corpus_files, "{\"text\"} JSON lines to draw prompts from (default: the corpora cache's train splits)");
  traffic->add_option("--responses", options->responses, "none: metadata and prompts only; model: answers from --model watermarked with --key")
      ->check(CLI::IsMember({"none", "model"}))->capture_default_str();
  traffic->add_option("--model", options->model, "reference model for --responses model (from `tracemark train --tokenizer`)");
  traffic->add_option("--key", options->key, "watermark key for --responses model");
  traffic->add_option("--keyring", options->keyring,
                      "keyring for --responses model: each request is watermarked with the subkey --key-policy picks");
  traffic->add_option("--key-policy", options->key_policy,
                      "key policy (docs/METHOD.md) for --keyring; its cohorts' \"from\" times switch accounts to their keys "
                      "part-way through the period");
  add_force_flag(*traffic, options->force, "existing output files");
  traffic->callback([options] { run_simulate(*options); });
}

}  // namespace tracemark::cli
