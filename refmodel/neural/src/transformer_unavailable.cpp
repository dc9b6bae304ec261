// TransformerModel in a build configured with -DTRACEMARK_WITH_TORCH=OFF (the sanitizer tree, which
// leaves libtorch out: it is not built with the sanitizers): every entry point says so. The
// ordinary build always has libtorch (tools/setup.sh installs libtorch-dev).
#include "tracemark/refmodel/transformer_model.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

[[noreturn]] void unavailable() {
  throw Error(ErrorCode::unsupported, "this tracemark was built without libtorch (-DTRACEMARK_WITH_TORCH=OFF), so it "
                                      "cannot train or load transformer models; use a build configured with libtorch-dev "
                                      "installed (tools/setup.sh installs it)");
}

}  // namespace

struct TransformerModel::Impl {};

void TransformerShape::validate() const { unavailable(); }
void TransformerTraining::validate() const { unavailable(); }
TransformerModel TransformerModel::train(const TokenDocuments&, std::uint32_t, std::span<const std::uint32_t>,
                                         const ModelTokenizerRecord&, const TransformerShape&, const TransformerTraining&) {
  unavailable();
}
TransformerModel TransformerModel::load(const std::filesystem::path&) { unavailable(); }
void TransformerModel::fine_tune(const TokenDocuments&, const TransformerTraining&) { unavailable(); }
void TransformerModel::save(const std::filesystem::path&, bool) const { unavailable(); }
TransformerModel::TransformerModel(TransformerModel&&) noexcept = default;
TransformerModel& TransformerModel::operator=(TransformerModel&&) noexcept = default;
TransformerModel::~TransformerModel() = default;
std::uint32_t TransformerModel::vocab_size() const noexcept { return 0; }
std::uint32_t TransformerModel::compact_vocab_size() const noexcept { return 0; }
std::uint64_t TransformerModel::parameter_count() const { unavailable(); }
const TransformerShape& TransformerModel::shape() const noexcept { std::terminate(); }
const ModelTokenizerRecord& TransformerModel::tokenizer() const noexcept { std::terminate(); }
const TransformerProvenance& TransformerModel::provenance() const noexcept { std::terminate(); }
std::span<const std::uint32_t> TransformerModel::unpredictable_ids() const noexcept { return {}; }
std::unique_ptr<DecodingSession> TransformerModel::start(std::span<const std::uint32_t>) const { unavailable(); }
double TransformerModel::sequence_nats(std::span<const std::uint32_t>, std::span<const std::uint32_t>) const {
  unavailable();
}
void TransformerModel::log_probabilities(std::span<const std::uint32_t>, std::span<float>) const { unavailable(); }
void set_neural_threads(unsigned) {}
bool neural_models_available() noexcept { return false; }

}  // namespace tracemark
