// The schemes this build knows, and the one rule every code path uses to refuse a key that is not
// of its scheme. A key file names its scheme and version (key.hpp); a name or version outside this
// catalogue is refused when the key is read (SchemeParams::validate), never read as another scheme.
//
//   scheme            versions  context seed                       what a key does at a step
//   kgw-green-list    1, 2      keyed XXH3 (green_list_scheme.hpp) adds delta to green logits
//   kgw-green-list    3         AES-128 PRF (context_prf.hpp)      same as version 2
//   gumbel-max        1         AES-128 PRF                        picks argmax r^(1/p) (distortion-free)
//   synthid-tournament 1        AES-128 PRF                        m-layer tournament on g-values, then a
//                                                                  draw with the request's randomness
//                                                                  (distortion-free in expectation over keys)
//
// Each scheme has one class that both the serving side (embed/) and the verifying side (verify/)
// use: GreenListScheme, GumbelMaxScheme and TournamentScheme. Each class's constructor calls require_scheme(), so a
// key of one scheme handed to another scheme's code path fails at once with a message naming both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tracemark/embed/key.hpp"

namespace tracemark {

enum class SchemeKind { green_list, gumbel_max, tournament };

// The kind of a scheme name; Error(unsupported) naming the known schemes for any other name.
SchemeKind scheme_kind(std::string_view scheme_name);
std::string_view scheme_name(SchemeKind kind) noexcept;
// The newest version of a named scheme this build knows; Error(unsupported) for an unknown name.
std::uint32_t latest_scheme_version(std::string_view scheme_name);
// Whether the key's context seeds come from the AES-128 PRF (green list 3, gumbel-max, tournament) rather
// than keyed XXH3 (green list 1 and 2).
bool uses_prf_context_seeds(const SchemeParams& params);

// Throws Error(invalid_argument) unless `key` is of scheme `expected`: "key tmk_... is a
// 'gumbel-max' key (version 1), but <code_path> needs a 'kgw-green-list' key; ...". code_path
// names what refused it (for example "green-list detection").
void require_scheme(const WatermarkKey& key, SchemeKind expected, std::string_view code_path);

}  // namespace tracemark
