// A cohort of accounts (issue 15): the accounts whose exchanges make a cohort's reference log, read
// from the file `tracemark campaigns --accounts-out` writes (ACCOUNT<TAB>CLUSTER a line, '#' lines
// are comments) or from a plain list (one account a line), and the account of an audit-log line.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark {

inline constexpr std::size_t kMaxCohortFileBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxAccountBytes = 1024;

struct CohortAccounts {
  std::vector<std::string> accounts;  // sorted, distinct
  std::size_t lines = 0;              // account lines read (before choosing the cluster)
};

// Reads a cohort file. With `cluster` (the second column's value), only that cluster's lines; empty:
// every line. Throws Error(invalid_input) naming the file, line and byte offset for an account named
// twice (with the line of its first mention), an empty account, a control character, a line with
// more than two columns, a line over kMaxAccountBytes, a file over kMaxCohortFileBytes, and a file
// (or cluster) with no account at all; Error(io) when it cannot be read.
CohortAccounts read_cohort_accounts(const std::filesystem::path& path, std::string_view cluster = {});

// The "account" of an audit-log line (serve and simulate traffic record it on every exchange).
// Throws Error(invalid_input) naming the file, line and byte offset when the line has no account, or
// it is not a non-empty string: a cohort's reference log cannot place such an exchange.
std::string record_account(const JsonlReader& reader, const JsonlLine& line);

}  // namespace tracemark
