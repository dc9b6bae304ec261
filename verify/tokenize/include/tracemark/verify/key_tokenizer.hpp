// The tokenizer that a set of keys binds, loaded at first use and checked against the keys.
//
// Keys made with `keygen --tokenizer` carry the tokenizer's name and vocabulary digest. Text is
// scored only after being turned into ids by exactly that vocabulary: a different tokenizer would
// give other ids, other contexts and a meaningless test, so it is refused, never used.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {

// Thread-safe: get() may be called from any number of threads; the tokenizer is loaded once.
class KeyTokenizer {
 public:
  // `override_spec` (may be empty) names where to load the tokenizer from instead of the name in
  // the keys (a path or a built-in name); its digest must still be the keys'. Throws
  // Error(invalid_argument) when the keys bind different tokenizers (scan them separately).
  KeyTokenizer(std::span<const WatermarkKey> keys, std::string override_spec);

  // The tokenizer, loaded on first call. Throws Error(invalid_input) when no key names a tokenizer
  // (`what` says which input needed one), Error(invalid_input) when the loaded vocabulary digest is
  // not the keys', and the loader's errors (for example a missing file and the set-up command).
  const Tokenizer& get(const std::string& what) const;

  // The binding the keys share; nullopt when none of them names a tokenizer.
  const std::optional<TokenizerBinding>& binding() const noexcept { return binding_; }

 private:
  std::optional<TokenizerBinding> binding_;
  std::string key_ids_;      // for messages
  std::string binding_key_;  // the first key that names the tokenizer, for messages
  std::string override_spec_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const Tokenizer> tokenizer_;
};

}  // namespace tracemark
