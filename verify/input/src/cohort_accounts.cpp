#include "tracemark/verify/cohort_accounts.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/text_lines.hpp"

namespace tracemark {

CohortAccounts read_cohort_accounts(const std::filesystem::path& path, std::string_view cluster) {
  const std::string name = path.string();
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > kMaxCohortFileBytes) {
    throw Error(ErrorCode::invalid_input, "cohort file " + name + " is " + std::to_string(size) + " bytes, more than the " +
                                              std::to_string(kMaxCohortFileBytes) + " a list of accounts may have");
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error(ErrorCode::io, "cohort file " + name + " cannot be read: " + std::strerror(errno));
  LineReader reader(stream, name);
  TextLine line;
  std::map<std::string, LinePosition, std::less<>> first_seen;  // account -> where it was first named
  CohortAccounts out;
  const std::string fix = "; a cohort file holds one account a line, optionally ACCOUNT<TAB>CLUSTER as `tracemark "
                          "campaigns --accounts-out` writes it";
  while (reader.next(line)) {
    std::string_view text = line.text;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty() || text.front() == '#') continue;
    if (text.size() > kMaxAccountBytes) {
      throw Error(ErrorCode::invalid_input, reader.where(line.position) + ": a line of " + std::to_string(text.size()) +
                                                " bytes, more than the " + std::to_string(kMaxAccountBytes) + " an account line may have" + fix);
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        throw Error(ErrorCode::invalid_input, reader.where(line.position, i) + ": a control character (byte " + std::to_string(c) + ")" + fix);
      }
    }
    const std::size_t tab = text.find('\t');
    const std::string_view account = text.substr(0, tab);
    const std::string_view group = tab == std::string_view::npos ? std::string_view() : text.substr(tab + 1);
    if (group.find('\t') != std::string_view::npos) {
      throw Error(ErrorCode::invalid_input, reader.where(line.position, tab + 1 + group.find('\t')) + ": more than two columns" + fix);
    }
    if (account.empty()) throw Error(ErrorCode::invalid_input, reader.where(line.position) + ": an empty account" + fix);
    ++out.lines;
    if (const auto seen = first_seen.find(account); seen != first_seen.end()) {
      throw Error(ErrorCode::invalid_input, reader.where(line.position) + ": account '" + escaped_excerpt(account, 80) +
                                                "' is named twice (first at line " + std::to_string(seen->second.line) +
                                                "); an account belongs to one cohort: remove the duplicate line");
    }
    first_seen.emplace(std::string(account), line.position);
    if (cluster.empty() || group == cluster) out.accounts.emplace_back(account);
  }
  if (out.accounts.empty()) {
    throw Error(ErrorCode::invalid_input, "cohort file " + name + (cluster.empty() ? std::string(" names no account")
                                                                               : " names no account of cluster '" +
                                                                                     escaped_excerpt(cluster, 80) + "'") +
                                              "; a cohort's reference log needs at least one account");
  }
  std::sort(out.accounts.begin(), out.accounts.end());
  return out;
}

std::string record_account(const JsonlReader& reader, const JsonlLine& line) {
  const JsonlRecord record = reader.parse_line(line);
  const nlohmann::json* account = record.value.is_object() && record.value.contains("account") ? &record.value.at("account") : nullptr;
  if (!account || !account->is_string() || account->get_ref<const std::string&>().empty()) {
    throw Error(ErrorCode::invalid_input, describe_position(reader.name(), {record.line, record.byte_offset}) + ": " +
                                              (account ? "\"account\" is not a non-empty string" : "no \"account\"") +
                                              "; a cohort's reference log keeps the exchanges of the cohort's accounts, "
                                              "so every exchange must name its account (serve's audit log does)");
  }
  return account->get<std::string>();
}

}  // namespace tracemark
