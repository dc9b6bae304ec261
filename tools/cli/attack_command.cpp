// tracemark attack: what a distiller who knows about watermarks does to a harvest before training
// a student (issue 17). Three attacks, each with a strength in a fixed range and a seed:
//   paraphrase  word-level edits (WordNet synonyms, deletion, insertion, swap) at a rate
//   mix         the harvest mixed with another teacher's responses, a share of the tokens
//   scrub       watermark stealing without the key, then rewriting the flagged tokens
// The output is a harvest file again (generate's records, other fields kept), ready for
// `tracemark distill`. With --quality-model the harvest's perplexity before and after is reported:
// part of what the attack costs the distiller (the student's perplexity is the other part).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "commands.hpp"
#include "model_vocabulary.hpp"
#include "shared_options.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/attacks/green_list_stealing.hpp"
#include "tracemark/attacks/word_paraphrase.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/distillation_mix.hpp"
#include "tracemark/refmodel/response_generator.hpp"  // response_stream_seed
#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark::cli {
namespace {

struct AttackOptions {
  std::string harvest;
  std::string out;
  double strength = 0;
  std::uint64_t seed = 1;
  std::string quality_model;
  bool json = false;
  bool force = false;
  // paraphrase
  std::string edits = "synonym,deletion,insertion,swap";
  std::string wordnet = WordnetSynonyms::kDefaultFolder;
  // mix
  std::string other;
  // scrub
  std::vector<std::string> reference;
  std::string tokenizer;
  std::optional<std::uint32_t> vocab_size;
  StealingOptions stealing;
};

struct HarvestRecord {
  JsonlRecord record;
  std::string where;  // "FILE line N"
};

std::vector<HarvestRecord> read_harvest(const std::string& path) {
  std::vector<HarvestRecord> records;
  JsonlReader reader(path);
  JsonlRecord record;
  while (reader.next(record)) {
    if (!record.value.is_object()) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": expected a response object (as `tracemark generate` writes)");
    }
    records.push_back(HarvestRecord{record, reader.where(record)});
  }
  if (records.empty()) throw Error(ErrorCode::invalid_input, path + " holds no responses");
  return records;
}

std::string record_text(const HarvestRecord& harvest, const char* attack) {
  const auto text = harvest.record.value.find("text");
  if (text == harvest.record.value.end() || !text->is_string()) {
    throw Error(ErrorCode::invalid_input, harvest.where + ": " + attack +
                                              " edits the responses' words and needs their \"text\"; this record has "
                                              "none (a harvest of raw ids can be scrubbed, not paraphrased)");
  }
  return text->get<std::string>();
}

// A record whose text changed: its ids are re-encoded with the tokenizer when there is one, else
// dropped (stale ids must not survive an edit of the text).
void set_text(nlohmann::json& value, const std::string& text, const ModelVocabulary* vocabulary) {
  value["text"] = text;
  if (vocabulary != nullptr) {
    value["tokens"] = vocabulary->encode(text);
    value["tokenizer"] = record_tokenizer_json({vocabulary->record.name, vocabulary->record.vocab_sha256});
  } else {
    value.erase("tokens");
    value.erase("tokenizer");
  }
}

// Perplexity of the records' responses under a reference model ("text" encoded with its tokenizer
// when it has one, else "tokens"). file: the harvest the records were read from (for messages).
double harvest_perplexity(const NgramModel& model, const ModelVocabulary& vocabulary,
                          const std::vector<HarvestRecord>& records, const std::string& file) {
  double nats = 0;
  std::uint64_t tokens = 0;
  JsonlReader names(file);  // for error positions only
  for (const HarvestRecord& harvest : records) {
    const std::vector<std::uint32_t> ids = record_document(names, harvest.record, vocabulary.encode, vocabulary.vocab_size);
    nats += sequence_nats(model, {}, ids);
    tokens += ids.size();
  }
  return tokens ? std::exp(nats / static_cast<double>(tokens)) : 0.0;
}

