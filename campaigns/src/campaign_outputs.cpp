#include "tracemark/campaigns/campaign_outputs.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/campaigns/line_file_writer.hpp"
#include "tracemark/error.hpp"
#include "tracemark/text_lines.hpp"
#include "tracemark/verify/binomial.hpp"

namespace tracemark::campaigns {
namespace {

using Json = nlohmann::ordered_json;

// Figures rounded for reading; the decision used the unrounded values.
double rounded(double value, int digits = 4) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

Json shared_list(const std::vector<SharedFeature>& features, const char* name) {
  Json out = Json::array();
  for (const SharedFeature& f : features) out.push_back({{name, f.value}, {"members", f.members}, {"accounts_in_log", f.population}});
  return out;
}

// all_members: every member's ties (for unflagged communities), else the flagged ones'.
Json cluster_json(const ClusterReport& c, bool all_members) {
  Json cluster;
  cluster["cluster"] = c.id;
  Json accounts = Json::array();
  for (const AccountTies& t : c.members) {
    if (t.flagged || all_members) accounts.push_back(t.account);
  }
  cluster["accounts"] = accounts;
  cluster["exchanges"] = c.exchanges;
  cluster["score"] = rounded(-c.log10_p, 3);
  cluster["p_value"] = format_p_value(c.log10_p);
  cluster["community_members"] = c.members.size();
  Json ties = Json::array();
  for (const AccountTies& t : c.members) {
    if (!t.flagged && !all_members) continue;
    Json tied_by = Json::array(), evidence;
    for (std::size_t k = 0; k < kSignalFamilies; ++k) {
      const char* name = signal_family_name(static_cast<SignalFamily>(k));
      if (t.passed[k]) tied_by.push_back(name);
      evidence[name] = rounded(t.evidence[k], 2);
    }
    ties.push_back({{"account", t.account},
                    {"exchanges", t.exchanges},
                    {"tied_by", tied_by},
                    {"evidence_nats", evidence},
                    {"shared_addresses", t.shared_addresses},
                    {"shared_user_agent", t.shared_user_agent},
                    {"shared_template_shingles", t.shared_frame_shingles},
                    {"creation_burst", t.creation_burst},
                    {"shared_pacing", t.shared_pacing}});
  }
  Json bursts = Json::array();
  for (const auto& [start, count] : c.creation_bursts) bursts.push_back({{"first_seen", format_rfc3339_ms(start)}, {"accounts", count}});
  Json links = Json::array();
  for (const ClusterLink& l : c.strongest_links) {
    links.push_back({{"accounts", {l.a, l.b}},
                     {"weight_nats", rounded(l.weight, 2)},
                     {"infrastructure", rounded(l.infrastructure, 2)},
                     {"content", rounded(l.content, 2)},
                     {"timing", rounded(l.timing, 2)}});
  }
  cluster["signals"] = {{"accounts", ties},
                        {"shared_addresses", shared_list(c.addresses, "address")},
                        {"shared_user_agents", shared_list(c.user_agents, "user_agent")},
                        {"templates", shared_list(c.templates, "fingerprint")},
                        {"creation_bursts", bursts},
                        {"strongest_links", links}};
  Json targets;
  for (std::size_t k = 0; k < kCapabilities; ++k) targets[capability_name(static_cast<Capability>(k))] = rounded(c.capability_share[k]);
  cluster["targets"] = targets;
  Json models;
  for (const auto& [model, share] : c.model_share) {
    Json hourly = Json::array();
    for (const auto& [hour, counts] : c.timeline) {
      std::uint64_t total = 0;
      for (const auto& [name, n] : counts) total += n;
      const auto it = counts.find(model);
      const std::uint64_t n = it == counts.end() ? 0 : it->second;
      hourly.push_back({{"hour", format_rfc3339_ms(hour)}, {"exchanges", n}, {"share", rounded(static_cast<double>(n) / static_cast<double>(total))}});
    }
    models[model] = {{"share", rounded(share)}, {"hourly", hourly}};
  }
  cluster["models"] = models;
  return cluster;
}

}  // namespace

Json campaign_report_json(const CampaignReport& report) {
  const DetectorOptions& o = report.options;
  Json out;
  out["clusters"] = Json::array();
  for (const ClusterReport& c : report.clusters) out["clusters"].push_back(cluster_json(c, false));
  out["flagged_accounts"] = report.flagged_accounts;
  out["summary"] = {{"inputs", report.inputs},
                    {"lines", report.lines},
                    {"skipped_lines", report.skipped_lines},
                    {"exchanges", report.exchanges},
                    {"accounts", report.accounts},
                    {"first_exchange", report.exchanges ? format_rfc3339_ms(report.first_ms) : ""},
                    {"last_exchange", report.exchanges ? format_rfc3339_ms(report.last_ms) : ""},
                    {"graph_edges", report.graph_edges},
                    {"communities", report.communities},
                    {"flagged_clusters", report.clusters.size()},
                    {"flagged_accounts", report.flagged_accounts.size()}};
  if (report.skipped_lines) out["summary"]["first_skip_reason"] = report.first_skip_reason;
  if (!report.unflagged.empty()) {
    out["unflagged_communities"] = Json::array();
    for (const ClusterReport& c : report.unflagged) out["unflagged_communities"].push_back(cluster_json(c, true));
  }
  out["calibration"] = {
      {"rule", "an account is flagged only when two families of signals (infrastructure, content, timing) each pass their "
               "threshold against the rest of its community; a community is flagged when the binomial tail of its "
               "two-family accounts, at the benign rate, is at most the cluster threshold"},
      {"feature_cap_nats", rounded(o.feature_cap)},
      {"common_share", o.common_share},
      {"thresholds_nats", {{"infrastructure", rounded(o.infrastructure_threshold * o.feature_cap, 3)},
                           {"content", rounded(o.content_threshold * o.feature_cap, 3)},
                           {"timing", rounded(o.timing_threshold * o.feature_cap, 3)}}},
      {"benign_account_rate", o.benign_account_rate},
      {"cluster_p_threshold", format_p_value(o.cluster_log10_p)},
      {"measured_on", "benign-only simulated traffic; see docs/BENCHMARKS.md (Campaign discovery)"}};
  return out;
}

std::string campaign_report_text(const CampaignReport& report) {
  std::ostringstream text;
  text << "Read " << report.lines << " lines (" << report.exchanges << " exchanges, " << report.accounts << " accounts";
  if (report.skipped_lines) text << "; " << report.skipped_lines << " malformed lines skipped, the first: " << report.first_skip_reason;
  text << ").\nAccount graph: " << report.graph_edges << " links, " << report.communities << " communities of two or more.\n";
  if (report.clusters.empty()) {
    text << "No cluster is flagged: no community has more accounts tied to it by two independent families of signals "
            "than benign traffic would show.\n";
    return text.str();
  }
  text << report.clusters.size() << " cluster(s) flagged, " << report.flagged_accounts.size() << " account(s):\n";
  for (const ClusterReport& c : report.clusters) {
    text << "  " << c.id << ": " << c.flagged_accounts << " accounts (of a community of " << c.members.size() << "), "
         << c.exchanges << " exchanges, p = " << format_p_value(c.log10_p) << "; targets";
    for (std::size_t k = 0; k < kCapabilities; ++k) {
      if (c.capability_share[k] >= 0.05) {
        text << " " << capability_name(static_cast<Capability>(k)) << " " << static_cast<int>(std::round(100 * c.capability_share[k])) << "%";
      }
    }
    std::size_t tied[kSignalFamilies] = {0, 0, 0};
    for (const AccountTies& t : c.members) {
      for (std::size_t k = 0; k < kSignalFamilies; ++k) tied[k] += t.flagged && t.passed[k];
    }
    text << "; tied by infrastructure " << tied[0] << ", content " << tied[1] << ", timing " << tied[2] << "; "
         << c.addresses.size() << "+ shared addresses, " << c.templates.size() << " template(s)\n";
  }
  return text.str();
}

void write_flagged_accounts(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const ClusterReport& c : report.clusters) {
    for (const AccountTies& t : c.members) {
      if (t.flagged) rows.emplace_back(t.account, c.id);
    }
  }
  std::sort(rows.begin(), rows.end());
  LineFileWriter out(destination, 0644);
  out.write_line("# account\tcluster (tracemark campaigns; one flagged account a line)");
  for (const auto& [account, cluster] : rows) out.write_line(account + "\t" + cluster);
  out.commit(overwrite);
}

