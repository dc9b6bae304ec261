#include "tracemark/embed/serving_scheme.hpp"

#include "tracemark/embed/scheme_catalog.hpp"

namespace tracemark {

ServingScheme ServingScheme::for_key(const WatermarkKey& key) {
  ServingScheme scheme;
  switch (scheme_kind(key.params().scheme)) {
    case SchemeKind::green_list:
      scheme.green_list = std::make_shared<const GreenListScheme>(key);
      break;
    case SchemeKind::gumbel_max:
      scheme.gumbel_max = std::make_shared<const GumbelMaxScheme>(key);
      break;
    case SchemeKind::tournament:
      scheme.tournament = std::make_shared<const TournamentScheme>(key);
      break;
  }
  return scheme;
}

std::uint32_t ServingScheme::vocab_size() const noexcept {
  if (green_list) return green_list->vocab_size();
  if (gumbel_max) return gumbel_max->vocab_size();
  return tournament ? tournament->vocab_size() : 0;
}

std::uint32_t ServingScheme::context_width() const noexcept {
  if (green_list) return green_list->context_width();
  if (gumbel_max) return gumbel_max->context_width();
  return tournament ? tournament->context_width() : 0;
}

}  // namespace tracemark
