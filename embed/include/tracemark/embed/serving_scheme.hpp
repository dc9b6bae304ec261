// One key's scheme as the serving side holds it: built once per key (a Gumbel-max key expands a
// keyed value per vocabulary id, an AES key schedule), then shared by every request and thread.
// Exactly one member is set; WatermarkProcessor takes any.
#pragma once

#include <cstdint>
#include <memory>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/gumbel_max_scheme.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/tournament_scheme.hpp"

namespace tracemark {

struct ServingScheme {
  std::shared_ptr<const GreenListScheme> green_list;  // biases logits; the engine samples
  std::shared_ptr<const GumbelMaxScheme> gumbel_max;  // chooses the token itself
  std::shared_ptr<const TournamentScheme> tournament;  // chooses the token itself (with the request's draw)

  // The key's scheme, by the catalogue (scheme_catalog.hpp): any known scheme and version.
  static ServingScheme for_key(const WatermarkKey& key);

  bool empty() const noexcept { return !green_list && !gumbel_max && !tournament; }
  std::uint32_t vocab_size() const noexcept;
  std::uint32_t context_width() const noexcept;
};

}  // namespace tracemark
