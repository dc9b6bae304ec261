#include <cmath>
#include <set>
#include <sstream>

#include "campaign_report_assets.hpp"
#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/campaigns/campaign_outputs.hpp"
#include "tracemark/campaigns/line_file_writer.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/html_page.hpp"

// The page is the template campaigns/report/campaigns.html.mustache with its own styles and script
// (campaigns.css, charts.js) and the shared pieces of verify/evidence html_page.hpp; this file only
// fills in the values (the template escapes them).
namespace tracemark::campaigns {
namespace {

using Json = nlohmann::ordered_json;
using Data = kainjow::mustache::data;
constexpr std::size_t kChartedClusters = 12;   // clusters with a timeline chart
constexpr std::size_t kListedAccounts = 60;    // flagged accounts listed per cluster

Data list() { return Data(Data::type::list); }

std::string decimal(std::uint64_t n) { return std::to_string(n); }

std::string plain(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Evidence in nats, to one decimal.
std::string nats(double value) { return plain(std::round(value * 10) / 10); }

std::string percent(double share) { return std::to_string(static_cast<int>(std::round(100 * share))) + "%"; }

Data family_names(const AccountTies& t) {
  Data names = list();
  for (std::size_t k = 0; k < kSignalFamilies; ++k) {
    if (t.passed[k]) names.push_back(Data(std::string(signal_family_name(static_cast<SignalFamily>(k)))));
  }
  return names;
}

Data feature_rows(const std::vector<SharedFeature>& features) {
  Data rows = list();
  for (const SharedFeature& f : features) {
    Data row;
    row.set("value", f.value);
    row.set("members", decimal(f.members));
    row.set("population", decimal(f.population));
    rows.push_back(row);
  }
  return rows;
}

Data share_row(const std::string& name, double share) {
  Data row;
  row.set("name", name);
  row.set("share", percent(share));
  return row;
}

}  // namespace

std::string campaign_report_html(const CampaignReport& report, const std::string& chart_library, const std::string& tool_line) {
  const DetectorOptions& o = report.options;
  Json data = {{"clusters", Json::array()}};
  std::size_t charts = report.clusters.empty() ? 0 : 1;
  for (std::size_t n = 0; n < report.clusters.size(); ++n) {
    const ClusterReport& c = report.clusters[n];
    Json cluster = {{"id", c.id}, {"exchanges", c.exchanges}, {"targets", Json::object()}};
    for (std::size_t k = 0; k < kCapabilities; ++k) cluster["targets"][capability_name(static_cast<Capability>(k))] = c.capability_share[k];
    if (n < kChartedClusters && !c.timeline.empty()) {
      std::set<std::string> models;
      for (const auto& [hour, counts] : c.timeline) {
        for (const auto& [model, count] : counts) models.insert(model);
      }
      Json hours = Json::array(), series = Json::array();
      for (const auto& [hour, counts] : c.timeline) hours.push_back(format_rfc3339_ms(hour).substr(0, 13) + "h");
      for (const std::string& model : models) {
        Json counts_of_model = Json::array();
        for (const auto& [hour, counts] : c.timeline) {
          const auto it = counts.find(model);
          counts_of_model.push_back(it == counts.end() ? 0 : it->second);
        }
        series.push_back({{"model", model}, {"exchanges", counts_of_model}});
      }
      cluster["timeline"] = {{"hours", hours}, {"models", series}};
      ++charts;
    }
    data["clusters"].push_back(std::move(cluster));
  }
  data["charts_expected"] = charts;

  Data page;
  page.set("tool_line", tool_line);
  page.set("input_count", decimal(report.inputs.size()));
  page.set("lines", decimal(report.lines));
  page.set("exchanges", decimal(report.exchanges));
  page.set("accounts", decimal(report.accounts));
  if (report.exchanges) {
    Data period;
    period.set("first", format_rfc3339_ms(report.first_ms));
    period.set("last", format_rfc3339_ms(report.last_ms));
    page.set("period", period);
  }
  if (report.skipped_lines) {
    Data skipped;
    skipped.set("skipped_lines", decimal(report.skipped_lines));
    skipped.set("first_skip_reason", report.first_skip_reason);
    page.set("skipped", skipped);
  }
  page.set("graph_edges", decimal(report.graph_edges));
  page.set("communities", decimal(report.communities));
  page.set("has_clusters", !report.clusters.empty());
  page.set("cluster_count", decimal(report.clusters.size()));
  page.set("flagged_count", decimal(report.flagged_accounts.size()));
  page.set("common_share", percent(o.common_share));
  page.set("benign_account_rate", plain(o.benign_account_rate));
  page.set("cluster_p", format_p_value(o.cluster_log10_p));

  Data clusters = list();
  for (std::size_t n = 0; n < report.clusters.size(); ++n) {
    const ClusterReport& c = report.clusters[n];
    Data cluster;
    cluster.set("id", c.id);
    cluster.set("index", decimal(n));
    cluster.set("flagged_accounts", decimal(c.flagged_accounts));
    cluster.set("members", decimal(c.members.size()));
    cluster.set("exchanges", decimal(c.exchanges));
    cluster.set("p", format_p_value(c.log10_p));
    std::size_t tied[kSignalFamilies] = {0, 0, 0};
    for (const AccountTies& t : c.members) {
      for (std::size_t k = 0; k < kSignalFamilies; ++k) tied[k] += t.flagged && t.passed[k];
    }
    cluster.set("tied_infrastructure", decimal(tied[0]));
    cluster.set("tied_content", decimal(tied[1]));
    cluster.set("tied_timing", decimal(tied[2]));
    Data targets = list();
    for (std::size_t k = 0; k < kCapabilities; ++k) {
      if (c.capability_share[k] >= 0.05) targets.push_back(share_row(capability_name(static_cast<Capability>(k)), c.capability_share[k]));
    }
    cluster.set("targets", targets);
    Data models = list();
    for (const auto& [model, share] : c.model_share) models.push_back(share_row(model, share));
    cluster.set("models", models);
    cluster.set("timeline", data["clusters"][n].contains("timeline"));
    cluster.set("has_addresses", !c.addresses.empty());
    cluster.set("addresses", feature_rows(c.addresses));
    cluster.set("has_user_agents", !c.user_agents.empty());
    cluster.set("user_agents", feature_rows(c.user_agents));
    cluster.set("has_infrastructure", !c.addresses.empty() || !c.user_agents.empty());
    cluster.set("has_templates", !c.templates.empty());
    cluster.set("templates", feature_rows(c.templates));
    cluster.set("has_bursts", !c.creation_bursts.empty());
    Data bursts = list();
    for (const auto& [start, burst_accounts] : c.creation_bursts) {
      Data burst;
      burst.set("count", decimal(burst_accounts));
      burst.set("start", format_rfc3339_ms(start));
      bursts.push_back(burst);
    }
    cluster.set("creation_bursts", bursts);
    Data links = list();
    for (const ClusterLink& l : c.strongest_links) {
      Data link;
      link.set("a", l.a);
      link.set("b", l.b);
      link.set("weight", nats(l.weight));
      link.set("infrastructure", nats(l.infrastructure));
      link.set("content", nats(l.content));
      link.set("timing", nats(l.timing));
      links.push_back(link);
    }
    cluster.set("links", links);
    Data accounts = list();
    for (const AccountTies& t : c.members) {
      if (!t.flagged || accounts.list_value().size() >= kListedAccounts) continue;
      Data account;
      account.set("account", t.account);
      account.set("exchanges", decimal(t.exchanges));
      account.set("families", family_names(t));
      account.set("infrastructure", nats(t.evidence[0]));
      account.set("content", nats(t.evidence[1]));
      account.set("timing", nats(t.evidence[2]));
      account.set("details", decimal(t.shared_addresses) + " shared addresses" + (t.shared_user_agent ? ", shared user agent" : "") + ", " +
                                 decimal(t.shared_frame_shingles) + " template shingles" + (t.creation_burst ? ", creation burst" : "") +
                                 (t.shared_pacing ? ", shared pacing" : ""));
      accounts.push_back(account);
    }
    cluster.set("accounts", accounts);
    cluster.set("accounts_cut", c.flagged_accounts > kListedAccounts);
    cluster.set("listed", decimal(kListedAccounts));
    clusters.push_back(cluster);
  }
  page.set("clusters", clusters);
  return render_html_page({"the campaigns report", campaign_report_assets::kTemplate, campaign_report_assets::kStyle,
                           campaign_report_assets::kCharts},
                          std::move(page), data, chart_library);
}

void write_campaign_html(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite,
                         const std::string& tool_line) {
  const std::string html = campaign_report_html(report, pinned_chart_library(), tool_line);
  LineFileWriter out(destination, 0644);
  out.write_line(html.substr(0, html.size() - 1));  // write_line adds the final newline back
  out.commit(overwrite);
}

}  // namespace tracemark::campaigns
