#include "tracemark/verify/reference_filter_file.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/sha256.hpp"

namespace tracemark {
namespace {

constexpr std::string_view kMagic = "tracemark-reference-filter 1\n";
constexpr std::size_t kMaxHeaderBytes = std::size_t{1} << 20;

std::string where(const std::filesystem::path& path, std::uint64_t offset) {
  return "reference filter " + path.string() + " (byte offset " + std::to_string(offset) + ")";
}

}  // namespace

void write_reference_filter_file(const std::filesystem::path& path, const ReferenceFilterFile& file) {
  nlohmann::json header = {
      {"tokenizer", file.tokenizer ? nlohmann::json{{"name", file.tokenizer->name}, {"vocab_sha256", file.tokenizer->vocab_sha256}}
                                   : nlohmann::json()},
      {"vocab_size", file.vocab_size},
      {"reference_log", {{"name", file.log_name}, {"bytes", file.log_bytes}}},
      {"filter", "xor8 (Graf and Lemire 2020): false-positive rate 1/256, no false negatives"},
      {"filters", nlohmann::json::array()}};
  for (const ReferenceFilterSection& section : file.sections) {
    header["filters"].push_back({{"context_width", section.context_width},
                                 {"entropy_threshold", section.entropy_threshold},
                                 {"reference_top", section.reference_top},
                                 {"responses", section.responses},
                                 {"contexts", section.contexts},
                                 {"seed", section.filter->seed()},
                                 {"slots", section.filter->slots().size()}});
  }
  AtomicOutputFile out(path, 0644);
  Sha256 digest;
  auto put = [&](std::string_view bytes) {
    out.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    digest.update(bytes);
  };
  put(kMagic);
  put(header.dump() + "\n");
  for (const ReferenceFilterSection& section : file.sections) {
    const std::span<const std::uint8_t> slots = section.filter->slots();
    put({reinterpret_cast<const char*>(slots.data()), slots.size()});
  }
  const Sha256Digest checksum = digest.finish();
  out.stream().write(reinterpret_cast<const char*>(checksum.data()), checksum.size());
  if (!out.stream()) throw Error(ErrorCode::io, "could not write the reference filter " + path.string());
  out.commit(/*overwrite=*/true);
}

ReferenceFilterFile read_reference_filter_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, "cannot open the reference filter " + path.string());
  std::error_code size_error;
  const std::uint64_t file_bytes = std::filesystem::file_size(path, size_error);
  if (size_error) throw Error(ErrorCode::io, "cannot read the size of the reference filter " + path.string() + ": " + size_error.message());
  Sha256 digest;
  std::uint64_t offset = 0;
  const std::string rebuild = "; rebuild it with `tracemark scan --reference-log LOG --reference-filter-out FILE`";
  std::string magic(kMagic.size(), '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  if (static_cast<std::size_t>(in.gcount()) != magic.size() || magic != kMagic) {
    throw Error(ErrorCode::invalid_input, where(path, 0) + ": not a tracemark reference filter (it must start with \"" +
                                              std::string(kMagic.substr(0, kMagic.size() - 1)) + "\")" + rebuild);
  }
  digest.update(magic);
  offset += magic.size();
  std::string header_line;
  for (char c; header_line.size() <= kMaxHeaderBytes && in.get(c);) {
    if (c == '\n') break;
    header_line.push_back(c);
  }
  if (!in || header_line.size() > kMaxHeaderBytes) {
    throw Error(ErrorCode::invalid_input, where(path, offset) + ": the header line is missing, cut short or longer than 1 MiB" + rebuild);
  }
  digest.update(header_line);
  digest.update("\n");
  ReferenceFilterFile file;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> parts;  // (seed, slots) per section
  try {
    JsonProblem problem;
    const std::optional<nlohmann::json> parsed = try_parse_json(header_line, problem);
    if (!parsed) {
      throw Error(ErrorCode::invalid_input, where(path, offset + problem.offset) + ": the header is not JSON (" +
                                                problem.reason + ")" + rebuild);
    }
    const nlohmann::json& header = *parsed;
    if (!header.at("tokenizer").is_null()) {
      file.tokenizer = TokenizerBinding{header["tokenizer"].at("name").get<std::string>(),
                                        header["tokenizer"].at("vocab_sha256").get<std::string>()};
    }
    file.vocab_size = header.at("vocab_size").get<std::uint32_t>();
    file.log_name = header.at("reference_log").at("name").get<std::string>();
    file.log_bytes = header.at("reference_log").at("bytes").get<std::uint64_t>();
    for (const nlohmann::json& entry : header.at("filters")) {
      ReferenceFilterSection section;
      section.context_width = entry.at("context_width").get<std::uint32_t>();
      section.entropy_threshold = entry.at("entropy_threshold").get<double>();
      section.reference_top = entry.at("reference_top").get<std::uint64_t>();
      section.responses = entry.at("responses").get<std::uint64_t>();
      section.contexts = entry.at("contexts").get<std::uint64_t>();
      parts.emplace_back(entry.at("seed").get<std::uint64_t>(), entry.at("slots").get<std::uint64_t>());
      file.sections.push_back(section);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::invalid_input, where(path, offset) + ": the header is not what this version writes (" +
                                              e.what() + ")" + rebuild);
  }
  offset += header_line.size() + 1;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto [seed, count] = parts[i];
    if (count == 0 || count % 3 != 0 || count > (std::uint64_t{3} << 32)) {
      throw Error(ErrorCode::invalid_input, where(path, offset) + ": filter " + std::to_string(i) + " has " +
                                                std::to_string(count) + " slots, not three equal segments" + rebuild);
    }
    // Checked before allocating: a forged header must not make us reserve gigabytes.
    if (count > file_bytes - std::min(offset, file_bytes)) {
      throw Error(ErrorCode::invalid_input, where(path, file_bytes) + ": the file is truncated: the header promises " +
                                                std::to_string(count) + " bytes for filter " + std::to_string(i) +
                                                " but only " + std::to_string(file_bytes - std::min(offset, file_bytes)) +
                                                " remain" + rebuild);
    }
    std::vector<std::uint8_t> slots(count);
    in.read(reinterpret_cast<char*>(slots.data()), static_cast<std::streamsize>(count));
    const auto got = static_cast<std::uint64_t>(in.gcount());
    if (got != count) {
      throw Error(ErrorCode::invalid_input, where(path, offset + got) + ": the file is truncated: the header promises " +
                                                std::to_string(count) + " bytes for filter " + std::to_string(i) +
                                                ", the file ends after " + std::to_string(got) + rebuild);
    }
    digest.update({reinterpret_cast<const char*>(slots.data()), slots.size()});
    offset += count;
    file.sections[i].filter = std::make_shared<const ContextXorFilter>(ContextXorFilter::from_parts(seed, std::move(slots)));
  }
  Sha256Digest stored{};
  in.read(reinterpret_cast<char*>(stored.data()), stored.size());
  if (static_cast<std::size_t>(in.gcount()) != stored.size()) {
    throw Error(ErrorCode::invalid_input, where(path, offset + static_cast<std::uint64_t>(in.gcount())) +
                                              ": the file is truncated: its 32-byte SHA-256 checksum is missing" + rebuild);
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    throw Error(ErrorCode::invalid_input, where(path, offset + stored.size()) +
                                              ": bytes after the checksum: the file was altered or concatenated" + rebuild);
  }
  if (digest.finish() != stored) {
    throw Error(ErrorCode::invalid_input, where(path, offset) +
                                              ": the SHA-256 checksum does not match the contents: the file is corrupt" + rebuild);
  }
  return file;
}

}  // namespace tracemark
