// The C ABI (capi/include/tracemark/tracemark.h) over embed/ and verify/'s detector. Every entry
// point catches everything and maps it to tm_status; the message goes to a thread-local string.
#include "tracemark/tracemark.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/serving_scheme.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/embed/watermark_processor.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"
#include "tracemark/verify/tournament_detector.hpp"

struct tm_key {
  tracemark::WatermarkKey key;
  tracemark::ServingScheme scheme;  // the key's scheme (a keyring's subkeys: the green list)
};

// The ring and the subkeys derived so far, by label (derived on first use, then shared).
struct tm_keyring {
  tracemark::Keyring ring;
  mutable std::mutex mutex;  // guards subkeys: tm_keyring functions take a const ring and are thread-safe
  mutable std::map<std::string, std::unique_ptr<const tm_key>, std::less<>> subkeys;
};

struct tm_processor {
  tracemark::WatermarkProcessor processor;
  tm_processor_params params;
  std::vector<tracemark::Candidate> scratch;  // candidate copies, reused across steps
};

namespace {

// One message per thread, so concurrent callers never see each other's errors (no global state).
std::string& last_error_message() {
  thread_local std::string message;
  return message;
}

tm_status fail(tm_status status, const char* function, const std::string& what) noexcept {
  try {
    last_error_message() = std::string(function) + ": " + what;
  } catch (...) {
    // Out of memory while reporting: keep whatever message was there; the status still tells.
  }
  return status;
}

tm_status status_of(tracemark::ErrorCode code) noexcept {
  switch (code) {
    case tracemark::ErrorCode::invalid_argument: return TM_INVALID_ARGUMENT;
    case tracemark::ErrorCode::invalid_input: return TM_INVALID_INPUT;
    case tracemark::ErrorCode::io: return TM_IO;
    case tracemark::ErrorCode::permission: return TM_PERMISSION;
    case tracemark::ErrorCode::unsupported: return TM_UNSUPPORTED;
    case tracemark::ErrorCode::internal: return TM_INTERNAL;
  }
  return TM_INTERNAL;
}

// Runs body; no exception leaves. tracemark::Error messages already follow the message contract
// (what, where, what to do; no secrets).
template <typename Body>
tm_status guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const tracemark::Error& e) {
    return fail(status_of(e.code()), function, e.what());
  } catch (const std::bad_alloc&) {
    return fail(TM_OUT_OF_MEMORY, function, "out of memory; free memory or use a smaller batch");
  } catch (const std::exception& e) {
    return fail(TM_INTERNAL, function, std::string("internal error (a bug in tracemark, please report it): ") + e.what());
  } catch (...) {
    return fail(TM_INTERNAL, function, "internal error of unknown type (a bug in tracemark, please report it)");
  }
}

tm_status null_argument(const char* function, const char* name) noexcept {
  return fail(TM_INVALID_ARGUMENT, function, std::string(name) + " is NULL; pass a valid pointer");
}

// A green-list-only entry point given a key of another scheme.
tm_status green_list_only(const char* function, const tm_key& key) {
  return fail(TM_INVALID_ARGUMENT, function,
              "key " + key.key.key_id() + " is a '" + key.key.params().scheme + "' key; " + function +
                  " works with 'kgw-green-list' keys only (a sampling scheme's text is scored by `tracemark detect`)");
}

tm_status make_key(tracemark::WatermarkKey&& key, tm_key** out) {
  auto scheme = tracemark::ServingScheme::for_key(key);
  *out = new tm_key{std::move(key), std::move(scheme)};
  return TM_OK;
}

// The cached subkey of a label of the ring, derived on first use. Throws what Keyring::derive throws.
const tm_key& subkey_of(const tm_keyring& ring, std::string_view label) {
  const std::lock_guard lock(ring.mutex);
  const auto found = ring.subkeys.find(label);
  if (found != ring.subkeys.end()) return *found->second;
  tracemark::WatermarkKey key = ring.ring.derive(label);
  auto scheme = tracemark::ServingScheme::for_key(key);
  auto made = std::make_unique<const tm_key>(tm_key{std::move(key), std::move(scheme)});
  return *ring.subkeys.emplace(std::string(label), std::move(made)).first->second;
}

