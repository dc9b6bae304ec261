#include "tracemark/verify/suspect_scan.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/audit_log_events.hpp"
#include "tracemark/verify/cohort_accounts.hpp"
#include "tracemark/verify/parallel_for.hpp"
#include "tracemark/verify/tournament_detector.hpp"
#include "tracemark/verify/reference_filter_file.hpp"
#include "tracemark/verify/scan_partition.hpp"
#include "tracemark/sha256.hpp"
#include "tracemark/verify/token_byte_table.hpp"

namespace tracemark {
namespace {

using PromptTable = std::map<std::string, std::vector<std::uint32_t>>;

// Prompts by id (read_prompt_file's formats), as ids by the decoder's rule.
PromptTable read_prompt_table(const std::string& path, const SuspectRecordDecoder& decoder, std::size_t max_record_bytes,
                              std::uint64_t& count) {
  PromptTable prompts;
  for (const Prompt& prompt : read_prompt_file(path, max_record_bytes)) {
    ++count;
    const std::string where = path + " line " + std::to_string(prompt.line);
    std::optional<std::vector<std::uint32_t>> ids = decoder.prompt_ids(where, prompt);
    if (!ids) {
      throw Error(ErrorCode::invalid_input, where + ": the prompt has only ids of another tokenizer (or --input text "
                                                    "was asked for) and no text to read instead; add its \"prompt\" text");
    }
    prompts[prompt.id.is_string() ? prompt.id.get<std::string>() : prompt.id.dump()] = std::move(*ids);
  }
  return prompts;
}

// The prompt a response answered: the record's own, else the --prompts entry with its id, else none.
std::span<const std::uint32_t> prompt_of(const SuspectRecord& record, const PromptTable& prompts) {
  if (record.prompt) return *record.prompt;
  if (auto it = prompts.find(record.id); it != prompts.end()) return it->second;
  return {};
}

// Keeps at most `points` of the curve, spread evenly in log(tokens): for each of `points` targets
// the first point at or past it; the last point is always kept.
std::vector<ScanTracePoint> thin_trace(const std::vector<ScanTracePoint>& trace, std::size_t points) {
  if (trace.size() <= points || points < 2) return trace;
  const double first = std::log(static_cast<double>(std::max<std::uint64_t>(1, trace.front().tokens)));
  const double last = std::log(static_cast<double>(std::max<std::uint64_t>(1, trace.back().tokens)));
  std::vector<ScanTracePoint> kept;
  std::size_t i = 0, taken = trace.size();  // taken: index of the last point kept
  for (std::size_t j = 0; j < points; ++j) {
    const double target = first + (last - first) * static_cast<double>(j) / static_cast<double>(points - 1);
    while (i + 1 < trace.size() && std::log(static_cast<double>(std::max<std::uint64_t>(1, trace[i].tokens))) < target) ++i;
    if (i != taken) kept.push_back(trace[taken = i]);
  }
  if (taken != trace.size() - 1) kept.push_back(trace.back());
  return kept;
}

// The key-independent facts of a response's steps the scan uses: the protected model's entropy (with
// an entropy source) and the syntax rule's free tokens (with a syntax rule).
struct StepFacts {
  std::vector<float> entropy;
  std::vector<std::uint8_t> free;
  DistillationScan::ResponseSteps view() const { return {entropy, free}; }
};

StepFacts step_facts(std::span<const std::uint32_t> response, std::span<const std::uint32_t> prompt,
                     const StepEntropySource* source, const TokenSyntax* syntax) {
  StepFacts facts;
  if (source) facts.entropy = source->entropies(prompt, response);
  if (syntax) {
    const std::vector<bool> free = syntax->free_positions(response);
    facts.free.assign(free.begin(), free.end());
  }
  return facts;
}

// Reads `path` in batches, prepares every response on the options' threads, and calls
// on_batch(batch, refs, foreign) in input order: the prepared responses, where each came from, and
// per record read, the foreign tokenizer its ids named (if any). Returns the records read.
template <typename OnBatch>
std::uint64_t for_each_prepared_batch(const std::string& path, const DistillationScan& scan, const SuspectRecordDecoder& decoder,
                                      const PromptTable& prompts, const SuspectScanOptions& options,
                                      const StepEntropySource* source, const TokenSyntax* syntax, OnBatch&& on_batch) {
  // A batch holds at most this many records or bytes (records may be up to max_record_bytes each).
  constexpr std::size_t kBatch = 512;
  constexpr std::size_t kBatchBytes = std::size_t{64} << 20;
  JsonlReader reader(path, options.max_record_bytes);
  std::vector<JsonlLine> lines(kBatch);
  std::vector<std::vector<PreparedResponse>> prepared(kBatch);
  std::vector<std::string> ids(kBatch);
  std::vector<std::optional<TokenizerBinding>> foreign(kBatch);
  std::vector<PreparedResponse> batch;
  std::uint64_t records = 0;
  for (;;) {
    std::size_t count = 0, bytes = 0;
    while (count < kBatch && bytes < kBatchBytes && reader.next_line(lines[count])) bytes += lines[count++].text.size();
    if (count == 0) break;
    parallel_for(count, options.threads, [&](std::size_t i) {
      SuspectRecord record = decoder.decode(reader, lines[i]);
      const std::span<const std::uint32_t> prompt = prompt_of(record, prompts);
      prepared[i].clear();
      for (const auto& response : record.responses) {
        try {
          const StepFacts facts = step_facts(response, prompt, source, syntax);
          prepared[i].push_back(scan.prepare(response, prompt, facts.view()));
        } catch (const Error& e) {
          throw Error(e.code(), reader.name() + " line " + std::to_string(lines[i].line) + ": " + e.what() +
                                    "; were these ids made with the key's tokenizer? (--input text re-tokenizes the text)");
        }
      }
      ids[i] = std::move(record.id);
      foreign[i] = std::move(record.foreign_ids);
    });
    batch.clear();
    std::vector<ResponseRef> refs;
    for (std::size_t i = 0; i < count; ++i) {
      for (std::size_t c = 0; c < prepared[i].size(); ++c) {
        batch.push_back(std::move(prepared[i][c]));
        refs.push_back({lines[i].line, static_cast<std::uint32_t>(c), ids[i]});
      }
    }
    records += count;
    on_batch(batch, refs, std::span<const std::optional<TokenizerBinding>>(foreign.data(), count));
  }
  return records;
}

FileScanResult scan_file(const std::string& path, const std::vector<DistillationScan::KeyEntry>& keys,
                         const SuspectRecordDecoder& decoder, const PromptTable& prompts, const SuspectScanOptions& options,
                         const StepEntropySource* source, const TokenSyntax* syntax) {
  DistillationScan scan(keys);
  FileScanResult result;
  result.path = path;
  result.traces.resize(keys.size());
  result.tallies.resize(keys.size());
  std::vector<std::vector<ResponseTally>> tallies;
  auto on_batch = [&](const std::vector<PreparedResponse>& batch, const std::vector<ResponseRef>& refs,
                      std::span<const std::optional<TokenizerBinding>> foreign) {
    for (const auto& binding : foreign) {
      if (binding) {
        ++result.foreign_id_records;
        if (!result.foreign_tokenizer) result.foreign_tokenizer = binding;
      }
    }
    const bool keep_tallies = result.responses.size() < options.max_response_scores;
    scan.merge_batch(batch, options.threads, keep_tallies ? &tallies : nullptr);
    if (keep_tallies) {
      const std::size_t room = std::min(refs.size(), options.max_response_scores - result.responses.size());
      result.responses.insert(result.responses.end(), refs.begin(), refs.begin() + static_cast<std::ptrdiff_t>(room));
      for (std::size_t k = 0; k < keys.size(); ++k) {
        result.tallies[k].insert(result.tallies[k].end(), tallies[k].begin(), tallies[k].begin() + static_cast<std::ptrdiff_t>(room));
      }
    }
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const ScanCounts& counts = scan.counts(k);
      const KeyStatistic statistic{keys[k].kind(), keys[k].kind() == SchemeKind::tournament ? keys[k].tournament->layers() : 0};
      const double gamma = keys[k].kind() == SchemeKind::green_list ? keys[k].scheme->null_green_probability() : 0.0;
      const double log10_p = pooled_log10_p(statistic, counts, gamma);
      result.traces[k].push_back({counts.responses, counts.tokens, counts.scored, counts.green, log10_p});
    }
  };
  result.records = for_each_prepared_batch(path, scan, decoder, prompts, options, source, syntax, on_batch);
  for (auto& trace : result.traces) trace = thin_trace(trace, options.trace_points);
  result.keys = scan.results(options.settings);
  return result;
}

using FilterKey = std::pair<std::uint32_t, double>;  // (context width, entropy threshold)
using FilterMap = std::map<FilterKey, std::shared_ptr<const ReferenceContexts>>;

constexpr double kXorFilterFalsePositiveRate = 1.0 / 256.0;

// The filters of a file, one per (width, threshold) the keys need; refuses a file made for other keys.
FilterMap load_reference_filters(const std::string& path, std::span<const WatermarkKey> keys,
                                 const std::optional<TokenizerBinding>& tokenizer, std::vector<ReferenceLogSummary>& summary) {
  const ReferenceFilterFile file = read_reference_filter_file(path);
  const std::string rebuild = "; rebuild it from the reference log with these keys (--reference-log LOG "
                              "--reference-filter-out FILE)";
  auto name = [](const std::optional<TokenizerBinding>& binding) {
    return binding ? binding->name + " (vocabulary " + binding->vocab_sha256.substr(0, 12) + "...)" : std::string("no tokenizer");
  };
  if (file.tokenizer != tokenizer) {
    throw Error(ErrorCode::invalid_input, "reference filter " + path + " was built for " + name(file.tokenizer) +
                                              ", the keys use " + name(tokenizer) + rebuild);
  }
  FilterMap filters;
  for (const WatermarkKey& key : keys) {
    if (key.params().vocab_size != file.vocab_size) {
      throw Error(ErrorCode::invalid_input, "reference filter " + path + " was built for a vocabulary of " +
                                                std::to_string(file.vocab_size) + " ids, key " + key.key_id() + " has " +
                                                std::to_string(key.params().vocab_size) + rebuild);
    }
    const FilterKey filter_key{key.params().context_width, key.params().entropy_threshold};
    if (filters.contains(filter_key)) continue;
    auto section = std::find_if(file.sections.begin(), file.sections.end(), [&](const ReferenceFilterSection& s) {
      return s.context_width == filter_key.first && s.entropy_threshold == filter_key.second;
    });
    if (section == file.sections.end()) {
      std::string held;
      for (const ReferenceFilterSection& s : file.sections) {
        held += (held.empty() ? "" : ", ") + std::string("width ") + std::to_string(s.context_width) +
                (s.entropy_threshold > 0.0 ? " at entropy >= " + std::to_string(s.entropy_threshold) : "");
      }
      throw Error(ErrorCode::invalid_input, "reference filter " + path + " holds contexts of " + held + "; key " +
                                                key.key_id() + " needs width " + std::to_string(filter_key.first) +
                                                (filter_key.second > 0.0 ? " at entropy >= " + std::to_string(filter_key.second) : "") +
                                                rebuild);
    }
    filters[filter_key] = std::make_shared<const ReferenceContexts>(section->context_width, section->filter,
                                                                    section->contexts, section->responses);
    summary.push_back({section->responses, section->context_width, section->entropy_threshold, section->contexts, true,
                       kXorFilterFalsePositiveRate});
  }
  return filters;
}

// Builds the approximate filter of each exact one, writes them to `path`, and returns them: the scan
// then uses exactly what a later scan loading the file will.
FilterMap write_reference_filters(const std::string& path, const FilterMap& exact, const SuspectScanOptions& options,
                                  std::span<const WatermarkKey> keys, const std::optional<TokenizerBinding>& tokenizer,
                                  std::vector<ReferenceLogSummary>& summary) {
  ReferenceFilterFile file;
  file.tokenizer = tokenizer;
  file.vocab_size = keys.front().params().vocab_size;
  for (const WatermarkKey& key : keys) {
    if (key.params().vocab_size != file.vocab_size) {
      throw Error(ErrorCode::invalid_argument, "a reference filter file is for keys of one vocabulary size; these keys have " +
                                                   std::to_string(file.vocab_size) + " and " +
                                                   std::to_string(key.params().vocab_size) + " ids");
    }
  }
  file.log_name = std::filesystem::path(options.reference_log_path).filename().string();
  std::error_code ignored;
  const auto bytes = std::filesystem::file_size(options.reference_log_path, ignored);
  file.log_bytes = ignored ? 0 : static_cast<std::uint64_t>(bytes);
  FilterMap approximate;
  for (const auto& [filter_key, contexts] : exact) {
    const std::vector<std::uint64_t> fingerprints = contexts->fingerprints();
    auto filter = std::make_shared<const ContextXorFilter>(ContextXorFilter::build(fingerprints));
    file.sections.push_back({filter_key.first, filter_key.second, options.reference_top, contexts->responses(),
                             fingerprints.size(), filter});
    approximate[filter_key] =
        std::make_shared<const ReferenceContexts>(filter_key.first, filter, fingerprints.size(), contexts->responses());
  }
  write_reference_filter_file(path, file);
  for (ReferenceLogSummary& entry : summary) {
    entry.approximate = true;
    entry.false_positive_rate = kXorFilterFalsePositiveRate;
  }
  return approximate;
}

}  // namespace

