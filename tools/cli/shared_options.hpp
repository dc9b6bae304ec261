// The options several commands take, registered in one place: each has one name, one type and one
// valid range wherever it appears; a command gives only what the option means to it.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tracemark::cli {

inline constexpr unsigned kMaxThreads = 1024;

// --tokenizer SPEC: a built-in name (cl100k_base, o200k_base, claude, gpt2) or a tokenizer file.
CLI::Option* add_tokenizer_option(CLI::App& command, std::string& spec, const std::string& meaning);
// --vocab-size N, 1 to 2^31 (the range of a key's vocabulary).
CLI::Option* add_vocab_size_option(CLI::App& command, std::uint32_t& size, const std::string& meaning);
CLI::Option* add_vocab_size_option(CLI::App& command, std::optional<std::uint32_t>& size, const std::string& meaning);
// --order N, the n-gram order of a reference model, 2 to 5.
CLI::Option* add_order_option(CLI::App& command, std::uint32_t& order, const std::string& meaning);
// --out PATH, required: the file a command writes.
CLI::Option* add_out_option(CLI::App& command, std::string& path, const std::string& meaning);
// --force: replace an existing output (which is otherwise refused, never overwritten).
CLI::Option* add_force_flag(CLI::App& command, bool& force, const std::string& what_it_replaces);
// --max-record-bytes N, 1 to 2^40: the longest JSON line read; longer ones are refused (memory stays
// bounded by it). The default is the reader's (kDefaultMaxRecordBytes).
CLI::Option* add_max_record_bytes_option(CLI::App& command, std::size_t& bytes, const std::string& meaning);
// --threads N, 1 to kMaxThreads; results never depend on it.
CLI::Option* add_threads_option(CLI::App& command, unsigned& threads, const std::string& meaning);

}  // namespace tracemark::cli