void write_harvest(const std::vector<HarvestRecord>& records, const AttackOptions& options) {
  if (same_file(options.harvest, options.out)) {
    throw Error(ErrorCode::invalid_argument, "--out " + options.out + " is the input harvest; write to another file");
  }
  AtomicOutputFile out(options.out, 0644);
  for (const HarvestRecord& harvest : records) {
    out.stream() << harvest.record.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  out.commit(options.force);
}

void report(const AttackOptions& options, const char* attack, nlohmann::ordered_json figures,
            const std::vector<HarvestRecord>& before, const std::vector<HarvestRecord>& after) {
  nlohmann::ordered_json head{{"attack", attack}, {"strength", options.strength}, {"seed", options.seed},
                              {"harvest", options.harvest}, {"out", options.out}};
  head.update(figures);
  figures = std::move(head);
  if (!options.quality_model.empty()) {
    const NgramModel model = NgramModel::load(options.quality_model);
    const ModelVocabulary vocabulary = vocabulary_of_model(model, options.quality_model);
    figures["quality_model"] = options.quality_model;
    figures["perplexity_before"] = harvest_perplexity(model, vocabulary, before, options.harvest);
    figures["perplexity_after"] = harvest_perplexity(model, vocabulary, after, options.harvest);
  }
  if (options.json) {
    std::cout << figures.dump() << "\n";
    return;
  }
  std::cout << attack << " (strength " << options.strength << ", seed " << options.seed << "): wrote " << after.size()
            << " responses to " << options.out << ";";
  for (const auto& [name, value] : figures.items()) {
    if (name == "attack" || name == "strength" || name == "seed" || name == "harvest" || name == "out") continue;
    std::cout << " " << name << " " << value.dump();
  }
  std::cout << "\n";
}

void run_paraphrase(const AttackOptions& options) {
  ParaphraseOptions paraphrase;
  paraphrase.rate = options.strength;
  paraphrase.edits = parse_word_edits(options.edits);
  paraphrase.validate();
  std::optional<ModelVocabulary> vocabulary;
  if (!options.tokenizer.empty()) vocabulary.emplace(vocabulary_for_training(options.tokenizer, std::nullopt));
  const std::vector<HarvestRecord> before = read_harvest(options.harvest);
  std::vector<std::string> pool;  // every word of the harvest: insertions follow its frequencies
  for (const HarvestRecord& harvest : before) {
    for (std::string& word : split_words(record_text(harvest, "paraphrase"))) pool.push_back(std::move(word));
  }
  WordnetSynonyms synonyms(options.wordnet);
  std::vector<HarvestRecord> after = before;
  ParaphraseCounts counts;
  for (std::size_t i = 0; i < after.size(); ++i) {
    SplitMix64 rng(response_stream_seed(options.seed, i));
    const std::string text = paraphrase_text(record_text(after[i], "paraphrase"), paraphrase, synonyms, pool, rng, counts);
    set_text(after[i].record.value, text, vocabulary ? &*vocabulary : nullptr);
  }
  write_harvest(after, options);
  report(options, "paraphrase",
         {{"words", counts.words}, {"edited", counts.edited()}, {"synonyms", counts.synonyms},
          {"deletions", counts.deletions}, {"insertions", counts.insertions}, {"swaps", counts.swaps},
          {"no_synonym", counts.no_synonym}},
         before, after);
}

// Length of a response for the mix: its ids when it has them, else its words.
std::size_t response_length(const HarvestRecord& harvest) {
  const auto tokens = harvest.record.value.find("tokens");
  if (tokens != harvest.record.value.end() && tokens->is_array()) return tokens->size();
  const auto text = harvest.record.value.find("text");
  if (text != harvest.record.value.end() && text->is_string()) return split_words(text->get<std::string>()).size();
  throw Error(ErrorCode::invalid_input, harvest.where + ": a response needs \"tokens\" or \"text\"");
}

void shuffle(std::vector<HarvestRecord>& records, SplitMix64& rng) {
  for (std::size_t i = records.size(); i > 1; --i) std::swap(records[i - 1], records[rng.next() % i]);
}

void run_mix(const AttackOptions& options) {
  if (!(options.strength >= 0.0 && options.strength < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "mix strength " + std::to_string(options.strength) +
                                                 " is out of range; give the other teacher's share of tokens in [0, 1)");
  }
  const std::vector<HarvestRecord> before = read_harvest(options.harvest);
  std::vector<HarvestRecord> other = read_harvest(options.other);
  SplitMix64 rng(response_stream_seed(options.seed, 0));
  shuffle(other, rng);  // which of the other teacher's responses are taken depends on the seed only
  std::vector<std::size_t> own_lengths, other_lengths;
  for (const auto& harvest : before) own_lengths.push_back(response_length(harvest));
  for (const auto& harvest : other) other_lengths.push_back(response_length(harvest));
  const DistillationMix mix = plan_distillation_mix(own_lengths, other_lengths, 1.0 - options.strength);
  std::vector<HarvestRecord> after(before.begin(), before.begin() + static_cast<std::ptrdiff_t>(mix.teacher_documents));
  after.insert(after.end(), other.begin(), other.begin() + static_cast<std::ptrdiff_t>(mix.clean_documents));
  shuffle(after, rng);
  write_harvest(after, options);
  const double total = static_cast<double>(mix.teacher_tokens + mix.clean_tokens);
  report(options, "mix",
         {{"other", options.other}, {"own_responses", mix.teacher_documents}, {"own_length", mix.teacher_tokens},
          {"other_responses", mix.clean_documents}, {"other_length", mix.clean_tokens},
          {"other_share", total > 0 ? static_cast<double>(mix.clean_tokens) / total : 0.0}},
         before, after);
}

void run_scrub(const AttackOptions& options) {
  const ModelVocabulary vocabulary = vocabulary_for_training(options.tokenizer, options.vocab_size);
  const std::vector<HarvestRecord> before = read_harvest(options.harvest);
  TokenDocuments harvest;
  {
    JsonlReader names(options.harvest);  // for error positions only
    for (const auto& record : before) {
      harvest.push_back(record_document(names, record.record, vocabulary.encode, vocabulary.vocab_size));
    }
  }
  const TokenDocuments reference = read_corpora(options.reference, vocabulary);
  const GreenListEstimate estimate = GreenListEstimate::estimate(harvest, reference, vocabulary.vocab_size, options.stealing);
  std::vector<HarvestRecord> after = before;
  ScrubCounts counts;
  for (std::size_t i = 0; i < after.size(); ++i) {
    SplitMix64 rng(response_stream_seed(options.seed, i));
    const std::vector<std::uint32_t> tokens = scrub_document(harvest[i], estimate, options.strength, rng, counts);
    nlohmann::json& value = after[i].record.value;
    value["tokens"] = tokens;
    if (vocabulary.decode) {
      value["text"] = vocabulary.decode(tokens);
      value["tokenizer"] = record_tokenizer_json({vocabulary.record.name, vocabulary.record.vocab_sha256});
    } else {
      value.erase("text");  // the text no longer matches the ids
    }
  }
  write_harvest(after, options);
  report(options, "scrub",
         {{"context_width", options.stealing.context_width}, {"judged_pairs", estimate.judged_pairs()},
          {"flagged_pairs", estimate.flagged_pairs()}, {"tokens", counts.tokens}, {"flagged_tokens", counts.flagged},
          {"replaced", counts.replaced}, {"deleted", counts.deleted}},
         before, after);
}

void add_common_options(CLI::App& command, AttackOptions& options, const std::string& strength_meaning,
                        double strength_max) {
  command.add_option("--harvest", options.harvest, "the teacher's responses, JSON lines as `tracemark generate` writes")
      ->required();
  add_out_option(command, options.out, "the attacked harvest to write (the same record format)");
  command.add_option("--strength", options.strength, strength_meaning)->required()->check(CLI::Range(0.0, strength_max));
  command.add_option("--seed", options.seed, "random seed; the output depends only on it")->capture_default_str();
  command.add_option("--quality-model", options.quality_model,
                     "a reference model (`tracemark train`): report the harvest's perplexity under it before and after");
  command.add_flag("--json", options.json, "the figures as one JSON object");
  add_force_flag(command, options.force, "an existing output file");
}

}  // namespace