// Everything a scan and its replays need: the keys' tokenizer, the record decoder, the keys' schemes
// with their reference-context filters, the prompts, the options, and the report's set-up figures.
struct SuspectScanner::Setup {
  std::unique_ptr<KeyTokenizer> tokenizer;
  std::unique_ptr<SuspectRecordDecoder> decoder;
  std::vector<DistillationScan::KeyEntry> entries;
  PromptTable prompts;
  SuspectScanOptions options;
  SuspectScanReport report;  // tokenizer, gammas, prompts and reference summaries; no file results
  std::unique_ptr<TokenSyntax> syntax;  // with options.syntax_aware
  // The entropy source for the suspect's steps: only when some key has a threshold.
  const StepEntropySource* step_entropy() const {
    for (const auto& entry : entries) {
      if (entry.entropy_threshold > 0.0) return options.entropy_source.get();
    }
    return nullptr;
  }
};

void refuse_entropy_threshold_without_source(const WatermarkKey& key, const std::string& what_to_give) {
  throw Error(ErrorCode::invalid_argument,
              "key " + key.key_id() + " has an entropy threshold of " + std::to_string(key.params().entropy_threshold) +
                  " nats: only steps where the protected model's entropy reaches it were watermarked, and only those "
                  "may be scored, but nothing here gives that entropy; " + what_to_give);
}

