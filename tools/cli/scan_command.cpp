// tracemark scan: was a suspect model trained on our watermarked responses? One pooled,
// deduplicated test per key over all of the suspect's responses, Holm-corrected across keys,
// with an optional reference-log filter, prompt-window rule and a clean control. The work is
// run_suspect_scan() (verify/suspect_scan.hpp); this file only parses options and prints.
#include <algorithm>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/scan_report.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark::cli {
namespace {

struct ScanOptions {
  std::vector<std::string> keys;
  std::string suspect;
  SuspectScanOptions scan;
  std::string input = "auto";
  double alpha = 1e-6;
  bool json = false;
};

void run_scan(ScanOptions options) {
  if (!(options.alpha > 0.0 && options.alpha < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "--alpha must be strictly between 0 and 1");
  }
  options.scan.settings.target_p = options.alpha;
  options.scan.token_source = parse_token_source(options.input);
  std::vector<WatermarkKey> keys;
  for (const std::string& path : options.keys) keys.push_back(WatermarkKey::load(path));
  const SuspectScanReport report = run_suspect_scan(keys, options.suspect, options.scan);
  if (options.json) {
    std::cout << dump_with_raw_p_values(scan_report_json(report, keys, options.alpha), 2) << "\n";
  } else {
    std::cout << scan_report_text(report, keys, options.alpha);
  }
}

}  // namespace

void add_scan_command(CLI::App& app) {
  auto options = std::make_shared<ScanOptions>();
  options->scan.threads = std::max(1u, std::thread::hardware_concurrency());
  CLI::App* command = app.add_subcommand("scan", "test whether a suspect model was trained on our watermarked responses");
  command->add_option("--key", options->keys, "key file (repeat for several keys; p-values are Holm-corrected)")->required();
  command->add_option("--suspect", options->suspect,
                      "suspect responses, JSON lines (.jsonl or .jsonl.gz): {\"tokens\": [ids]}, {\"text\": ...}, or OpenAI "
                      "chat completion / completion objects (text needs a key that names its tokenizer)")
      ->required();
  command->add_option("--prompts", options->scan.prompts_path,
                      "prompts sent, {\"id\", \"prompt\" or \"prompt_tokens\"}: tuples copied from a prompt are not scored");
  command->add_option("--reference-log", options->scan.reference_log_path,
                      "our served responses believed harvested: score only tuples whose context occurs there");
  command->add_option("--reference-top", options->scan.reference_top,
                      "with --reference-log: keep only its N most frequent contexts")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  command->add_option("--control", options->scan.control_path, "responses of a model known to be clean, scanned the same way");
  command->add_option("--tokenizer", options->scan.tokenizer_spec,
                      "where to load the keys' tokenizer from (default: the name in the key); refused unless its "
                      "vocabulary digest is the key's");
  command->add_option("--input", options->input,
                      "ids to score: auto (\"tokens\" when a record has them, else its text), tokens, or text (re-tokenize "
                      "the text, e.g. for a student whose own tokenizer differs)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "tokens", "text"}));
  command->add_option("--alpha", options->alpha, "evidence threshold for the verdict (after correction)")->capture_default_str();
  command->add_option("--threads", options->scan.threads, "worker threads (results do not depend on it)")
      ->check(CLI::Range(1u, 256u));
  command->add_flag("--json", options->json, "every figure as JSON, with the p-value curve of each key");
  command->callback([options] { run_scan(*options); });
}

}  // namespace tracemark::cli
