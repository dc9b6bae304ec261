#include "tracemark/refmodel/distillation_mix.hpp"

#include <string>
#include <tuple>
#include <utility>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Takes documents in order while the total stays below the target, then one more if that lands
// closer to it.
std::pair<std::size_t, std::uint64_t> take_until(const std::vector<std::size_t>& lengths, double target) {
  std::size_t taken = 0;
  std::uint64_t tokens = 0;
  while (taken < lengths.size() && static_cast<double>(tokens) < target) {
    const double with_next = static_cast<double>(tokens + lengths[taken]);
    if (with_next > target && with_next - target > target - static_cast<double>(tokens)) break;
    tokens += lengths[taken++];
  }
  return {taken, tokens};
}

std::uint64_t sum(const std::vector<std::size_t>& lengths) {
  std::uint64_t total = 0;
  for (std::size_t length : lengths) total += length;
  return total;
}

}  // namespace

DistillationMix plan_distillation_mix(const std::vector<std::size_t>& teacher_lengths,
                                      const std::vector<std::size_t>& clean_lengths, double fraction) {
  if (!(fraction > 0.0 && fraction <= 1.0)) {
    throw Error(ErrorCode::invalid_argument, "fraction " + std::to_string(fraction) + " is out of range; use a value in (0, 1]");
  }
  DistillationMix mix;
  const std::uint64_t teacher_total = sum(teacher_lengths);
  const std::uint64_t clean_total = sum(clean_lengths);
  const double clean_needed = static_cast<double>(teacher_total) * (1.0 - fraction) / fraction;
  if (clean_needed <= static_cast<double>(clean_total)) {
    mix.teacher_documents = teacher_lengths.size();
    mix.teacher_tokens = teacher_total;
    std::tie(mix.clean_documents, mix.clean_tokens) = take_until(clean_lengths, clean_needed);
  } else {
    mix.clean_documents = clean_lengths.size();
    mix.clean_tokens = clean_total;
    std::tie(mix.teacher_documents, mix.teacher_tokens) =
        take_until(teacher_lengths, static_cast<double>(clean_total) * fraction / (1.0 - fraction));
  }
  return mix;
}

}  // namespace tracemark