SuspectScanner::SuspectScanner(std::span<const WatermarkKey> keys, const SuspectScanOptions& options)
    : setup_(std::make_unique<Setup>()) {
  if (keys.empty()) throw Error(ErrorCode::invalid_argument, "a scan needs at least one key");
  if (!(options.settings.target_p > 0.0 && options.settings.target_p < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "the evidence threshold (alpha) must be strictly between 0 and 1");
  }
  Setup& setup = *setup_;
  SuspectScanReport& report = setup.report;
  setup.options = options;
  setup.tokenizer = std::make_unique<KeyTokenizer>(keys, options.tokenizer_spec);
  const KeyTokenizer& tokenizer = *setup.tokenizer;
  setup.decoder = std::make_unique<SuspectRecordDecoder>(tokenizer, options.token_source);
  report.tokenizer = tokenizer.binding();

  // One reference-context filter per (context width, entropy threshold), built from the log of our
  // served responses: with a threshold, only the contexts of steps whose entropy reached it (the
  // entropy the log recorded, else the entropy source's).
  FilterMap filters;
  for (const WatermarkKey& key : keys) {
    if (key.params().entropy_threshold > 0.0 && !options.entropy_source && options.reference_log_path.empty() &&
        options.reference_filter_path.empty()) {
      refuse_entropy_threshold_without_source(
          key, "give --reference-model MODEL (a reference model of the protected model, to recompute it), or "
               "--reference-log with the served responses' recorded entropy (generate or serve --record-entropy)");
    }
  }
  if ((!options.reference_cohort_path.empty() || options.only_cohort_contexts) && options.reference_log_path.empty()) {
    throw Error(ErrorCode::invalid_argument, "a cohort's reference log is the reference log restricted to the cohort's "
                                             "accounts: give --reference-log LOG with --cohort-accounts");
  }
  if (options.only_cohort_contexts && options.reference_cohort_path.empty()) {
    throw Error(ErrorCode::invalid_argument, "--only-cohort-contexts needs --cohort-accounts FILE: the cohort whose "
                                             "own contexts are kept");
  }
  if (!options.reference_filter_path.empty() && !options.reference_log_path.empty()) {
    throw Error(ErrorCode::invalid_argument, "give either a reference log or a reference filter file, not both");
  }
  if (!options.reference_filter_out.empty() && options.reference_log_path.empty()) {
    throw Error(ErrorCode::invalid_argument, "writing a reference filter file needs the reference log to build it from");
  }
  if (!options.reference_filter_path.empty()) {
    if (options.reference_top != 0) {
      throw Error(ErrorCode::invalid_argument, "--reference-top is applied when the filter file is built (it is recorded "
                                               "there); drop it when scanning with --reference-filter");
    }
    filters = load_reference_filters(options.reference_filter_path, keys, tokenizer.binding(), report.reference);
  } else if (!options.reference_log_path.empty()) {
    std::map<FilterKey, std::shared_ptr<ReferenceContexts>> building;
    for (const WatermarkKey& key : keys) {
      const FilterKey filter_key{key.params().context_width, key.params().entropy_threshold};
      building.try_emplace(filter_key, std::make_shared<ReferenceContexts>(filter_key.first));
    }
    const bool cohort = !options.reference_cohort_path.empty();
    const std::vector<std::string> accounts =
        cohort ? read_cohort_accounts(options.reference_cohort_path, options.reference_cohort_cluster).accounts
               : std::vector<std::string>();
    if (options.only_cohort_contexts && !cohort) {
      throw Error(ErrorCode::invalid_argument, "keeping only a cohort's own contexts needs the cohort's accounts");
    }
    // With only_cohort_contexts: every context of the other accounts' exchanges, at any step.
    std::map<std::uint32_t, ReferenceContexts> others;
    if (options.only_cohort_contexts) {
      for (const auto& [filter_key, filter] : building) others.try_emplace(filter_key.first, filter_key.first);
    }
    JsonlReader reader(options.reference_log_path, options.max_record_bytes);
    JsonlLine line;
    // Our own log is read with "tokens" first: they are exactly the ids we served.
    const SuspectRecordDecoder log_decoder(tokenizer, TokenSource::automatic);
    while (reader.next_line(line)) {
      if (is_audit_event_line(line.text)) continue;  // a refused request, not a served response
      if (cohort && !std::binary_search(accounts.begin(), accounts.end(),
                                        record_account(reader, line))) {
        if (options.only_cohort_contexts) {
          const SuspectRecord other = log_decoder.decode(reader, line);
          for (const auto& response : other.responses) {
            for (auto& [width, contexts] : others) contexts.add_response(response);
          }
        }
        continue;
      }
      const SuspectRecord record = log_decoder.decode(reader, line);
      for (const auto& response : record.responses) {
        std::vector<float> computed;
        for (auto& [filter_key, filter] : building) {
          const double threshold = filter_key.second;
          if (threshold <= 0.0) {
            filter->add_response(response);
            continue;
          }
          if (!record.entropy && computed.empty() && !response.empty()) {
            if (!options.entropy_source) {
              throw Error(ErrorCode::invalid_input,
                          reader.name() + " line " + std::to_string(line.line) +
                              ": this reference-log record has no \"entropy\", and a key has an entropy threshold of " +
                              std::to_string(threshold) + " nats; record entropy when serving (--record-entropy), or "
                              "give --reference-model MODEL to recompute it");
            }
            const std::span<const std::uint32_t> prompt =
                record.prompt ? std::span<const std::uint32_t>(*record.prompt) : std::span<const std::uint32_t>();
            computed = options.entropy_source->entropies(prompt, response);
          }
          filter->add_response(response, record.entropy ? std::span<const float>(*record.entropy) : computed, threshold);
        }
      }
    }
    for (auto& [filter_key, filter] : building) {
      if (filter->size() == 0) {
        throw Error(ErrorCode::invalid_input, "reference log " + options.reference_log_path +
                                                  " has no usable records (no response longer than the context width " +
                                                  std::to_string(filter_key.first) +
                                                  (filter_key.second > 0.0 ? " with a step at or above the entropy threshold" : "") +
                                                  (cohort ? " among the cohort's exchanges" : "") +
                                                  "); without it no filter can be built, and "
                                                  "the scan does not silently run unfiltered: fix the log or drop "
                                                  "--reference-log");
      }
      std::uint64_t dropped = 0;
      if (options.only_cohort_contexts) {
        dropped = filter->remove_contexts_of(others.at(filter_key.first));
        if (filter->size() == 0) {
          throw Error(ErrorCode::invalid_input, "reference log " + options.reference_log_path + ": every context of the "
                                                    "cohort's exchanges also occurs in other accounts' exchanges, so no "
                                                    "context is the cohort's alone; drop --only-cohort-contexts");
        }
      }
      filter->keep_most_frequent(options.reference_top);
      filters[filter_key] = filter;
      ReferenceLogSummary summary{filter->responses(), filter_key.first, filter_key.second, filter->size()};
      summary.cohort_accounts = accounts.size();
      summary.shared_contexts_dropped = dropped;
      report.reference.push_back(summary);
    }
    if (!options.reference_filter_out.empty()) {
      filters = write_reference_filters(options.reference_filter_out, filters, options, keys, tokenizer.binding(),
                                        report.reference);
    }
  }
  for (const WatermarkKey& key : keys) {
    const FilterKey filter_key{key.params().context_width, key.params().entropy_threshold};
    auto filter = filters.contains(filter_key) ? filters[filter_key] : nullptr;
    switch (scheme_kind(key.params().scheme)) {
      case SchemeKind::gumbel_max:
        // Gumbel-max: no green fraction (its null is Gamma(n, 1)); 0 stands in the gammas list.
        report.gammas.push_back(0.0);
        setup.entries.push_back({key.key_id(), nullptr, filter, 0.0, std::make_shared<const GumbelMaxScheme>(key)});
        continue;
      case SchemeKind::tournament:
        // Tournament: its null is Binomial(n m, 1/2) over the g-values; 0 stands in the gammas list.
        report.gammas.push_back(0.0);
        setup.entries.push_back(
            {key.key_id(), nullptr, filter, 0.0, nullptr, std::make_shared<const TournamentScheme>(key)});
        continue;
      case SchemeKind::green_list: break;
    }
    auto scheme = std::make_shared<const GreenListScheme>(key);
    report.gammas.push_back(scheme->null_green_probability());
    setup.entries.push_back({key.key_id(), scheme, filter, key.params().entropy_threshold});
  }
  if (options.syntax_aware) {
    if (!tokenizer.binding()) {
      throw Error(ErrorCode::invalid_argument, "syntax-aware scoring reads the tokens' bytes, but the keys name no "
                                               "tokenizer; use keys made with `tracemark keygen --tokenizer`");
    }
    setup.syntax = std::make_unique<TokenSyntax>(
        token_byte_table(tokenizer.get("syntax-aware scoring"), keys.front().params().vocab_size));
  }
  if (!options.prompts_path.empty()) setup.prompts = read_prompt_table(options.prompts_path, *setup.decoder, options.max_record_bytes, report.prompts);
}

