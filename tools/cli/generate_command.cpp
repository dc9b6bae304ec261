// tracemark generate: answer prompts with the reference model, watermarked through embed/ with
// --key, unwatermarked without. Output is identical for a seed whatever the thread count: each
// response has its own random stream derived from (seed, prompt index).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "shared_options.hpp"
#include "model_vocabulary.hpp"
#include "tracemark/attacks/inference_neutraliser.hpp"
#include "tracemark/refmodel/reference_model.hpp"
#include "tracemark/refmodel/response_generator.hpp"
#include "tracemark/refmodel/tool_call_decoder.hpp"
#include "tracemark/verify/token_byte_table.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/prompt_records.hpp"

namespace tracemark::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string prompts;
  std::string out;
  std::string key;
  GenerationOptions generation;
  std::uint64_t seed = 1;
  unsigned threads = 1;
  bool force = false;
  bool record_entropy = false;  // "entropy": per-step entropy of the distribution served
  std::size_t top_logprobs = 0;  // "top_logprobs": per step, the model's k most probable tokens
  bool syntax_aware = false;    // the processor biases free tokens only (embed/token_syntax.hpp)
  std::optional<double> keyed_fraction;  // sampling schemes: share of keyable steps keyed
  // The attack "neutralise at inference" (attacks/inference_neutraliser.hpp): off without a harvest.
  std::string neutralise_harvest;
  std::vector<std::string> neutralise_reference;
  StealingOptions neutralise_stealing;
  double neutralise_penalty = 4.0;
};

// The key-less green-list estimate the neutraliser penalises, from the harvest and clean text in
// the model's ids; null when the attack is off.
std::unique_ptr<const GreenListEstimate> neutralisation_estimate(const GenerateOptions& options,
                                                                 const ModelVocabulary& vocabulary) {
  if (options.neutralise_harvest.empty()) {
    if (!options.neutralise_reference.empty()) {
      throw Error(ErrorCode::invalid_argument, "--neutralise-reference needs --neutralise-harvest (the teacher's responses)");
    }
    return nullptr;
  }
  if (options.neutralise_reference.empty()) {
    throw Error(ErrorCode::invalid_argument, "--neutralise-harvest needs --neutralise-reference (clean text to compare with)");
  }
  options.neutralise_stealing.validate();
  if (!(options.neutralise_penalty >= 0 && options.neutralise_penalty <= 50)) {
    throw Error(ErrorCode::invalid_argument, "--neutralise-penalty " + std::to_string(options.neutralise_penalty) +
                                                 " is out of range; use 0 to 50");
  }
  return std::make_unique<const GreenListEstimate>(
      GreenListEstimate::estimate(read_corpora({options.neutralise_harvest}, vocabulary),
                                  read_corpora(options.neutralise_reference, vocabulary), vocabulary.vocab_size,
                                  options.neutralise_stealing));
}

struct ModelPrompt {
  nlohmann::json id;
  nlohmann::json as_written;  // the prompt's text or chat messages, else null
  std::vector<std::uint32_t> tokens;
  std::vector<ToolSchema> tools;  // a tool-call request ("tools"): answered by constrained decoding
};

// Reads every prompt (read_prompt_file's formats) before generating anything, so a bad line fails
// fast and leaves no output. Ids are used when they are the model's (the record names no other
// tokenizer); else the text, or a chat rendered as serve renders it.
std::vector<ModelPrompt> read_prompts(const std::string& path, const ModelVocabulary& vocabulary, const std::string& model) {
  std::vector<ModelPrompt> prompts;
  for (const Prompt& prompt : read_prompt_file(path)) {
    const std::string where = path + " line " + std::to_string(prompt.line);
    ModelPrompt out{prompt.id, prompt.text_or_messages(), {}, {}};
    const bool foreign_ids = prompt.tokenizer && vocabulary.has_tokenizer() &&
                             prompt.tokenizer->vocab_sha256 != vocabulary.record.vocab_sha256;
    if (prompt.tokens && !foreign_ids) {
      out.tokens = *prompt.tokens;
    } else if (!vocabulary.has_tokenizer()) {
      throw Error(ErrorCode::invalid_input, where + ": \"prompt\" is text, but " + model +
                                                " was trained on raw token ids; give \"prompt_tokens\": [ids] instead");
    } else if (prompt.text) {
      out.tokens = vocabulary.encode(*prompt.text);
    } else if (prompt.messages) {
      out.tokens = vocabulary.encode(render_chat_prompt(*prompt.messages));
    } else {
      throw Error(ErrorCode::invalid_input, where + ": the prompt's ids are of tokenizer " + prompt.tokenizer->name +
                                                ", not " + model + "'s, and it has no text to encode instead");
    }
    if (!prompt.tools.is_null()) {
      if (!vocabulary.has_tokenizer()) {
        throw Error(ErrorCode::invalid_input, where + ": \"tools\" needs a model trained with a tokenizer");
      }
      out.tools = parse_tool_schemas(prompt.tools, where);
    }
    for (std::size_t i = 0; i < out.tokens.size(); ++i) {
      if (out.tokens[i] >= vocabulary.vocab_size) {
        throw Error(ErrorCode::invalid_input, where + ": prompt token id " + std::to_string(out.tokens[i]) + " at position " +
                                                  std::to_string(i) + " is outside the model's vocabulary (size " +
                                                  std::to_string(vocabulary.vocab_size) + ")");
      }
    }
    prompts.push_back(std::move(out));
  }
  return prompts;
}

