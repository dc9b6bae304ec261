// What `tracemark campaigns` writes: the JSON report, the terminal summary, the flagged accounts
// (input for attribution) and the flagged accounts' exchanges (a reference log for `scan`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tracemark/campaigns/campaign_detector.hpp"

namespace tracemark::campaigns {

// {"clusters": [{"cluster", "accounts", "exchanges", "score", "signals", "targets", "models", ...}],
//  "flagged_accounts": [...], "summary": {...}, "calibration": {...}} (docs/DESIGN.md describes
// every field). "score" is -log10 of the cluster's binomial tail.
nlohmann::ordered_json campaign_report_json(const CampaignReport& report);

// The same findings in words, for the terminal.
std::string campaign_report_text(const CampaignReport& report);

// The report as one self-contained HTML page (the evidence report's style and Chart.js, inlined;
// a Content-Security-Policy forbids every request): the cluster list, each cluster's hourly
// timeline by model version, its shared features, strongest links and every flagged account's
// ties. `tool_line` names the program ("tracemark 0.1.0 (build ...)").
std::string campaign_report_html(const CampaignReport& report, const std::string& chart_library, const std::string& tool_line);
// Writes it atomically (mode 0644), with the pinned Chart.js. Throws Error(io) when Chart.js is
// missing from the cache (the message names corpora/fetch.sh).
void write_campaign_html(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite,
                         const std::string& tool_line);

// The flagged clusters as a STIX 2.1 bundle for sharing with other providers and authorities: an
// identity (the producer), per cluster an intrusion-set, indicators for its shared client addresses
// (ipv4-addr / ipv6-addr patterns), user agents (the http-request-ext User-Agent header) and prompt
// template fingerprints (artifact SHA-256), each related to the intrusion-set by "indicates". No
// prompt text, account identifier or secret is included. Identifiers are UUID version 5 names of
// what they describe; created and modified are `created_ms`.
nlohmann::ordered_json campaign_stix_bundle(const CampaignReport& report, std::int64_t created_ms);
void write_campaign_stix(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite,
                         std::int64_t created_ms);

// One flagged account a line: ACCOUNT<TAB>CLUSTER_ID, after one "#" header line (readers ignore
// lines starting with "#"). Sorted by account. Written atomically (mode 0644).
void write_flagged_accounts(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite);

// Every community member's evidence (DetectorOptions::keep_member_evidence), for calibration:
// account, community, community size, infrastructure, content and timing nats, and the families
// passed, tab-separated after a "#" header line.
void write_member_evidence(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite);

// The flagged accounts' audit lines, exactly as they are in the logs (so `scan --reference-log`
// reads them), in log order; .gz names are compressed. Reads the logs again. Returns the number of
// lines written, and how many of them carry a response (text or tokens).
struct ReferenceLogCounts {
  std::uint64_t lines = 0;
  std::uint64_t with_response = 0;
};
ReferenceLogCounts write_reference_log(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite);

// The flagged accounts' distinct prompts as `tracemark probe --chat` records, {"id": "probe-N",
// "prompt": text} or {"id": "probe-N", "messages": [...]}, in log order of first use: asking a
// suspect the questions the harvest answered is where a student reproduces what it learned. Only
// prompts with no text of ours are written: a chat with an "assistant" (or any other non-user,
// non-system) turn may quote our watermarked answers, which an innocent model could copy, so it is
// left out and counted; token-id prompts are left out and counted too (a chat cannot send them), as
// are prompts of no shape a probe can send (an empty array, a mixture of types, a number, an object).
// Reads the logs again; written atomically, mode 0600 (it holds prompt text, as the log does).
struct ProbePromptCounts {
  std::uint64_t written = 0;
  std::uint64_t repeated = 0;        // a prompt already written
  std::uint64_t quoting_ours = 0;    // chats with a turn that is not the user's or the system's
  std::uint64_t token_ids = 0;       // prompts sent as token ids
  std::uint64_t other = 0;           // neither text, chat messages nor token ids
};
ProbePromptCounts write_probe_prompts(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite);

}  // namespace tracemark::campaigns