SuspectScanner::~SuspectScanner() = default;

SuspectScanReport SuspectScanner::run(const std::string& suspect_path) const {
  const Setup& setup = *setup_;
  SuspectScanReport report = setup.report;
  report.suspect = scan_file(suspect_path, setup.entries, *setup.decoder, setup.prompts, setup.options,
                             setup.step_entropy(), setup.syntax.get());
  if (!setup.options.control_path.empty()) {
    report.control = scan_file(setup.options.control_path, setup.entries, *setup.decoder, setup.prompts, setup.options,
                               setup.step_entropy(), setup.syntax.get());
  }
  return report;
}

std::vector<ColouredResponse> SuspectScanner::colour(const std::string& path, std::size_t key_index,
                                                     std::span<const std::uint64_t> indices) const {
  const Setup& setup = *setup_;
  if (key_index >= setup.entries.size()) throw Error(ErrorCode::invalid_argument, "key index out of range");
  if (!std::is_sorted(indices.begin(), indices.end())) {
    throw Error(ErrorCode::invalid_argument, "response indices must be sorted ascending");
  }
  const DistillationScan scan(setup.entries);
  std::vector<ColouredResponse> out;
  if (indices.empty()) return out;
  const Tokenizer* tokenizer = setup.tokenizer->binding() ? &setup.tokenizer->get("highlighted examples") : nullptr;
  TupleSet scored;
  JsonlReader reader(path, setup.options.max_record_bytes);
  JsonlLine line;
  std::uint64_t index = 0;
  std::size_t next = 0;
  while (next < indices.size() && reader.next_line(line)) {
    SuspectRecord record = setup.decoder->decode(reader, line);
    const std::span<const std::uint32_t> prompt = prompt_of(record, setup.prompts);
    for (std::size_t c = 0; c < record.responses.size(); ++c, ++index) {
      const auto& response = record.responses[c];
      std::vector<TokenStatus> statuses;
      try {
        const StepFacts facts = step_facts(response, prompt, setup.step_entropy(), setup.syntax.get());
        statuses = scan.token_statuses(key_index, response, prompt, scored, facts.view());
      } catch (const Error& e) {
        throw Error(e.code(), reader.name() + " line " + std::to_string(line.line) + ": " + e.what());
      }
      while (next < indices.size() && indices[next] < index) ++next;
      if (next < indices.size() && indices[next] == index) {
        ColouredResponse coloured{index, {line.line, static_cast<std::uint32_t>(c), record.id}, response, std::move(statuses), {}};
        if (tokenizer) {
          for (std::uint32_t id : response) coloured.pieces.push_back(tokenizer->decode({&id, 1}));
        }
        out.push_back(std::move(coloured));
      }
    }
  }
  return out;
}

