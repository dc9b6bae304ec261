#include "tracemark/embed/key_selector.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

KeySelector::KeySelector(const WatermarkKey& key) : params_(key.params()) {
  auto state = std::make_shared<State>();
  state->keys.emplace("", ServingKey{"", key.key_id(), ServingScheme::for_key(key)});
  state_.store(std::move(state));
}

KeySelector::KeySelector(Keyring ring, std::filesystem::path ring_path, std::filesystem::path policy_path)
    : ring_(std::move(ring)), ring_path_(std::move(ring_path)), policy_path_(std::move(policy_path)), params_(ring_->params()) {
  state_.store(load_state(nullptr));
}

std::shared_ptr<const KeySelector::State> KeySelector::load_state(const State* previous) const {
  auto state = std::make_shared<State>();
  state->policy = KeyPolicy::load(policy_path_);
  state->policy->check_labels_in(*ring_, ring_path_);
  for (const std::string& label : state->policy->labels()) {
    if (previous) {
      const auto it = previous->keys.find(label);
      if (it != previous->keys.end()) {
        state->keys.emplace(label, it->second);
        continue;
      }
    }
    const WatermarkKey key = ring_->derive(label);
    state->keys.emplace(label, ServingKey{label, key.key_id(), ServingScheme::for_key(key)});
  }
  return state;
}

ServingKey KeySelector::select(const KeyRequest& request) const {
  const std::shared_ptr<const State> state = state_.load();
  if (!state->policy) return state->keys.begin()->second;
  const KeyChoice choice = state->policy->choose(request);
  const auto it = state->keys.find(*choice.label);
  // load_state derived every label the policy can choose.
  if (it == state->keys.end()) throw Error(ErrorCode::internal, "key policy chose label " + *choice.label + " with no derived key");
  return it->second;
}

std::string KeySelector::reload() {
  if (!ring_) throw Error(ErrorCode::invalid_argument, "this server watermarks with one fixed key (--key); there is no key policy to reload");
  const std::lock_guard lock(reload_mutex_);
  const std::shared_ptr<const State> previous = state_.load();
  std::shared_ptr<const State> next = load_state(previous.get());
  std::string description = describe_state(*next);
  state_.store(std::move(next));
  return description;
}

std::string KeySelector::describe_state(const State& state) {
  if (!state.policy) return "watermark key " + state.keys.begin()->second.key_id;
  std::string labels;
  for (const auto& [label, key] : state.keys) labels += std::string(labels.empty() ? "" : ", ") + label + " = " + key.key_id;
  return "key policy " + state.policy->source() + " (" + std::to_string(state.policy->cohort_count()) + " cohort(s), " +
         std::to_string(state.policy->cohort_accounts()) + " account(s); labels " + labels + ")";
}

std::string KeySelector::describe() const {
  const std::shared_ptr<const State> state = state_.load();
  if (!ring_) return describe_state(*state);
  return "keyring " + ring_->ring_id() + ", " + describe_state(*state);
}

}  // namespace tracemark
