// The transformer model file:
//   bytes 0-7    magic "TMNEURAL"
//   8-11         format version (little-endian u32), 1
//   12-15        zero
//   16-23        metadata length M (u64);  24-31  weights length W (u64)
//   32..32+M     metadata: JSON (shape, vocabulary map, tokenizer, provenance)
//   then W bytes libtorch's archive of the weights, then the SHA-256 of everything before it.
// Everything is checked before any of it is used.
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <fstream>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "transformer_impl.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/refmodel/ngram_file_format.hpp"

namespace tracemark {
namespace {

constexpr char kMagic[8] = {'T', 'M', 'N', 'E', 'U', 'R', 'A', 'L'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = 32;
constexpr std::size_t kDigestBytes = 32;

std::array<unsigned char, kDigestBytes> sha256(std::string_view bytes) {
  std::array<unsigned char, kDigestBytes> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != kDigestBytes) {
    throw Error(ErrorCode::internal, "SHA-256 failed");
  }
  return digest;
}

void put_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
std::uint64_t get_u64(const std::string& in, std::size_t at) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
  return value;
}

nlohmann::ordered_json metadata_of(const TransformerState& impl) {
  nlohmann::ordered_json meta;
  meta["kind"] = "transformer";
  meta["shape"] = {{"layers", impl.shape.layers},
                   {"width", impl.shape.width},
                   {"heads", impl.shape.heads},
                   {"context_length", impl.shape.context_length}};
  meta["vocab_size"] = impl.vocab_size;
  meta["vocabulary"] = impl.vocabulary;
  meta["unpredictable_ids"] = impl.unpredictable;
  meta["tokenizer"] = {{"name", impl.tokenizer.name}, {"spec", impl.tokenizer.spec},
                       {"vocab_sha256", impl.tokenizer.vocab_sha256}};
  meta["provenance"] = {{"training_tokens", impl.provenance.training_tokens},
                        {"training_documents", impl.provenance.training_documents},
                        {"steps", impl.provenance.steps},
                        {"final_loss", impl.provenance.final_loss},
                        {"epochs", impl.provenance.epochs},
                        {"seed", impl.provenance.seed},
                        {"fine_tuning_steps", impl.provenance.fine_tuning_steps}};
  return meta;
}

// An unsigned integer field no larger than T holds: a float, a negative number or 1e30 is refused,
// not converted (nlohmann's get<> would wrap or truncate them).
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T unsigned_field(const nlohmann::json& value, const char* field) {
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() > std::numeric_limits<T>::max()) {
    throw FieldError(std::string("\"") + field + "\" must be an integer from 0 to " +
                     std::to_string(std::numeric_limits<T>::max()) + ", not " + value.dump());
  }
  return static_cast<T>(value.get<std::uint64_t>());
}

std::vector<std::uint32_t> id_list(const nlohmann::json& value, const char* field) {
  if (!value.is_array()) throw FieldError(std::string("\"") + field + "\" must be an array of ids");
  std::vector<std::uint32_t> ids;
  ids.reserve(value.size());
  for (const auto& id : value) ids.push_back(unsigned_field<std::uint32_t>(id, field));
  return ids;
}

// Reads the metadata's fields into impl; a missing or mistyped field is named.
void read_metadata(const nlohmann::json& meta, TransformerState& impl, const std::string& where) {
  try {
    if (meta.at("kind").get<std::string>() != "transformer") {
      throw Error(ErrorCode::invalid_input, where + ": metadata \"kind\" is not \"transformer\"");
    }
    const auto& shape = meta.at("shape");
    impl.shape.layers = unsigned_field<std::uint32_t>(shape.at("layers"), "layers");
    impl.shape.width = unsigned_field<std::uint32_t>(shape.at("width"), "width");
    impl.shape.heads = unsigned_field<std::uint32_t>(shape.at("heads"), "heads");
    impl.shape.context_length = unsigned_field<std::uint32_t>(shape.at("context_length"), "context_length");
    impl.vocab_size = unsigned_field<std::uint32_t>(meta.at("vocab_size"), "vocab_size");
    impl.vocabulary = id_list(meta.at("vocabulary"), "vocabulary");
    impl.unpredictable = id_list(meta.at("unpredictable_ids"), "unpredictable_ids");
    const auto& tokenizer = meta.at("tokenizer");
    impl.tokenizer.name = tokenizer.at("name").get<std::string>();
    impl.tokenizer.spec = tokenizer.at("spec").get<std::string>();
    impl.tokenizer.vocab_sha256 = tokenizer.at("vocab_sha256").get<std::string>();
    const auto& provenance = meta.at("provenance");
    impl.provenance.training_tokens = unsigned_field<std::uint64_t>(provenance.at("training_tokens"), "training_tokens");
    impl.provenance.training_documents =
        unsigned_field<std::uint64_t>(provenance.at("training_documents"), "training_documents");
    impl.provenance.steps = unsigned_field<std::uint32_t>(provenance.at("steps"), "steps");
    impl.provenance.final_loss = provenance.at("final_loss").get<double>();
    impl.provenance.epochs = provenance.at("epochs").get<double>();
    impl.provenance.seed = unsigned_field<std::uint64_t>(provenance.at("seed"), "seed");
    impl.provenance.fine_tuning_steps =
        unsigned_field<std::uint32_t>(provenance.at("fine_tuning_steps"), "fine_tuning_steps");
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::invalid_input, where + ": metadata field missing or of the wrong type (" + e.what() + ")");
  } catch (const FieldError& e) {
    throw Error(ErrorCode::invalid_input, where + ": metadata field of the wrong type: " + e.what());
  }
  try {
    impl.finish(where);
  } catch (const Error& e) {
    throw Error(ErrorCode::invalid_input, e.what());
  }
}

}  // namespace