// The OpenAI assistant message of a tool-call answer.
nlohmann::ordered_json tool_call_message(const ToolCallResponse& response, std::size_t index) {
  nlohmann::ordered_json call;
  call["id"] = "call_" + std::to_string(index);
  call["type"] = "function";
  call["function"] = {{"name", response.function_name}, {"arguments", response.arguments}};
  nlohmann::ordered_json message;
  message["role"] = "assistant";
  message["content"] = response.preamble.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(response.preamble);
  message["tool_calls"] = nlohmann::ordered_json::array({call});
  return message;
}

// "top_logprobs": one array per generated token of {"id", "logprob"} (natural log), most probable
// first: what the OpenAI API returns as top_logprobs, with token ids instead of token strings.
nlohmann::ordered_json top_logprobs_json(const TopLogprobRecording& top) {
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const std::vector<Candidate>& step : top.steps) {
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    for (const Candidate& candidate : step) entries.push_back({{"id", candidate.id}, {"logprob", candidate.logit}});
    steps.push_back(std::move(entries));
  }
  return steps;
}

ServingScheme load_scheme(const std::string& key_path, const ReferenceModel& model,
                                                   const std::string& model_name) {
  if (key_path.empty()) return {};
  const WatermarkKey key = WatermarkKey::load(key_path);
  const SchemeParams& params = key.params();
  if (params.vocab_size != model.vocab_size()) {
    throw Error(ErrorCode::invalid_input, key_path + ": the key's vocabulary size " + std::to_string(params.vocab_size) +
                                              " differs from " + model_name + "'s " + std::to_string(model.vocab_size()) +
                                              "; make a key with `tracemark keygen --vocab-size " +
                                              std::to_string(model.vocab_size()) + "`");
  }
  if (params.tokenizer && (params.tokenizer->name != model.tokenizer().name ||
                           params.tokenizer->vocab_sha256 != model.tokenizer().vocab_sha256)) {
    throw Error(ErrorCode::invalid_input, key_path + ": the key is bound to tokenizer " + params.tokenizer->name +
                                              ", but " + model_name + " uses " +
                                              (model.tokenizer().name.empty() ? "raw token ids" : model.tokenizer().name));
  }
  return ServingScheme::for_key(key);
}

