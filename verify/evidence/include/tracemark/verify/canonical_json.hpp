// Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) for the subset that evidence manifests
// use: objects, arrays, strings, true/false/null and integers of magnitude at most 2^53. Floating
// point numbers are refused (figures with fractions live in files whose digests the manifest holds),
// so no number formatting question ever decides a signed byte.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tracemark {

// The canonical text: no whitespace, object members sorted by the UTF-16 code units of their names
// (RFC 8785 section 3.2.3), strings escaped as ECMAScript's JSON.stringify does (section 3.2.2.2),
// integers in plain decimal. Throws Error(invalid_argument) naming the member path of a float, an
// integer beyond 2^53, or a string that is not valid UTF-8.
std::string canonical_json(const nlohmann::json& value);
std::string canonical_json(const nlohmann::ordered_json& value);

}  // namespace tracemark
