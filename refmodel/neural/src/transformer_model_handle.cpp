// TransformerModel on tracemark's side: loads the plug-in once (dlopen, thread-safe) and forwards.
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "transformer_engine.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Where the build put the plug-in (a compile definition), unless TRACEMARK_TORCH_PLUGIN says otherwise.
std::string plugin_path() {
  if (const char* path = std::getenv("TRACEMARK_TORCH_PLUGIN"); path && *path) return path;
#ifdef TRACEMARK_TORCH_PLUGIN_PATH
  return TRACEMARK_TORCH_PLUGIN_PATH;
#else
  return "";
#endif
}

struct PluginLoad {
  const TransformerPlugin* plugin = nullptr;
  std::string error;  // why it could not be loaded
};

const PluginLoad& load_plugin() {
  static const PluginLoad loaded = [] {
    PluginLoad result;
    const std::string path = plugin_path();
    if (path.empty()) {
      result.error = "this tracemark was built without libtorch (-DTRACEMARK_WITH_TORCH=OFF), so it cannot train or "
                     "load transformer models; build it with libtorch-dev installed (tools/setup.sh installs it)";
      return result;
    }
    // RTLD_LOCAL: libtorch's symbols stay inside the plug-in.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      result.error = "cannot load the transformer plug-in " + path + " (" + (why ? why : "unknown error") +
                     "); build the tracemark_torch target, or set TRACEMARK_TORCH_PLUGIN to its path";
      return result;
    }
    using Entry = const TransformerPlugin* (*)();
    const auto entry = reinterpret_cast<Entry>(dlsym(handle, kTransformerPluginSymbol));
    if (!entry) {
      result.error = path + " is not a tracemark transformer plug-in (no " + kTransformerPluginSymbol + ")";
      return result;
    }
    result.plugin = entry();
    return result;
  }();
  return loaded;
}

const TransformerPlugin& plugin() {
  const PluginLoad& loaded = load_plugin();
  if (!loaded.plugin) throw Error(ErrorCode::unsupported, loaded.error);
  return *loaded.plugin;
}

}  // namespace

TransformerModel::TransformerModel(std::unique_ptr<TransformerEngine> engine) : engine_(std::move(engine)) {}
TransformerModel::TransformerModel(TransformerModel&&) noexcept = default;
TransformerModel& TransformerModel::operator=(TransformerModel&&) noexcept = default;
TransformerModel::~TransformerModel() = default;

TransformerModel TransformerModel::train(const TokenDocuments& documents, std::uint32_t vocab_size,
                                         std::span<const std::uint32_t> unpredictable_ids,
                                         const ModelTokenizerRecord& tokenizer, const TransformerShape& shape,
                                         const TransformerTraining& training) {
  shape.validate();
  training.validate();
  return TransformerModel(plugin().train(documents, vocab_size, unpredictable_ids, tokenizer, shape, training));
}

TransformerModel TransformerModel::load(const std::filesystem::path& path) {
  return TransformerModel(plugin().load(path));
}

void TransformerModel::fine_tune(const TokenDocuments& documents, const TransformerTraining& training) {
  training.validate();
  engine_->fine_tune(documents, training);
}
void TransformerModel::save(const std::filesystem::path& path, bool overwrite) const { engine_->save(path, overwrite); }
std::uint32_t TransformerModel::vocab_size() const noexcept { return engine_->vocab_size(); }
std::uint32_t TransformerModel::compact_vocab_size() const noexcept { return engine_->compact_vocab_size(); }
std::uint64_t TransformerModel::parameter_count() const { return engine_->parameter_count(); }
const TransformerShape& TransformerModel::shape() const noexcept { return engine_->shape(); }
const ModelTokenizerRecord& TransformerModel::tokenizer() const noexcept { return engine_->tokenizer(); }
const TransformerProvenance& TransformerModel::provenance() const noexcept { return engine_->provenance(); }
std::span<const std::uint32_t> TransformerModel::unpredictable_ids() const noexcept { return engine_->unpredictable_ids(); }
std::unique_ptr<DecodingSession> TransformerModel::start(std::span<const std::uint32_t> prompt) const {
  return engine_->start(prompt);
}
double TransformerModel::sequence_nats(std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) const {
  return engine_->sequence_nats(context, tokens);
}
void TransformerModel::log_probabilities(std::span<const std::uint32_t> history, std::span<float> out) const {
  engine_->log_probabilities(history, out);
}

void set_neural_threads(unsigned threads) {
  if (threads > 0) plugin().set_threads(threads);
}

bool neural_models_available() noexcept { return load_plugin().plugin != nullptr; }

}  // namespace tracemark
