#include "tracemark/embed/scheme_catalog.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

SchemeKind scheme_kind(std::string_view name) {
  if (name == kGreenListSchemeName) return SchemeKind::green_list;
  if (name == kGumbelMaxSchemeName) return SchemeKind::gumbel_max;
  if (name == kTournamentSchemeName) return SchemeKind::tournament;
  throw Error(ErrorCode::unsupported, "unknown scheme '" + std::string(name) + "'; this build knows '" +
                                          std::string(kGreenListSchemeName) + "', '" + std::string(kGumbelMaxSchemeName) +
                                          "' and '" + std::string(kTournamentSchemeName) + "'");
}

std::string_view scheme_name(SchemeKind kind) noexcept {
  switch (kind) {
    case SchemeKind::green_list: return kGreenListSchemeName;
    case SchemeKind::gumbel_max: return kGumbelMaxSchemeName;
    case SchemeKind::tournament: return kTournamentSchemeName;
  }
  return kGreenListSchemeName;  // unreachable: every kind is listed above
}

std::uint32_t latest_scheme_version(std::string_view name) {
  switch (scheme_kind(name)) {
    case SchemeKind::green_list: return kGreenListSchemeLatestVersion;
    case SchemeKind::gumbel_max: return kGumbelMaxSchemeLatestVersion;
    case SchemeKind::tournament: return kTournamentSchemeLatestVersion;
  }
  return 0;  // unreachable
}

bool uses_prf_context_seeds(const SchemeParams& params) {
  return scheme_kind(params.scheme) != SchemeKind::green_list || params.scheme_version >= 3;
}

void require_scheme(const WatermarkKey& key, SchemeKind expected, std::string_view code_path) {
  const SchemeKind actual = scheme_kind(key.params().scheme);
  if (actual == expected) return;
  throw Error(ErrorCode::invalid_argument,
              "key " + key.key_id() + " is a '" + key.params().scheme + "' key (version " +
                  std::to_string(key.params().scheme_version) + "), but " + std::string(code_path) + " needs a '" +
                  std::string(scheme_name(expected)) + "' key; use a key made for this scheme (`tracemark key show` "
                  "prints a key's scheme)");
}

}  // namespace tracemark
