// The reference-context filter of a scan, kept in a file (`scan --reference-filter-out FILE`) so that a
// reference log of billions of tokens is read once and later scans load only the filter
// (`scan --reference-filter FILE`): one 8-bit xor filter (context_xor_filter.hpp, about 1.23 bytes a
// context) per (context width, entropy threshold) the keys need.
//
// Layout: the line "tracemark-reference-filter 1", one line of JSON (the header: the keys' tokenizer
// and vocabulary size, the log's file name and size, and per filter its width, threshold,
// --reference-top, responses read, contexts held, seed and slot count), the filters' slots one
// after the other, then the SHA-256 of every byte before it. A file that is cut short, has bytes
// appended or was altered is refused by the length and the checksum; one made for other keys by the
// header (suspect_scan.cpp checks the tokenizer, the vocabulary and each key's width and threshold).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/context_xor_filter.hpp"

namespace tracemark {

struct ReferenceFilterSection {
  std::uint32_t context_width = 0;
  double entropy_threshold = 0;      // contexts of steps at or above it only (0: every step)
  std::uint64_t reference_top = 0;   // --reference-top used when building (0: every context)
  std::uint64_t responses = 0;       // reference-log responses read
  std::uint64_t contexts = 0;        // distinct contexts the filter holds
  std::shared_ptr<const ContextXorFilter> filter;
};

struct ReferenceFilterFile {
  std::optional<TokenizerBinding> tokenizer;  // the keys' tokenizer, when they name one
  std::uint32_t vocab_size = 0;
  std::string log_name;            // the reference log's file name (no folder), for reports
  std::uint64_t log_bytes = 0;     // its size
  std::vector<ReferenceFilterSection> sections;
};

// Writes the file atomically (temporary file and rename; an existing file is replaced). Throws
// Error(io) when it cannot.
void write_reference_filter_file(const std::filesystem::path& path, const ReferenceFilterFile& file);

// Reads and checks a file: Error(io) when it cannot be opened, Error(invalid_input) naming the file,
// the byte offset and what to do when it is not such a file, is truncated, has trailing bytes or does
// not match its checksum.
ReferenceFilterFile read_reference_filter_file(const std::filesystem::path& path);

}  // namespace tracemark