void save_state(const TransformerState& state, const std::filesystem::path& path, bool overwrite) {
  const std::string metadata = metadata_of(state).dump();
  torch::serialize::OutputArchive archive;
  state.network->save(archive);
  std::ostringstream weights_stream;
  archive.save_to(weights_stream);
  const std::string weights = weights_stream.str();

  std::string bytes(kMagic, sizeof kMagic);
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((kFormatVersion >> (8 * i)) & 0xff));
  bytes.append(4, '\0');
  put_u64(bytes, metadata.size());
  put_u64(bytes, weights.size());
  bytes += metadata;
  bytes += weights;
  const auto digest = sha256(bytes);
  bytes.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  write_file_atomically(path, bytes, 0644, overwrite);
}

std::unique_ptr<TransformerState> load_state(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(ErrorCode::io, name + ": cannot open the model file");
  const std::streamoff size = in.tellg();
  std::string bytes(static_cast<std::size_t>(std::max<std::streamoff>(size, 0)), '\0');
  in.seekg(0);
  if (size < 0 || !in.read(bytes.data(), size)) throw Error(ErrorCode::io, name + ": cannot read the model file");
  if (bytes.size() >= sizeof ngram_format::kMagic &&
      std::memcmp(bytes.data(), ngram_format::kMagic, sizeof ngram_format::kMagic) == 0) {
    throw Error(ErrorCode::invalid_input, name + " is an n-gram model file, not a transformer model file");
  }
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw Error(ErrorCode::invalid_input, name + " is not a tracemark transformer model file (its first bytes are not "
                                                 "\"TMNEURAL\"); give a file written by `tracemark distill --student "
                                                 "transformer` or `tracemark train --model transformer`");
  }
  if (bytes.size() < kHeaderBytes + kDigestBytes) {
    throw Error(ErrorCode::invalid_input, name + ": truncated model file (" + std::to_string(bytes.size()) + " bytes)");
  }
  const std::uint32_t version = static_cast<std::uint32_t>(get_u64(bytes, 8) & 0xffffffffu);
  if (version != kFormatVersion) {
    throw Error(ErrorCode::unsupported, name + ": transformer model format version " + std::to_string(version) +
                                            "; this build reads version " + std::to_string(kFormatVersion));
  }
  const std::uint64_t metadata_length = get_u64(bytes, 16), weights_length = get_u64(bytes, 24);
  const std::uint64_t body = bytes.size() - kHeaderBytes - kDigestBytes;
  if (metadata_length > body || weights_length != body - metadata_length) {
    throw Error(ErrorCode::invalid_input, name + ": the section lengths in the header (" + std::to_string(metadata_length) +
                                              " + " + std::to_string(weights_length) + " bytes) do not match the file's " +
                                              std::to_string(body) + " bytes: the file is truncated or damaged");
  }
  const std::string_view checked(bytes.data(), bytes.size() - kDigestBytes);
  const auto digest = sha256(checked);
  if (std::memcmp(digest.data(), bytes.data() + checked.size(), kDigestBytes) != 0) {
    throw Error(ErrorCode::invalid_input, name + ": checksum mismatch: the model file is damaged; train it again");
  }
  auto impl = std::make_unique<TransformerState>();
  // The project's one JSON reader: its depth limit and finite numbers hold here too, although the
  // checksum already vouches for the bytes (a crafted file can carry a valid checksum).
  const nlohmann::json meta =
      parse_json(std::string_view(bytes).substr(kHeaderBytes, metadata_length), name + " metadata");
  read_metadata(meta, *impl, name);
  impl->network = neural::TransformerNetwork(impl->shape, impl->compact_size());
  std::vector<std::vector<std::int64_t>> expected;  // libtorch's load adopts the archive's shapes silently
  for (const auto& parameter : impl->network->parameters()) expected.push_back(parameter.sizes().vec());
  try {
    torch::serialize::InputArchive archive;
    std::istringstream weights(bytes.substr(kHeaderBytes + metadata_length, weights_length));
    archive.load_from(weights);
    impl->network->load(archive);
    const auto loaded = impl->network->parameters();
    for (std::size_t i = 0; i < loaded.size(); ++i) {
      if (loaded[i].sizes().vec() != expected[i]) {
        throw Error(ErrorCode::invalid_input, name + ": the weights do not fit the recorded shape (parameter " +
                                                  std::to_string(i) + " has another size)");
      }
    }
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::invalid_input, name + ": the weights do not fit the recorded shape (" +
                                              e.what_without_backtrace() + ")");
  }
  impl->network->eval();
  return impl;
}

}  // namespace tracemark