void write_member_evidence(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite) {
  LineFileWriter out(destination, 0644);
  out.write_line("# account\tcommunity\tcommunity_size\tinfrastructure\tcontent\ttiming\tpassed");
  char figures[96];
  for (const MemberEvidenceRow& row : report.member_evidence) {
    std::snprintf(figures, sizeof figures, "%.3f\t%.3f\t%.3f", row.evidence[0], row.evidence[1], row.evidence[2]);
    std::string passed;
    for (std::size_t k = 0; k < kSignalFamilies; ++k) {
      if (row.passed[k]) passed += std::string(passed.empty() ? "" : ",") + signal_family_name(static_cast<SignalFamily>(k));
    }
    out.write_line(row.account + "\t" + std::to_string(row.community) + "\t" + std::to_string(row.community_size) + "\t" + figures +
                   "\t" + (passed.empty() ? "-" : passed));
  }
  out.commit(overwrite);
}

namespace {

// An output made by reading the logs a second time needs them as files; `what` names it.
void require_log_files(const CampaignReport& report, const std::string& what) {
  if (std::find(report.inputs.begin(), report.inputs.end(), "-") != report.inputs.end()) {
    throw Error(ErrorCode::invalid_argument, what + " is read from the logs a second time: they must be files, not standard input");
  }
}

// Calls visit(record, line, file) for every exchange of a flagged account, reading the logs again
// in order (require_log_files first).
template <typename Visit>
void for_each_flagged_exchange(const CampaignReport& report, Visit&& visit) {
  std::unordered_map<std::string, bool> flagged;
  for (const std::string& account : report.flagged_accounts) flagged.emplace(account, true);
  AuditRecord record;
  for (const std::string& input : report.inputs) {
    AuditLogReader reader(input, report.options.skip_bad_lines);
    while (reader.next(record)) {
      if (flagged.contains(record.account)) visit(record, reader.line(), input);
    }
  }
}

}  // namespace