// Checks a logits row length against the key's vocabulary; returns the number of entries to bias.
tm_status check_logits_length(const tm_processor& processor, std::size_t n_logits, const char* function,
                              const std::string& where) {
  const std::size_t vocab = processor.processor.vocab_size();
  if (n_logits < vocab || (n_logits > vocab && !processor.params.allow_padded_logits)) {
    return fail(TM_INVALID_ARGUMENT, function,
                where + "the logits array has " + std::to_string(n_logits) + " entries but the key's vocabulary has " +
                    std::to_string(vocab) + " token ids; pass one logit per token id" +
                    (n_logits > vocab ? " or set allow_padded_logits" : "") +
                    ", and check that the key was made for this model's tokenizer");
  }
  return TM_OK;
}

// Extensible structs (tracemark.h): the sizes of their first versions, the smallest accepted.
constexpr std::size_t kKeyInfoFirstSize = 72;
constexpr std::size_t kSchemeDetectionFirstSize = 56;
static_assert(sizeof(tm_scheme_detection) == kSchemeDetectionFirstSize,
              "a field was added to tm_scheme_detection: keep its first-version size above and document the field");
constexpr std::size_t kProcessorParamsFirstSize = 8;
constexpr std::size_t kKeyInfoSize = 80;  // issue 18 added scheme and tournament_layers
static_assert(sizeof(tm_key_info) == kKeyInfoSize && sizeof(tm_processor_params) == kProcessorParamsFirstSize,
              "a field was added to an extensible struct: keep the first-version sizes above and document the field");

tm_status too_small(const char* function, const char* field, std::size_t size, std::size_t minimum, const char* what) {
  return fail(TM_INVALID_ARGUMENT, function, std::string(field) + " is " + std::to_string(size) + ", less than " +
                                                 std::to_string(minimum) + "; set it to " + what);
}

tm_processor_params default_processor_params() {
  tm_processor_params params{};
  params.size = sizeof params;
  params.allow_padded_logits = 1;
  return params;
}

// Copies ours into the caller's struct of caller_size bytes: the fields both know, zero beyond,
// and size = the bytes filled.
template <typename Struct>
void write_extensible(Struct ours, Struct* caller, std::size_t caller_size) {
  const std::size_t filled = std::min(caller_size, sizeof ours);
  ours.size = static_cast<std::uint32_t>(filled);
  std::memcpy(static_cast<void*>(caller), &ours, filled);
  if (caller_size > filled) std::memset(reinterpret_cast<unsigned char*>(caller) + filled, 0, caller_size - filled);
}

// Reads the fields both know from the caller's struct of caller_size bytes over `ours` (defaults
// stay for the fields an older caller lacks). False when the caller's bytes beyond ours are not
// all zero: it asks for options this library does not know.
template <typename Struct>
bool read_extensible(const Struct* caller, std::size_t caller_size, Struct& ours) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(caller);
  for (std::size_t i = sizeof ours; i < caller_size; ++i) {
    if (bytes[i] != 0) return false;
  }
  std::memcpy(static_cast<void*>(&ours), caller, std::min(caller_size, sizeof ours));
  ours.size = sizeof ours;
  return true;
}

// The caller's processor options over the defaults in `options` (params may be NULL).
tm_status read_processor_params(const char* function, const tm_processor_params* params, tm_processor_params& options) {
  if (params == nullptr) return TM_OK;
  if (params->size < kProcessorParamsFirstSize) {
    return too_small(function, "params->size", params->size, kProcessorParamsFirstSize,
                     "sizeof(tm_processor_params) (call tm_processor_params_init first)");
  }
  if (!read_extensible(params, params->size, options)) {
    return fail(TM_UNSUPPORTED, function, "params holds options this library (version " TRACEMARK_VERSION_STRING
                                          ") does not know (bytes beyond its " + std::to_string(sizeof options) +
                                          " are not zero); use a newer libtracemark or leave those options at zero");
  }
  return TM_OK;
}

}  // namespace

