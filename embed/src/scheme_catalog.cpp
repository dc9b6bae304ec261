#include "tracemark/embed/scheme_catalog.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

SchemeKind scheme_kind(std::string_view name) {
  if (name == kGreenListSchemeName) return SchemeKind::green_list;
  if (name == kGumbelMaxSchemeName) return SchemeKind::gumbel_max;
  throw Error(ErrorCode::unsupported, "unknown scheme '" + std::string(name) + "'; this build knows '" +
                                          std::string(kGreenListSchemeName) + "' and '" +
                                          std::string(kGumbelMaxSchemeName) + "'");
}

std::string_view scheme_name(SchemeKind kind) noexcept {
  return kind == SchemeKind::green_list ? kGreenListSchemeName : kGumbelMaxSchemeName;
}

std::uint32_t latest_scheme_version(std::string_view name) {
  return scheme_kind(name) == SchemeKind::green_list ? kGreenListSchemeLatestVersion : kGumbelMaxSchemeLatestVersion;
}

bool uses_prf_context_seeds(const SchemeParams& params) {
  return scheme_kind(params.scheme) == SchemeKind::gumbel_max || params.scheme_version >= 3;
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