ReferenceLogCounts write_reference_log(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite) {
  require_log_files(report, "the reference log");
  LineFileWriter out(destination, 0600);  // it holds prompts and responses, as the audit log does
  ReferenceLogCounts counts;
  for_each_flagged_exchange(report, [&](const AuditRecord& record, const JsonlLine& line, const std::string&) {
    out.write_line(line.text);
    ++counts.lines;
    counts.with_response += record.has_response;
  });
  out.commit(overwrite);
  return counts;
}

namespace {

enum class PromptShape { text, chat, token_ids, other };

// What a logged "prompt" is: text, chat messages (objects), token ids (numbers), or none of these
// (an empty array, a mixture, another type), which no probe can send.
PromptShape prompt_shape(const Json& prompt) {
  if (prompt.is_string()) return PromptShape::text;
  if (!prompt.is_array() || prompt.empty()) return PromptShape::other;
  const auto all = [&](auto is) { return std::all_of(prompt.begin(), prompt.end(), is); };
  if (all([](const Json& item) { return item.is_object(); })) return PromptShape::chat;
  if (all([](const Json& item) { return item.is_number_unsigned(); })) return PromptShape::token_ids;
  return PromptShape::other;
}

// A logged chat prompt holds only user and system turns (nothing of ours to copy).
bool only_user_and_system_turns(const Json& messages) {
  return std::all_of(messages.begin(), messages.end(), [](const Json& message) {
    const auto role = message.is_object() ? message.find("role") : message.end();
    return role != message.end() && role->is_string() && (*role == "user" || *role == "system");
  });
}

}  // namespace

ProbePromptCounts write_probe_prompts(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite) {
  require_log_files(report, "the probe prompts");
  std::unordered_map<std::string, bool> seen;  // the prompt's JSON text
  LineFileWriter out(destination, 0600);
  ProbePromptCounts counts;
  for_each_flagged_exchange(report, [&](const AuditRecord&, const JsonlLine& text, const std::string& input) {
    // The reader has validated the line as a JSON object; the prompt is read as logged.
    const Json line = Json::parse(text.text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object()) {
      throw Error(ErrorCode::invalid_input, describe_position(input, {text.line, text.byte_offset}) +
                                                ": an audit line the prompt reader cannot parse; check the line, or leave "
                                                "--probe-prompts-out out");
    }
    const auto prompt = line.find("prompt");
    if (prompt == line.end()) return;
    const PromptShape shape = prompt_shape(*prompt);
    if (shape == PromptShape::token_ids || shape == PromptShape::other) {
      ++(shape == PromptShape::token_ids ? counts.token_ids : counts.other);
      return;
    }
    const bool chat = shape == PromptShape::chat;
    if (chat && !only_user_and_system_turns(*prompt)) {
      ++counts.quoting_ours;
      return;
    }
    if (!seen.emplace(prompt->dump(), true).second) {
      ++counts.repeated;
      return;
    }
    Json probe;
    probe["id"] = "probe-" + std::to_string(counts.written++);
    probe[chat ? "messages" : "prompt"] = *prompt;
    out.write_line(probe.dump());
  });
  out.commit(overwrite);
  return counts;
}

}  // namespace tracemark::campaigns