extern "C" {

const char* tm_status_name(tm_status status) {
  switch (status) {
    case TM_OK: return "TM_OK";
    case TM_INVALID_ARGUMENT: return "TM_INVALID_ARGUMENT";
    case TM_INVALID_INPUT: return "TM_INVALID_INPUT";
    case TM_IO: return "TM_IO";
    case TM_PERMISSION: return "TM_PERMISSION";
    case TM_UNSUPPORTED: return "TM_UNSUPPORTED";
    case TM_OUT_OF_MEMORY: return "TM_OUT_OF_MEMORY";
    case TM_INTERNAL: return "TM_INTERNAL";
  }
  return "TM_UNKNOWN_STATUS";
}

const char* tm_version(void) { return TRACEMARK_VERSION_STRING; }

const char* tm_last_error(void) { return last_error_message().c_str(); }

tm_status tm_key_load(const char* path, tm_key** out) {
  constexpr const char* function = "tm_key_load";
  if (path == nullptr) return null_argument(function, "path");
  if (out == nullptr) return null_argument(function, "out");
  return guarded(function, [&] { return make_key(tracemark::WatermarkKey::load(path), out); });
}

tm_status tm_key_load_memory(const char* data, size_t size, tm_key** out) {
  constexpr const char* function = "tm_key_load_memory";
  if (data == nullptr && size > 0) return null_argument(function, "data");
  if (out == nullptr) return null_argument(function, "out");
  return guarded(function, [&] {
    return make_key(tracemark::WatermarkKey::parse(std::string_view(data == nullptr ? "" : data, size), "<memory>"), out);
  });
}

void tm_key_free(tm_key* key) { delete key; }

tm_status tm_key_get_info(const tm_key* key, tm_key_info* out) {
  constexpr const char* function = "tm_key_get_info";
  if (key == nullptr) return null_argument(function, "key");
  if (out == nullptr) return null_argument(function, "out");
  if (out->size < kKeyInfoFirstSize) return too_small(function, "out->size", out->size, kKeyInfoFirstSize, "sizeof(tm_key_info)");
  return guarded(function, [&] {
    tm_key_info info{};
    const tracemark::SchemeParams& params = key->key.params();
    info.vocab_size = params.vocab_size;
    info.context_width = params.context_width;
    info.scheme_version = params.scheme_version;
    info.gamma = params.gamma;
    info.null_green_probability = key->scheme.green_list ? key->scheme.green_list->null_green_probability() : 0.0;
    info.delta = params.delta;
    std::snprintf(info.key_id, sizeof info.key_id, "%s", key->key.key_id().c_str());
    info.scheme = key->scheme.gumbel_max   ? TM_SCHEME_GUMBEL_MAX
                  : key->scheme.tournament ? TM_SCHEME_TOURNAMENT
                                           : TM_SCHEME_GREEN_LIST;
    info.tournament_layers = key->scheme.tournament ? key->scheme.tournament->layers() : 0;
    write_extensible(info, out, out->size);
    return TM_OK;
  });
}

tm_status tm_processor_params_init(tm_processor_params* params, size_t size) {
  constexpr const char* function = "tm_processor_params_init";
  if (params == nullptr) return null_argument(function, "params");
  if (size < kProcessorParamsFirstSize) {
    return too_small(function, "size", size, kProcessorParamsFirstSize, "sizeof(tm_processor_params)");
  }
  if (size > UINT32_MAX) return fail(TM_INVALID_ARGUMENT, function, "size is larger than any tm_processor_params");
  write_extensible(default_processor_params(), params, size);
  return TM_OK;
}

tm_status tm_processor_create(const tm_key* key, const tm_processor_params* params, tm_processor** out) {
  constexpr const char* function = "tm_processor_create";
  if (key == nullptr) return null_argument(function, "key");
  if (out == nullptr) return null_argument(function, "out");
  tm_processor_params options = default_processor_params();
  if (const tm_status status = read_processor_params(function, params, options); status != TM_OK) return status;
  return guarded(function, [&] {
    *out = new tm_processor{tracemark::WatermarkProcessor(key->scheme), options, {}};
    return TM_OK;
  });
}

tm_status tm_keyring_load(const char* path, tm_keyring** out) {
  constexpr const char* function = "tm_keyring_load";
  if (path == nullptr) return null_argument(function, "path");
  if (out == nullptr) return null_argument(function, "out");
  return guarded(function, [&] {
    *out = new tm_keyring{tracemark::Keyring::load(path), {}, {}};
    return TM_OK;
  });
}

void tm_keyring_free(tm_keyring* ring) { delete ring; }

tm_status tm_keyring_label_count(const tm_keyring* ring, size_t* out) {
  constexpr const char* function = "tm_keyring_label_count";
  if (ring == nullptr) return null_argument(function, "ring");
  if (out == nullptr) return null_argument(function, "out");
  *out = ring->ring.labels().size();
  return TM_OK;
}

tm_status tm_keyring_label(const tm_keyring* ring, size_t index, const char** out) {
  constexpr const char* function = "tm_keyring_label";
  if (ring == nullptr) return null_argument(function, "ring");
  if (out == nullptr) return null_argument(function, "out");
  const std::vector<std::string>& labels = ring->ring.labels();
  if (index >= labels.size()) {
    return fail(TM_INVALID_ARGUMENT, function, "index " + std::to_string(index) + " is past the ring's " +
                                                   std::to_string(labels.size()) + " labels (tm_keyring_label_count)");
  }
  *out = labels[index].c_str();
  return TM_OK;
}

tm_status tm_keyring_derive(const tm_keyring* ring, const char* label, tm_key** out) {
  constexpr const char* function = "tm_keyring_derive";
  if (ring == nullptr) return null_argument(function, "ring");
  if (label == nullptr) return null_argument(function, "label");
  if (out == nullptr) return null_argument(function, "out");
  return guarded(function, [&] {
    const tm_key& subkey = subkey_of(*ring, label);
    *out = new tm_key{subkey.key, subkey.scheme};
    return TM_OK;
  });
}

tm_status tm_processor_create_for_label(const tm_keyring* ring, const char* label, const tm_processor_params* params,
                                        tm_processor** out) {
  constexpr const char* function = "tm_processor_create_for_label";
  if (ring == nullptr) return null_argument(function, "ring");
  if (label == nullptr) return null_argument(function, "label");
  if (out == nullptr) return null_argument(function, "out");
  tm_processor_params options = default_processor_params();
  if (const tm_status status = read_processor_params(function, params, options); status != TM_OK) return status;
  return guarded(function, [&] {
    *out = new tm_processor{tracemark::WatermarkProcessor(subkey_of(*ring, label).scheme), options, {}};
    return TM_OK;
  });
}

void tm_processor_free(tm_processor* processor) { delete processor; }

tm_status tm_processor_clone(const tm_processor* processor, tm_processor** out) {
  constexpr const char* function = "tm_processor_clone";
  if (processor == nullptr) return null_argument(function, "processor");
  if (out == nullptr) return null_argument(function, "out");
  return guarded(function, [&] {
    *out = new tm_processor{processor->processor, processor->params, {}};
    return TM_OK;
  });
}

tm_status tm_processor_reset(tm_processor* processor, const uint32_t* prompt, size_t prompt_length) {
  constexpr const char* function = "tm_processor_reset";
  if (processor == nullptr) return null_argument(function, "processor");
  if (prompt == nullptr && prompt_length > 0) return null_argument(function, "prompt");
  return guarded(function, [&] {
    processor->processor.reset(std::span<const std::uint32_t>(prompt, prompt_length));
    return TM_OK;
  });
}

tm_status tm_processor_apply(tm_processor* processor, float* logits, size_t n_logits) {
  constexpr const char* function = "tm_processor_apply";
  if (processor == nullptr) return null_argument(function, "processor");
  if (logits == nullptr) return null_argument(function, "logits");
  return guarded(function, [&] {
    if (tm_status status = check_logits_length(*processor, n_logits, function, ""); status != TM_OK) return status;
    processor->processor.apply(std::span<float>(logits, processor->processor.vocab_size()));
    return TM_OK;
  });
}

tm_status tm_processor_apply_candidates(tm_processor* processor, tm_candidate* candidates, size_t count) {
  constexpr const char* function = "tm_processor_apply_candidates";
  if (processor == nullptr) return null_argument(function, "processor");
  if (candidates == nullptr && count > 0) return null_argument(function, "candidates");
  return guarded(function, [&] {
    const std::uint32_t vocab = processor->processor.vocab_size();
    for (std::size_t i = 0; i < count; ++i) {
      if (candidates[i].id >= vocab) {
        return fail(TM_INVALID_ARGUMENT, function,
                    "candidate " + std::to_string(i) + " has token id " + std::to_string(candidates[i].id) +
                        ", outside the key's vocabulary (size " + std::to_string(vocab) +
                        "); check that the key was made for this model's tokenizer");
      }
    }
    if (!processor->processor.will_bias()) return TM_OK;
    // A copy into the C++ type rather than a cast between unrelated struct types (aliasing rules).
    processor->scratch.resize(count);
    for (std::size_t i = 0; i < count; ++i) processor->scratch[i] = {candidates[i].id, candidates[i].logit};
    processor->processor.apply(std::span<tracemark::Candidate>(processor->scratch));
    for (std::size_t i = 0; i < count; ++i) candidates[i].logit = processor->scratch[i].logit;
    return TM_OK;
  });
}

tm_status tm_processor_accept(tm_processor* processor, uint32_t token) {
  constexpr const char* function = "tm_processor_accept";
  if (processor == nullptr) return null_argument(function, "processor");
  return guarded(function, [&] {
    processor->processor.accept(token);
    return TM_OK;
  });
}

int tm_processor_chooses_token(const tm_processor* processor) {
  return processor != nullptr && processor->processor.chooses_token() ? 1 : 0;
}

tm_status tm_processor_choose(tm_processor* processor, const float* logits, size_t n_logits, uint32_t* token) {
  constexpr const char* function = "tm_processor_choose";
  if (processor == nullptr) return null_argument(function, "processor");
  if (logits == nullptr) return null_argument(function, "logits");
  if (token == nullptr) return null_argument(function, "token");
  return guarded(function, [&] {
    if (tm_status status = check_logits_length(*processor, n_logits, function, ""); status != TM_OK) return status;
    *token = processor->processor.choose(std::span<const float>(logits, n_logits));
    return TM_OK;
  });
}

tm_status tm_processor_choose_candidates(tm_processor* processor, const tm_candidate* candidates, size_t count,
                                         uint32_t* token) {
  constexpr const char* function = "tm_processor_choose_candidates";
  if (processor == nullptr) return null_argument(function, "processor");
  if (candidates == nullptr && count > 0) return null_argument(function, "candidates");
  if (token == nullptr) return null_argument(function, "token");
  return guarded(function, [&] {
    processor->scratch.resize(count);
    for (std::size_t i = 0; i < count; ++i) processor->scratch[i] = {candidates[i].id, candidates[i].logit};
    *token = processor->processor.choose(std::span<const tracemark::Candidate>(processor->scratch));
    return TM_OK;
  });
}

int tm_processor_will_bias(const tm_processor* processor) {
  return processor != nullptr && processor->processor.will_bias() ? 1 : 0;
}

tm_status tm_processor_apply_batch(tm_processor* const* processors, size_t batch, float* logits, size_t row_stride,
                                   size_t n_logits) {
  constexpr const char* function = "tm_processor_apply_batch";
  if (processors == nullptr && batch > 0) return null_argument(function, "processors");
  if (logits == nullptr && batch > 0) return null_argument(function, "logits");
  if (batch > 1 && row_stride < n_logits) {
    return fail(TM_INVALID_ARGUMENT, function,
                "row_stride " + std::to_string(row_stride) + " is smaller than n_logits " + std::to_string(n_logits) +
                    "; rows would overlap: pass the distance between rows in floats");
  }
  return guarded(function, [&] {
    for (std::size_t row = 0; row < batch; ++row) {
      tm_processor* processor = processors[row];
      if (processor == nullptr) continue;
      const std::string where = "row " + std::to_string(row) + ": ";
      if (tm_status status = check_logits_length(*processor, n_logits, function, where); status != TM_OK) return status;
      processor->processor.apply(std::span<float>(logits + row * row_stride, processor->processor.vocab_size()));
    }
    return TM_OK;
  });
}

tm_status tm_processor_accept_batch(tm_processor* const* processors, size_t batch, const uint32_t* tokens) {
  constexpr const char* function = "tm_processor_accept_batch";
  if (processors == nullptr && batch > 0) return null_argument(function, "processors");
  if (tokens == nullptr && batch > 0) return null_argument(function, "tokens");
  return guarded(function, [&] {
    for (std::size_t row = 0; row < batch; ++row) {
      if (processors[row] != nullptr) processors[row]->processor.accept(tokens[row]);
    }
    return TM_OK;
  });
}

tm_status tm_key_get_entropy_threshold(const tm_key* key, double* out) {
  constexpr const char* function = "tm_key_get_entropy_threshold";
  if (key == nullptr) return null_argument(function, "key");
  if (out == nullptr) return null_argument(function, "out");
  *out = key->key.params().entropy_threshold;
  return TM_OK;
}

tm_status tm_processor_last_step(const tm_processor* processor, int* biased, double* entropy) {
  constexpr const char* function = "tm_processor_last_step";
  if (processor == nullptr) return null_argument(function, "processor");
  if (biased != nullptr) *biased = processor->processor.last_step_biased() ? 1 : 0;
  if (entropy != nullptr) *entropy = processor->processor.last_step_entropy().value_or(-1.0);
  return TM_OK;
}

namespace {

// entropy_given: the caller passed per-step entropy (entropy may then be null only for count 0).
tm_status detect_with(const char* function, const tm_key* key, const uint32_t* tokens, bool entropy_given,
                      const float* entropy, size_t count, tm_detection* out) {
  if (key == nullptr) return null_argument(function, "key");
  if (tokens == nullptr && count > 0) return null_argument(function, "tokens");
  if (out == nullptr) return null_argument(function, "out");
  const double threshold = key->key.params().entropy_threshold;
  if (threshold > 0.0 && !entropy_given) {
    return fail(TM_INVALID_ARGUMENT, function,
                "key " + key->key.key_id() + " has an entropy threshold of " + std::to_string(threshold) +
                    " nats, so only steps at or above it may be scored; give the per-step entropy with "
                    "tm_detect_with_entropy (tm_processor_last_step reports it while serving)");
  }
  return guarded(function, [&] {
    if (!key->scheme.green_list) return green_list_only(function, *key);
    tracemark::GreenListDetector detector(key->scheme.green_list);
    tracemark::StepSelection selection;
    if (threshold > 0.0) selection = {std::span<const float>(entropy, count), threshold, nullptr};
    const tracemark::ScoreCounts counts = detector.add_document(std::span<const std::uint32_t>(tokens, count), selection);
    const tracemark::BinomialTest test = detector.test(counts);
    tm_detection result{};
    result.tokens = counts.tokens;
    result.scored = counts.scored;
    result.green = counts.green;
    result.gamma = test.gamma;
    result.z = test.z;
    result.p_value = test.p_value;
    result.log10_p = test.log10_p;
    *out = result;
    return TM_OK;
  });
}

}  // namespace

tm_status tm_detect(const tm_key* key, const uint32_t* tokens, size_t count, tm_detection* out) {
  return detect_with("tm_detect", key, tokens, false, nullptr, count, out);
}

tm_status tm_detect_with_entropy(const tm_key* key, const uint32_t* tokens, const float* entropy, size_t count,
                                 tm_detection* out) {
  if (entropy == nullptr && count > 0) return null_argument("tm_detect_with_entropy", "entropy");
  return detect_with("tm_detect_with_entropy", key, tokens, true, entropy, count, out);
}

tm_status tm_detect_scheme(const tm_key* key, const uint32_t* tokens, size_t count, tm_scheme_detection* out) {
  constexpr const char* function = "tm_detect_scheme";
  if (key == nullptr) return null_argument(function, "key");
  if (tokens == nullptr && count > 0) return null_argument(function, "tokens");
  if (out == nullptr) return null_argument(function, "out");
  if (out->size < kSchemeDetectionFirstSize) {
    return too_small(function, "out->size", out->size, kSchemeDetectionFirstSize, "sizeof(tm_scheme_detection)");
  }
  if (key->scheme.green_list) {
    // The green list's own path (and its entropy rule), reported in this struct's terms.
    tm_detection green{};
    const tm_status status = detect_with(function, key, tokens, false, nullptr, count, &green);
    if (status != TM_OK) return status;
    tm_scheme_detection result{};
    result.scheme = TM_SCHEME_GREEN_LIST;
    result.tokens = green.tokens;
    result.scored = green.scored;
    result.statistic = static_cast<double>(green.green);
    result.null_mean = green.gamma * static_cast<double>(green.scored);
    result.p_value = green.p_value;
    result.log10_p = green.log10_p;
    write_extensible(result, out, out->size);
    return TM_OK;
  }
  return guarded(function, [&] {
    const std::span<const std::uint32_t> ids(tokens, count);
    tm_scheme_detection result{};
    if (key->scheme.gumbel_max) {
      tracemark::GumbelMaxDetector detector(key->scheme.gumbel_max);
      const tracemark::GumbelScoreCounts counts = detector.add_document(ids);
      const tracemark::GammaTest test = tracemark::GumbelMaxDetector::test(counts);
      result.scheme = TM_SCHEME_GUMBEL_MAX;
      result.tokens = counts.tokens;
      result.scored = counts.scored;
      result.statistic = counts.score;
      result.null_mean = static_cast<double>(counts.scored);
      result.p_value = test.p_value;
      result.log10_p = test.log10_p;
    } else {
      tracemark::TournamentDetector detector(key->scheme.tournament);
      const tracemark::TournamentScoreCounts counts = detector.add_document(ids);
      const tracemark::BinomialTest test = detector.test(counts);
      result.scheme = TM_SCHEME_TOURNAMENT;
      result.tokens = counts.tokens;
      result.scored = counts.scored;
      result.statistic = static_cast<double>(counts.g_ones);
      result.null_mean = 0.5 * static_cast<double>(counts.scored) * key->scheme.tournament->layers();
      result.p_value = test.p_value;
      result.log10_p = test.log10_p;
    }
    write_extensible(result, out, out->size);
    return TM_OK;
  });
}

}  // extern "C"