std::vector<std::string> SuspectScanner::emit_partitions(const std::string& shard_path, std::uint32_t partitions,
                                                         const std::string& prefix) const {
  const Setup& setup = *setup_;
  const DistillationScan scan(setup.entries);
  PartitionEmitter emitter(scan, partitions);
  const std::uint64_t records = for_each_prepared_batch(
      shard_path, scan, *setup.decoder, setup.prompts, setup.options, setup.step_entropy(), setup.syntax.get(),
      [&](const std::vector<PreparedResponse>& batch, const std::vector<ResponseRef>&,
          std::span<const std::optional<TokenizerBinding>>) { emitter.add_batch(batch); });
  ScanShardInfo shard;
  shard.name = std::filesystem::path(shard_path).filename().string();
  shard.sha256 = sha256_file(shard_path, shard.bytes);
  shard.records = records;
  const PartitionScanSetup scan_setup{setup.report.tokenizer, setup.report.prompts, setup.report.reference};
  std::vector<std::string> paths;
  for (ScanPartitionFile& file : emitter.files()) {
    file.shard = shard;
    file.setup = scan_setup;
    paths.push_back(prefix + "." + std::to_string(file.partition) + "-of-" + std::to_string(partitions) + ".tmpart");
    write_scan_partition_file(paths.back(), file);
  }
  return paths;
}

SuspectScanReport run_suspect_scan(std::span<const WatermarkKey> keys, const std::string& suspect_path,
                                   const SuspectScanOptions& options) {
  return SuspectScanner(keys, options).run(suspect_path);
}

std::vector<ColouredResponse> colour_scanned_responses(std::span<const WatermarkKey> keys, const std::string& path,
                                                       const SuspectScanOptions& options, std::size_t key_index,
                                                       std::span<const std::uint64_t> indices) {
  return SuspectScanner(keys, options).colour(path, key_index, indices);
}

}  // namespace tracemark
