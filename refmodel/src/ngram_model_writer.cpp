#include "tracemark/refmodel/ngram_model_writer.hpp"

#include <xxhash.h>

#include <cstring>
#include <memory>
#include <string>

#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

namespace fmt = ngram_format;

std::uint64_t align8(std::uint64_t offset) { return (offset + 7) & ~std::uint64_t{7}; }

void copy_field(char* field, std::size_t size, const std::string& value, const char* what) {
  if (value.size() >= size) {
    throw Error(ErrorCode::invalid_argument, std::string(what) + " \"" + value + "\" is too long for the model file (at most " +
                                                 std::to_string(size - 1) + " bytes)");
  }
  std::memset(field, 0, size);
  std::memcpy(field, value.data(), value.size());
}

struct HashStateDeleter {
  void operator()(XXH3_state_t* state) const noexcept { XXH3_freeState(state); }
};

}  // namespace

void write_ngram_model(const NgramTables& tables, const ModelTokenizerRecord& tokenizer,
                       const std::filesystem::path& path, bool overwrite) {
  fmt::Header header{};
  std::memcpy(header.magic, fmt::kMagic, sizeof header.magic);
  header.format_version = fmt::kFormatVersion;
  header.header_bytes = sizeof(fmt::Header);
  header.order = tables.order;
  header.vocab_size = tables.vocab_size;
  header.token_count = tables.token_count;
  header.document_count = tables.document_count;
  for (std::uint32_t k = 0; k < fmt::kMaxOrder; ++k) header.discounts[k] = tables.discounts[k];
  copy_field(header.tokenizer_name, sizeof header.tokenizer_name, tokenizer.name, "tokenizer name");
  copy_field(header.tokenizer_spec, sizeof header.tokenizer_spec, tokenizer.spec, "tokenizer spec");
  if (!tokenizer.vocab_sha256.empty() && tokenizer.vocab_sha256.size() != sizeof header.vocab_sha256) {
    throw Error(ErrorCode::invalid_argument, "tokenizer vocabulary digest must be 64 hex digits");
  }
  std::memcpy(header.vocab_sha256, tokenizer.vocab_sha256.data(), tokenizer.vocab_sha256.size());

  for (std::size_t i = 0; i < tables.unpredictable_ids.size(); ++i) {
    if (tables.unpredictable_ids[i] >= tables.vocab_size || (i > 0 && tables.unpredictable_ids[i] <= tables.unpredictable_ids[i - 1]) ||
        tables.unpredictable_ids.size() >= tables.vocab_size) {
      throw Error(ErrorCode::invalid_argument, "unpredictable ids must be sorted, unique, inside the vocabulary and leave one id");
    }
  }
  std::uint64_t offset = sizeof(fmt::Header);
  for (std::uint32_t depth = 0; depth < tables.order; ++depth) {
    header.nodes[depth] = {offset, tables.nodes[depth].size()};
    offset = align8(offset + tables.nodes[depth].size() * sizeof(fmt::Node));
    header.followers[depth] = {offset, tables.followers[depth].size()};
    offset = align8(offset + tables.followers[depth].size() * sizeof(fmt::Follower));
  }
  header.unpredictable = {offset, tables.unpredictable_ids.size()};
  offset = align8(offset + tables.unpredictable_ids.size() * sizeof(std::uint32_t));
  header.file_bytes = offset;

  // The checksum pass goes over the tables in memory before the write pass, because the header
  // that holds it is written first; both passes see the same bytes.
  std::unique_ptr<XXH3_state_t, HashStateDeleter> state(XXH3_createState());
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) throw Error(ErrorCode::internal, "xxHash state allocation failed");
  const char zeros[8] = {};
  std::uint64_t position = sizeof(fmt::Header);
  auto hash_bytes = [&](const void* data, std::uint64_t size) {
    XXH3_64bits_update(state.get(), data, size);
    position += size;
  };
  auto hash_padding = [&] { hash_bytes(zeros, align8(position) - position); };
  header.checksum_xxh3 = 0;
  XXH3_64bits_update(state.get(), &header, sizeof header);
  for (std::uint32_t depth = 0; depth < tables.order; ++depth) {
    hash_bytes(tables.nodes[depth].data(), tables.nodes[depth].size() * sizeof(fmt::Node));
    hash_padding();
    hash_bytes(tables.followers[depth].data(), tables.followers[depth].size() * sizeof(fmt::Follower));
    hash_padding();
  }
  hash_bytes(tables.unpredictable_ids.data(), tables.unpredictable_ids.size() * sizeof(std::uint32_t));
  hash_padding();
  header.checksum_xxh3 = XXH3_64bits_digest(state.get());

  AtomicOutputFile out(path, 0644);
  std::ostream& stream = out.stream();
  position = sizeof(fmt::Header);
  auto write_bytes = [&](const void* data, std::uint64_t size) {
    stream.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    position += size;
  };
  auto write_padding = [&] { write_bytes(zeros, align8(position) - position); };
  stream.write(reinterpret_cast<const char*>(&header), sizeof header);
  for (std::uint32_t depth = 0; depth < tables.order; ++depth) {
    write_bytes(tables.nodes[depth].data(), tables.nodes[depth].size() * sizeof(fmt::Node));
    write_padding();
    write_bytes(tables.followers[depth].data(), tables.followers[depth].size() * sizeof(fmt::Follower));
    write_padding();
  }
  write_bytes(tables.unpredictable_ids.data(), tables.unpredictable_ids.size() * sizeof(std::uint32_t));
  write_padding();
  if (!stream) throw Error(ErrorCode::io, "writing " + path.string() + " failed; check free space");
  out.commit(overwrite);
}

}  // namespace tracemark