// ---- Device-resident bias (tracemark.h, "Device-resident bias") --------------------------------

namespace {

constexpr std::size_t kBatchSeedsFirstSize = 24;
static_assert(sizeof(tm_batch_seeds) == kBatchSeedsFirstSize,
              "a field was added to tm_batch_seeds: keep its first-version size above and document the field");

}  // namespace

extern "C" {

tm_status tm_key_export_token_values(const tm_key* key, uint32_t* out, size_t count) {
  constexpr const char* function = "tm_key_export_token_values";
  if (key == nullptr) return null_argument(function, "key");
  if (out == nullptr && count > 0) return null_argument(function, "out");
  return guarded(function, [&] {
    if (!key->scheme.green_list) return green_list_only(function, *key);
    const std::span<const std::uint32_t> values = key->scheme.green_list->token_values();
    if (values.empty()) {
      return fail(TM_UNSUPPORTED, function,
                  "key " + key->key.key_id() + " uses kgw-green-list version " +
                      std::to_string(key->key.params().scheme_version) +
                      ", whose green list has no per-token table, so it cannot be computed on a device; make a "
                      "version-2 key (tracemark keygen makes them by default) or bias on the host with tm_processor_apply");
    }
    if (count != values.size()) {
      return fail(TM_INVALID_ARGUMENT, function,
                  "count is " + std::to_string(count) + " but key " + key->key.key_id() + " has " +
                      std::to_string(values.size()) + " token ids; pass an array of vocab_size (tm_key_info) entries");
    }
    std::copy(values.begin(), values.end(), out);
    return TM_OK;
  });
}

tm_status tm_processor_seeds_batch(tm_processor* const* processors, size_t batch, tm_batch_seeds* out) {
  constexpr const char* function = "tm_processor_seeds_batch";
  if (processors == nullptr && batch > 0) return null_argument(function, "processors");
  if (out == nullptr) return null_argument(function, "out");
  if (out->size < kBatchSeedsFirstSize) {
    return too_small(function, "out->size", out->size, kBatchSeedsFirstSize, "sizeof(tm_batch_seeds)");
  }
  tm_batch_seeds outputs{};
  if (!read_extensible(out, out->size, outputs)) {
    return fail(TM_UNSUPPORTED, function, "out asks for outputs this library (version " TRACEMARK_VERSION_STRING
                                          ") does not know (bytes beyond its " + std::to_string(sizeof outputs) +
                                          " are not zero); use a newer libtracemark or leave those fields at zero");
  }
  for (std::size_t row = 0; row < batch; ++row) {
    const tm_processor* processor = processors[row];
    const bool will_bias = processor != nullptr && processor->processor.will_bias();
    if (outputs.seeds != nullptr) outputs.seeds[row] = will_bias ? processor->processor.current_seed() : 0;
    if (outputs.will_bias != nullptr) outputs.will_bias[row] = will_bias ? 1 : 0;
  }
  return TM_OK;
}

}  // extern "C"
