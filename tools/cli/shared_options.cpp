#include "shared_options.hpp"

#include "tracemark/embed/key.hpp"
#include "tracemark/refmodel/ngram_file_format.hpp"

namespace tracemark::cli {
namespace {

// "Value N not in range MIN to MAX (WHAT)": CLI11's wording, with what the number is.
CLI::Validator in_range(std::uint64_t min, std::uint64_t max, const std::string& what) {
  return CLI::Validator(
      [min, max, what](std::string& input) {
        std::uint64_t value = 0;
        if (CLI::detail::lexical_cast(input, value) && value >= min && value <= max) return std::string();
        return "Value " + input + " not in range " + std::to_string(min) + " to " + std::to_string(max) + " (" + what + ")";
      },
      std::to_string(min) + " to " + std::to_string(max));
}

CLI::Validator vocab_size_range() { return in_range(1, kMaxVocabularySize, "the vocabulary size: number of token ids"); }

}  // namespace

CLI::Option* add_tokenizer_option(CLI::App& command, std::string& spec, const std::string& meaning) {
  return command.add_option("--tokenizer", spec,
                            meaning + ": cl100k_base, o200k_base, claude, gpt2, or a tokenizer file (tiktoken JSON or "
                                      "rank file, Hugging Face tokenizer.json, GPT-2 encoder.json)");
}

CLI::Option* add_vocab_size_option(CLI::App& command, std::uint32_t& size, const std::string& meaning) {
  return command.add_option("--vocab-size", size, meaning)->check(vocab_size_range());
}

CLI::Option* add_vocab_size_option(CLI::App& command, std::optional<std::uint32_t>& size, const std::string& meaning) {
  return command.add_option("--vocab-size", size, meaning)->check(vocab_size_range());
}

CLI::Option* add_order_option(CLI::App& command, std::uint32_t& order, const std::string& meaning) {
  return command.add_option("--order", order, meaning)
      ->capture_default_str()
      ->check(CLI::Range(ngram_format::kMinOrder, ngram_format::kMaxOrder));
}

CLI::Option* add_out_option(CLI::App& command, std::string& path, const std::string& meaning) {
  return command.add_option("--out", path, meaning)->required();
}

CLI::Option* add_force_flag(CLI::App& command, bool& force, const std::string& what_it_replaces) {
  return command.add_flag("--force", force, "replace " + what_it_replaces + " (refused without --force)");
}

CLI::Option* add_max_record_bytes_option(CLI::App& command, std::size_t& bytes, const std::string& meaning) {
  return command.add_option("--max-record-bytes", bytes,
                            meaning + ", in bytes; longer lines are refused (memory stays bounded by it)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
}

CLI::Option* add_threads_option(CLI::App& command, unsigned& threads, const std::string& meaning) {
  return command.add_option("--threads", threads, meaning)->capture_default_str()->check(CLI::Range(1u, kMaxThreads));
}

}  // namespace tracemark::cli
