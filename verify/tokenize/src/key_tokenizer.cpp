#include "tracemark/verify/key_tokenizer.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

KeyTokenizer::KeyTokenizer(std::span<const WatermarkKey> keys, std::string override_spec)
    : override_spec_(std::move(override_spec)) {
  for (const WatermarkKey& key : keys) {
    if (!key_ids_.empty()) key_ids_ += ", ";
    key_ids_ += key.key_id();
    const std::optional<TokenizerBinding>& binding = key.params().tokenizer;
    if (!binding) continue;
    if (!binding_) {
      binding_ = binding;
      binding_key_ = key.key_id();
    } else if (binding->vocab_sha256 != binding_->vocab_sha256) {
      throw Error(ErrorCode::invalid_argument, "key " + binding_key_ + " binds tokenizer " + binding_->name + " but key " +
                                                   key.key_id() + " binds " + binding->name +
                                                   "; text can be read with one tokenizer at a time: scan these keys separately");
    }
  }
}

const Tokenizer& KeyTokenizer::get(const std::string& what) const {
  std::lock_guard lock(mutex_);
  if (tokenizer_) return *tokenizer_;
  if (!binding_) {
    throw Error(ErrorCode::invalid_input, what + " is text, but no key (" + key_ids_ +
                                              ") names a tokenizer to turn it into ids; give token ids (\"tokens\"), "
                                              "or use a key made with tracemark keygen --tokenizer");
  }
  std::shared_ptr<const Tokenizer> loaded = Tokenizer::load(override_spec_.empty() ? binding_->name : override_spec_);
  if (loaded->vocab_sha256() != binding_->vocab_sha256) {
    throw Error(ErrorCode::invalid_input, "tokenizer " + loaded->name() + " has vocabulary sha256:" + loaded->vocab_sha256() +
                                              " but key " + binding_key_ + " was made with tokenizer " + binding_->name + " (sha256:" +
                                              binding_->vocab_sha256 + "); use the tokenizer the key was made with");
  }
  tokenizer_ = std::move(loaded);
  return *tokenizer_;
}

}  // namespace tracemark
