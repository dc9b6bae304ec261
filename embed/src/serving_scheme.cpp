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
  }
  return scheme;
}

std::uint32_t ServingScheme::vocab_size() const noexcept {
  return green_list ? green_list->vocab_size() : gumbel_max ? gumbel_max->vocab_size() : 0;
}

std::uint32_t ServingScheme::context_width() const noexcept {
  return green_list ? green_list->context_width() : gumbel_max ? gumbel_max->context_width() : 0;
}

}  // namespace tracemark