void add_attack_command(CLI::App& app) {
  CLI::App* attack = app.add_subcommand("attack", "transform a harvest as a distiller who knows about watermarks would");
  attack->require_subcommand(1);
  add_attack_finetune_command(*attack);

  auto paraphrase = std::make_shared<AttackOptions>();
  CLI::App* command = attack->add_subcommand("paraphrase", "word-level paraphrase: synonyms, deletion, insertion, swaps");
  add_common_options(*command, *paraphrase, "the share of words edited, in [0, 1]", 1.0);
  command->add_option("--edits", paraphrase->edits, "the edits to choose from (comma-separated)")->capture_default_str();
  command->add_option("--wordnet", paraphrase->wordnet, "folder of WordNet's index.* and data.* files (Debian's wordnet-base)")
      ->capture_default_str();
  add_tokenizer_option(*command, paraphrase->tokenizer,
                       "re-encode the edited text into \"tokens\" with this tokenizer (without it, \"tokens\" are dropped)");
  command->callback([paraphrase] { run_paraphrase(*paraphrase); });

  auto mix = std::make_shared<AttackOptions>();
  command = attack->add_subcommand("mix", "mix the harvest with another teacher's responses");
  // 1 itself is refused by run_mix (nothing of the harvest would be left).
  add_common_options(*command, *mix, "the other teacher's share of the mixed tokens, in [0, 1)", 1.0);
  command->add_option("--other", mix->other, "the other teacher's responses (same format)")->required();
  command->callback([mix] { run_mix(*mix); });

  auto scrub = std::make_shared<AttackOptions>();
  command = attack->add_subcommand("scrub", "estimate the green lists from the harvest (no key) and rewrite the flagged tokens");
  add_common_options(*command, *scrub, "the probability of rewriting a flagged token, in [0, 1]", 1.0);
  command->add_option("--reference", scrub->reference,
                      "clean text to compare with (corpus files or CORPUS:SPLIT, as `tracemark train --corpus` reads)")
      ->required();
  add_tokenizer_option(*command, scrub->tokenizer, "the ids the attack works in (responses' \"text\" is encoded with it)");
  add_vocab_size_option(*command, scrub->vocab_size, "without --tokenizer: vocabulary size of the ids");
  command->add_option("--context-width", scrub->stealing.context_width, "the context width h the attacker assumes")
      ->capture_default_str()->check(CLI::Range(0, 3));
  command->add_option("--min-count", scrub->stealing.min_count, "judge a (context, token) pair seen at least this often")
      ->capture_default_str()->check(CLI::Range(1, 1'000'000));
  command->add_option("--min-ratio", scrub->stealing.min_ratio,
                      "flag a pair whose harvest frequency is at least this multiple of the reference's estimate")
      ->capture_default_str()->check(CLI::Range(1.000001, 1e6));
  command->add_option("--max-p", scrub->stealing.max_p,
                      "flag a pair only when its excess over the reference has a one-sided p-value at most this")
      ->capture_default_str()->check(CLI::Range(1e-300, 1.0));
  command->callback([scrub] { run_scrub(*scrub); });
}

}  // namespace tracemark::cli