void run_generate(const GenerateOptions& options) {
  options.generation.validate();
  const ReferenceModel model = ReferenceModel::load(options.model);
  const ModelVocabulary vocabulary = vocabulary_of_model(model.tokenizer(), model.vocab_size(), options.model);
  // Worker threads each decode their own responses: a transformer's matrix products stay on one.
  if (model.transformer() && options.threads > 1) set_neural_threads(1);
  const auto scheme = load_scheme(options.key, model, options.model);
  const std::vector<ModelPrompt> prompts = read_prompts(options.prompts, vocabulary, options.model);
  const std::unique_ptr<const GreenListEstimate> neutralise = neutralisation_estimate(options, vocabulary);
  ProcessorOptions processor_options;
  std::vector<std::string> token_bytes;
  if (vocabulary.tokenizer) token_bytes = token_byte_table(*vocabulary.tokenizer, vocabulary.vocab_size);
  if (options.keyed_fraction && !scheme.gumbel_max) {
    throw Error(ErrorCode::invalid_argument, "--keyed-fraction applies to a gumbel-max --key, which chooses the tokens; "
                                             "drop it, or give a key made with `tracemark keygen --scheme gumbel-max`");
  }
  processor_options.keyed_fraction = options.keyed_fraction;
  if (options.syntax_aware) {
    if (!vocabulary.tokenizer) {
      throw Error(ErrorCode::invalid_argument, "--syntax-aware reads the tokens' bytes, but " + options.model +
                                                   " was trained on raw token ids; train it with --tokenizer");
    }
    processor_options.syntax = std::make_shared<const TokenSyntax>(token_bytes);
  }
  std::unique_ptr<ToolCallVocabulary> tool_vocabulary;
  if (std::any_of(prompts.begin(), prompts.end(), [](const ModelPrompt& p) { return !p.tools.empty(); })) {
    if (options.top_logprobs > 0) {
      throw Error(ErrorCode::invalid_argument, options.prompts + " asks for tool calls (\"tools\"), whose constrained "
                                                   "decoder records no log-probabilities; drop --top-logprobs");
    }
    if (!model.ngram()) {
      throw Error(ErrorCode::invalid_argument, options.prompts + " asks for tool calls (\"tools\"), which the constrained "
                                                   "decoder makes with an n-gram model only; " + options.model +
                                                   " is a transformer: answer tool-call prompts with an n-gram model");
    }
    tool_vocabulary = std::make_unique<ToolCallVocabulary>(token_bytes, vocabulary.encode);
  }

  std::vector<std::string> lines(prompts.size());
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  const auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    try {
      GenerationScratch scratch;  // per thread
      for (std::size_t i = next++; i < prompts.size(); i = next++) {
        SplitMix64 rng(response_stream_seed(options.seed, i));
        std::optional<WatermarkProcessor> processor;
        if (!scheme.empty()) processor.emplace(scheme, processor_options);
        std::vector<std::uint32_t> tokens;
        std::vector<float> entropy;
        TopLogprobRecording top{options.top_logprobs, {}};
        std::optional<ToolCallResponse> tool_call;
        if (!prompts[i].tools.empty()) {
          tool_call = generate_tool_call(*model.ngram(), *tool_vocabulary, prompts[i].tools, prompts[i].tokens,
                                         options.generation.sampling, ToolCallLimits{}, rng,
                                         processor ? &*processor : nullptr, scratch);
          tokens = tool_call->tokens;
          entropy = tool_call->entropy;
        } else {
          std::unique_ptr<DecodingSession> session = model.start(prompts[i].tokens, scratch);
          if (neutralise) {
            session = std::make_unique<NeutralisingSession>(std::move(session), *neutralise, options.neutralise_penalty,
                                                            prompts[i].tokens);
          }
          tokens = decode_response(*session, prompts[i].tokens, options.generation, rng,
                                   processor ? &*processor : nullptr, scratch, options.record_entropy ? &entropy : nullptr,
                                   options.top_logprobs > 0 ? &top : nullptr);
        }
        nlohmann::ordered_json record;
        // Without a tokenizer there is no text: "prompt" and "text" are left out rather than null,
        // so readers that prefer "text" over "tokens" (detect, scan) read the ids.
        record["id"] = prompts[i].id;
        if (!prompts[i].as_written.is_null()) record["prompt"] = prompts[i].as_written;
        record["prompt_tokens"] = prompts[i].tokens;
        if (vocabulary.decode) record["text"] = vocabulary.decode(tokens);
        record["tokens"] = tokens;
        // The ids name their tokenizer, so a scan with another tokenizer's key reads the text instead.
        if (vocabulary.has_tokenizer()) {
          record["tokenizer"] = record_tokenizer_json({vocabulary.record.name, vocabulary.record.vocab_sha256});
        }
        if (tool_call) record["message"] = tool_call_message(*tool_call, i);
        if (options.record_entropy) record["entropy"] = entropy;
        if (options.top_logprobs > 0) record["top_logprobs"] = top_logprobs_json(top);
        // A response may end inside a UTF-8 sequence (the token limit cuts anywhere): such bytes
        // are written as U+FFFD; "tokens" stays exact.
        lines[i] = record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      }
    } catch (...) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = prompts.size();  // stop the other workers early
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < options.threads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  AtomicOutputFile out(options.out, 0644);
  for (const std::string& line : lines) out.stream() << line << "\n";
  out.commit(options.force);
  const double tokens = static_cast<double>(prompts.size() * options.generation.max_tokens);
  std::cout << "wrote " << prompts.size() << " responses of " << options.generation.max_tokens << " tokens"
            << (tool_vocabulary ? " (tool-call answers: as long as their call)" : "") << " to "
            << options.out << (!scheme.empty() ? " (watermarked)" : " (not watermarked)") << "; " << tokens / seconds
            << " tokens/s with " << options.threads << " thread(s)\n";
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand("generate", "answer prompts with a reference model, watermarked with --key");
  command->add_option("--model", options->model, "model file from `tracemark train` or `tracemark distill` (n-gram or transformer)")->required();
  command->add_option("--prompts", options->prompts,
                      "JSON lines, each {\"id\", \"prompt\": text}, {\"id\", \"messages\": [{\"role\", \"content\"}]} or "
                      "{\"id\", \"prompt_tokens\": [ids]} (the formats probe and scan --prompts read); with \"tools\" (OpenAI "
                      "function schemas) the answer is a tool call that always matches its schema")
      ->required();
  add_out_option(*command, options->out,
                 "JSON lines to write: id, prompt, prompt_tokens, text, tokens, tokenizer (prompt, text and tokenizer "
                 "only with a tokenizer)");
  command->add_option("--key", options->key, "watermark the responses with this key (its vocabulary size must be the model's)");
  command->add_option("--max-tokens", options->generation.max_tokens, "tokens per response")
      ->capture_default_str()->check(CLI::Range(1, 1'000'000));
  command->add_option("--temperature", options->generation.sampling.temperature, "sampling temperature; 0 is greedy")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  command->add_option("--top-k", options->generation.sampling.top_k,
                      "sample among the k most probable tokens (the watermark biases those); 0: whole vocabulary")
      ->capture_default_str();
  command->add_option("--top-p", options->generation.sampling.top_p, "nucleus sampling mass, in (0, 1]")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  command->add_option("--seed", options->seed, "random seed; output depends only on it, not on --threads")->capture_default_str();
  add_threads_option(*command, options->threads, "worker threads (output does not depend on it)");
  add_force_flag(*command, options->force, "an existing output file");
  command->add_flag("--record-entropy", options->record_entropy,
                    "add \"entropy\": the entropy (nats) of each step's distribution before the watermark, as serving "
                    "records it for keys with an entropy threshold (detect and scan read it)");
  command->add_option("--top-logprobs", options->top_logprobs,
                      "add \"top_logprobs\": for each generated token, the model's K most probable tokens before "
                      "any watermark or sampling change, [{\"id\", \"logprob\"}] (what an API returns as top_logprobs; "
                      "`tracemark reading scan` reads them)")
      ->check(CLI::Range(std::size_t{1}, kMaxTopLogprobs));
  command->add_option("--keyed-fraction", options->keyed_fraction,
                      "gumbel-max keys: the share of steps chosen with the key (0, 1]; the rest are drawn from the "
                      "request's own randomness, so repeated prompts get different answers (default 1: every step)");
  command->add_flag("--syntax-aware", options->syntax_aware,
                    "bias only free tokens (identifiers, values, comments, prose), never syntax; needs a tokenizer");
  const std::string attack = "Attack: neutralise an inherited watermark at inference";
  command->add_option("--neutralise-harvest", options->neutralise_harvest,
                      "the teacher's responses the model was distilled from: with clean text they give a key-less "
                      "estimate of the green lists, whose tokens are then penalised (attacks/inference_neutraliser.hpp)")
      ->group(attack);
  command->add_option("--neutralise-reference", options->neutralise_reference,
                      "clean text in the same language (corpus files, as for `tracemark train`)")
      ->group(attack);
  command->add_option("--neutralise-width", options->neutralise_stealing.context_width,
                      "the context width h the attacker assumes, 0 to 3")
      ->capture_default_str()->group(attack);
  command->add_option("--neutralise-penalty", options->neutralise_penalty,
                      "nats subtracted from flagged tokens' logits (the attack's strength), 0 to 50")
      ->capture_default_str()->group(attack);
  command->callback([options] { run_generate(*options); });
}

}  // namespace tracemark::cli
