// tracemark campaigns: account clusters that harvest us, found in our own audit logs (campaigns/).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/campaigns/campaign_detector.hpp"
#include "tracemark/campaigns/campaign_outputs.hpp"
#include "tracemark/error.hpp"
#include "version.hpp"

namespace tracemark::cli {
namespace {

struct CampaignsOptions {
  std::vector<std::filesystem::path> audit_logs;
  campaigns::DetectorOptions detector;
  bool json = false;
  std::string accounts_out, reference_log_out, probe_prompts_out, html_out, stix_out, evidence_out;
  bool force = false;
};

void run_campaigns(const CampaignsOptions& options) {
  const bool from_stdin = std::find(options.audit_logs.begin(), options.audit_logs.end(), "-") != options.audit_logs.end();
  for (const auto& [name, path] : {std::pair{"--reference-log-out", &options.reference_log_out},
                                    std::pair{"--probe-prompts-out", &options.probe_prompts_out}}) {
    if (from_stdin && !path->empty()) {
      throw Error(ErrorCode::invalid_argument, std::string(name) + " needs the logs as files (it reads them twice), not standard input");
    }
  }
  campaigns::DetectorOptions detector = options.detector;
  detector.keep_member_evidence = !options.evidence_out.empty();
  const campaigns::CampaignReport report = campaigns::detect_campaigns(options.audit_logs, detector);
  if (!options.evidence_out.empty()) campaigns::write_member_evidence(report, options.evidence_out, options.force);
  if (!options.accounts_out.empty()) campaigns::write_flagged_accounts(report, options.accounts_out, options.force);
  if (!options.reference_log_out.empty()) {
    const campaigns::ReferenceLogCounts written = campaigns::write_reference_log(report, options.reference_log_out, options.force);
    std::cerr << "wrote " << options.reference_log_out << ": " << written.lines << " exchanges of the flagged accounts ("
              << written.with_response << " with a response for scan --reference-log)\n";
  }
  if (!options.probe_prompts_out.empty()) {
    const campaigns::ProbePromptCounts written = campaigns::write_probe_prompts(report, options.probe_prompts_out, options.force);
    std::cerr << "wrote " << options.probe_prompts_out << ": " << written.written << " distinct prompts of the flagged accounts "
              << "for `tracemark probe --chat` (" << written.repeated << " repeats, " << written.quoting_ours
              << " chats with a turn of ours, " << written.token_ids << " token-id prompts and " << written.other
              << " of no sendable shape left out)\n";
  }
  if (!options.html_out.empty()) {
    campaigns::write_campaign_html(report, options.html_out, options.force,
                                   std::string("tracemark ") + kVersion + " (build " + kBuildId + ")");
  }
  if (!options.stix_out.empty()) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    campaigns::write_campaign_stix(report, options.stix_out, options.force, now.count());
  }
  if (options.json) {
    std::cout << campaigns::campaign_report_json(report).dump(2) << "\n";
  } else {
    std::cout << campaigns::campaign_report_text(report);
  }
}

}  // namespace

void add_campaigns_command(CLI::App& app) {
  auto options = std::make_shared<CampaignsOptions>();
  auto& d = options->detector;
  CLI::App* command = app.add_subcommand("campaigns", "find the coordinated account clusters that harvest us, in our own audit logs");
  command->add_option("--audit-log", options->audit_logs, "audit logs of `tracemark serve` (JSON lines, plain or .gz; - reads standard input)")
      ->required();
  command->add_flag("--json", options->json, "print the report as JSON");
  command->add_option("--accounts-out", options->accounts_out, "write the flagged accounts: ACCOUNT<TAB>CLUSTER a line");
  command->add_option("--reference-log-out", options->reference_log_out,
                      "write the flagged accounts' audit lines (for scan --reference-log; .gz: gzip)");
  command->add_option("--probe-prompts-out", options->probe_prompts_out,
                      "write the flagged accounts' distinct prompts as `tracemark probe --chat` records (ask a suspect the "
                      "harvest's questions; chats quoting our answers are left out)");
  command->add_option("--html-out", options->html_out, "write the report as one self-contained HTML page");
  command->add_option("--stix-out", options->stix_out, "write the flagged clusters as a STIX 2.1 bundle (no prompt text, no account names)");
  command->add_option("--evidence-out", options->evidence_out,
                      "write every community member's evidence per family (TSV; for calibrating the thresholds)");
  command->add_flag("--skip-bad-lines", d.skip_bad_lines, "skip and count malformed lines instead of stopping");
  add_threads_option(*command, d.threads, "worker threads (results do not depend on it)");
  command->add_option("--seed", d.seed, "seed of the community detection's random order")->capture_default_str();
  command->add_option("--cluster-p", d.cluster_log10_p, "log10 of the binomial tail at or below which a cluster is flagged")
      ->capture_default_str()->check(CLI::Range(-300.0, -1.0));
  command->add_option("--report-unflagged", d.report_unflagged, "also describe the N largest unflagged communities in the JSON (for analysis)");
  add_force_flag(*command, options->force, "existing output files");
  command->callback([options] { run_campaigns(*options); });
}

}  // namespace tracemark::cli
