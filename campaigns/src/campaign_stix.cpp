#include <array>
#include <openssl/evp.h>

#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/campaigns/campaign_outputs.hpp"
#include "tracemark/campaigns/line_file_writer.hpp"
#include "tracemark/error.hpp"

namespace tracemark::campaigns {
namespace {

using Json = nlohmann::ordered_json;

// The namespace of tracemark's STIX identifiers (a fixed random UUID).
constexpr std::array<unsigned char, 16> kNamespace = {0x6b, 0x1f, 0x3c, 0x52, 0x9e, 0x04, 0x4d, 0x8a,
                                                      0xb1, 0x27, 0x55, 0xc3, 0x0e, 0x9d, 0x61, 0xf2};

// RFC 9562 UUID version 5: SHA-1 of the namespace and the name, version and variant bits set.
std::string uuid_v5(const std::string& name) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok = context && EVP_DigestInit_ex(context, EVP_sha1(), nullptr) == 1 &&
                  EVP_DigestUpdate(context, kNamespace.data(), kNamespace.size()) == 1 &&
                  EVP_DigestUpdate(context, name.data(), name.size()) == 1 && EVP_DigestFinal_ex(context, digest.data(), &length) == 1;
  EVP_MD_CTX_free(context);
  if (!ok || length < 16) throw Error(ErrorCode::internal, "OpenSSL's SHA-1 failed while naming a STIX object");
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    text.push_back(kHex[digest[i] >> 4]);
    text.push_back(kHex[digest[i] & 15]);
  }
  return text;
}

// A string literal of STIX patterning: quotes and backslashes escaped (STIX 2.1 section 9.2).
std::string pattern_string(const std::string& value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

bool is_ipv6(const std::string& address) { return address.find(':') != std::string::npos; }

}  // namespace

Json campaign_stix_bundle(const CampaignReport& report, std::int64_t created_ms) {
  const std::string created = format_rfc3339_ms(created_ms);
  // Identifiers are names of what they describe, so the same findings give the same identifiers.
  std::string run = "tracemark-campaigns/" + std::to_string(report.first_ms) + "/" + std::to_string(report.last_ms) + "/";
  for (const std::string& input : report.inputs) run += input + "/";
  const auto id = [&](const std::string& type, const std::string& name) { return type + "--" + uuid_v5(run + type + "/" + name); };
  const std::string identity = id("identity", "producer");
  const auto common = [&](const std::string& type, const std::string& object_id) {
    return Json{{"type", type}, {"spec_version", "2.1"}, {"id", object_id}, {"created", created}, {"modified", created}};
  };
  Json objects = Json::array();
  Json producer = common("identity", identity);
  producer["name"] = "tracemark campaign discovery";
  producer["identity_class"] = "system";
  objects.push_back(producer);
  for (const ClusterReport& c : report.clusters) {
    const std::string set_id = id("intrusion-set", c.id);
    Json set = common("intrusion-set", set_id);
    set["created_by_ref"] = identity;
    set["name"] = "Distillation campaign " + c.id;
    std::string targets;
    for (std::size_t k = 0; k < kCapabilities; ++k) {
      if (c.capability_share[k] >= 0.05) {
        targets += std::string(targets.empty() ? "" : ", ") + capability_name(static_cast<Capability>(k)) + " " +
                   std::to_string(static_cast<int>(c.capability_share[k] * 100 + 0.5)) + "%";
      }
    }
    set["description"] = std::to_string(c.flagged_accounts) + " coordinated accounts sent " + std::to_string(c.exchanges) +
                         " requests to a language-model API (targets: " + targets +
                         "), tied by shared infrastructure, prompt templates and timing; account identifiers are not shared.";
    set["goals"] = Json::array({"harvest model outputs to distil a student model"});
    if (!c.timeline.empty()) {
      set["first_seen"] = format_rfc3339_ms(c.timeline.front().first);
      set["last_seen"] = format_rfc3339_ms(c.timeline.back().first + 3'599'999);
    }
    objects.push_back(set);
    const std::string valid_from = c.timeline.empty() ? created : format_rfc3339_ms(c.timeline.front().first);
    const auto indicator = [&](const std::string& kind, const std::string& value, const std::string& name,
                               const std::string& pattern, const std::string& description) {
      const std::string indicator_id = id("indicator", c.id + "/" + kind + "/" + value);
      Json object = common("indicator", indicator_id);
      object["created_by_ref"] = identity;
      object["name"] = name;
      object["description"] = description;
      object["indicator_types"] = Json::array({"anomalous-activity"});
      object["pattern"] = pattern;
      object["pattern_type"] = "stix";
      object["pattern_version"] = "2.1";
      object["valid_from"] = valid_from;
      objects.push_back(object);
      Json link = common("relationship", id("relationship", c.id + "/" + kind + "/" + value));
      link["created_by_ref"] = identity;
      link["relationship_type"] = "indicates";
      link["source_ref"] = indicator_id;
      link["target_ref"] = set_id;
      objects.push_back(link);
    };
    for (const SharedFeature& f : c.addresses) {
      indicator("address", f.value, "Client address shared by " + std::to_string(f.members) + " accounts of " + c.id,
                "[" + std::string(is_ipv6(f.value) ? "ipv6-addr" : "ipv4-addr") + ":value = " + pattern_string(f.value) + "]",
                "Used by " + std::to_string(f.members) + " flagged accounts of the cluster (" + std::to_string(f.population) +
                    " accounts in all); possibly a residential proxy shared with benign users.");
    }
    for (const SharedFeature& f : c.user_agents) {
      indicator("user-agent", f.value, "User agent shared by " + std::to_string(f.members) + " accounts of " + c.id,
                "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = " + pattern_string(f.value) + "]",
                "Sent by " + std::to_string(f.members) + " flagged accounts (" + std::to_string(f.population) +
                    " accounts in all); common client libraries are weak evidence on their own.");
    }
    for (const SharedFeature& f : c.templates) {
      indicator("template", f.value, "Prompt template fingerprint of " + c.id, "[artifact:hashes.'SHA-256' = " + pattern_string(f.value) + "]",
                "tracemark-template-v1 fingerprint (SHA-256 over the template's word 4-gram shingle keys; no prompt text) "
                "of a template repeated by " + std::to_string(f.members) + " flagged accounts.");
    }
  }
  return Json{{"type", "bundle"}, {"id", "bundle--" + uuid_v5(run + "bundle")}, {"objects", objects}};
}

void write_campaign_stix(const CampaignReport& report, const std::filesystem::path& destination, bool overwrite,
                         std::int64_t created_ms) {
  LineFileWriter out(destination, 0644);
  out.write_line(campaign_stix_bundle(report, created_ms).dump(2));
  out.commit(overwrite);
}

}  // namespace tracemark::campaigns
