#include "tracemark/serving/client_address.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <charconv>

#include "tracemark/error.hpp"

namespace tracemark::serving {
namespace {

using Mapped = std::array<std::uint8_t, 16>;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Splits at `separator` outside double quotes (RFC 7230 quoted-string, with backslash escapes).
std::vector<std::string_view> split_outside_quotes(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

// A hop as written in a header: an address, optionally with a port ("192.0.2.1:8080",
// "[2001:db8::1]:443"), optionally quoted. Returns the address part.
std::string_view strip_port_and_quotes(std::string_view hop) {
  hop = trim(hop);
  if (hop.size() >= 2 && hop.front() == '"' && hop.back() == '"') hop = hop.substr(1, hop.size() - 2);
  if (!hop.empty() && hop.front() == '[') {
    const std::size_t close = hop.find(']');
    return close == std::string_view::npos ? hop : hop.substr(1, close - 1);
  }
  // One colon: IPv4 with a port. More: a bare IPv6 address (X-Forwarded-For writes them so).
  const std::size_t colon = hop.find(':');
  if (colon != std::string_view::npos && hop.find(':', colon + 1) == std::string_view::npos) return hop.substr(0, colon);
  return hop;
}

// The "for=" values of a Forwarded header, left to right (the client first, the nearest proxy last).
std::vector<std::string_view> forwarded_for_hops(std::string_view header) {
  std::vector<std::string_view> hops;
  for (const std::string_view element : split_outside_quotes(header, ',')) {
    for (const std::string_view pair : split_outside_quotes(element, ';')) {
      const std::string_view trimmed = trim(pair);
      const std::size_t equals = trimmed.find('=');
      if (equals == std::string_view::npos) continue;
      if (equals_ignoring_case(trim(trimmed.substr(0, equals)), "for")) hops.push_back(trimmed.substr(equals + 1));
    }
  }
  return hops;
}

}  // namespace

std::optional<Mapped> parse_ip_address(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string copy(text);
  Mapped mapped{};
  in_addr v4{};
  if (::inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
    for (int i = 0; i < 4; ++i) mapped[12 + i] = bytes[i];
    return mapped;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
    for (int i = 0; i < 16; ++i) mapped[i] = v6.s6_addr[i];
    return mapped;
  }
  return std::nullopt;
}

std::string canonical_ip_text(const Mapped& mapped) {
  char text[INET6_ADDRSTRLEN] = {};
  bool is_v4 = mapped[10] == 0xff && mapped[11] == 0xff;
  for (int i = 0; i < 10; ++i) is_v4 = is_v4 && mapped[i] == 0;
  if (is_v4) {
    in_addr v4{};
    auto* bytes = reinterpret_cast<std::uint8_t*>(&v4.s_addr);
    for (int i = 0; i < 4; ++i) bytes[i] = mapped[12 + i];
    ::inet_ntop(AF_INET, &v4, text, sizeof text);
  } else {
    in6_addr v6{};
    for (int i = 0; i < 16; ++i) v6.s6_addr[i] = mapped[i];
    ::inet_ntop(AF_INET6, &v6, text, sizeof text);
  }
  return text;
}

IpNetwork IpNetwork::parse(std::string_view cidr) {
  const std::string_view given = cidr;
  const auto fail = [&]() -> IpNetwork {
    throw Error(ErrorCode::invalid_argument, "--trusted-proxy " + std::string(given) +
                                                 " is not an address or a network; write it as 10.0.0.0/8, 192.0.2.7, "
                                                 "2001:db8::/32 or ::1");
  };
  cidr = trim(cidr);
  const std::size_t slash = cidr.find('/');
  const auto address = parse_ip_address(cidr.substr(0, slash));
  if (!address) return fail();
  const bool is_v4 = cidr.substr(0, slash).find(':') == std::string_view::npos;
  const unsigned family_bits = is_v4 ? 32 : 128;
  unsigned bits = family_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = cidr.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || bits > family_bits) return fail();
  }
  IpNetwork network;
  network.address = *address;
  network.prefix_bits = is_v4 ? bits + 96 : bits;
  // Host bits are cleared, so 10.1.2.3/8 means 10.0.0.0/8, as routers read it.
  for (unsigned bit = network.prefix_bits; bit < 128; ++bit) network.address[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  return network;
}

bool IpNetwork::contains(const Mapped& mapped) const {
  const unsigned whole = prefix_bits / 8;
  for (unsigned i = 0; i < whole; ++i) {
    if (mapped[i] != address[i]) return false;
  }
  const unsigned rest = prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (mapped[whole] & mask) == (address[whole] & mask);
}

bool TrustedProxies::trusts(const Mapped& mapped) const {
  for (const IpNetwork& network : networks_) {
    if (network.contains(mapped)) return true;
  }
  return false;
}

std::string resolve_client_address(std::string_view peer, std::string_view forwarded, std::string_view x_forwarded_for,
                                   const TrustedProxies& trusted) {
  const auto peer_address = parse_ip_address(peer);
  if (!peer_address) return std::string(peer);  // not an IP peer (a Unix socket): recorded as given
  if (!trusted.trusts(*peer_address)) return canonical_ip_text(*peer_address);
  std::vector<std::string_view> hops;
  if (!trim(forwarded).empty()) {
    hops = forwarded_for_hops(forwarded);
  } else {
    hops = split_outside_quotes(x_forwarded_for, ',');
  }
  Mapped client = *peer_address;
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    const std::string_view text = strip_port_and_quotes(*hop);
    if (text.empty() && hops.size() == 1) break;  // no header at all
    const auto address = parse_ip_address(text);
    if (!address) break;  // "unknown", an obfuscated name or garbage: nothing further left is believed
    client = *address;
    if (!trusted.trusts(client)) break;
  }
  return canonical_ip_text(client);
}

}  // namespace tracemark::serving
