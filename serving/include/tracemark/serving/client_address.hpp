// The client address an audit line records: the socket peer, or, when the peer is one of our own
// reverse proxies (`serve --trusted-proxy CIDR`), the address that proxy chain reports in
// `Forwarded` (RFC 7239) or `X-Forwarded-For`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark::serving {

// An IPv4 or IPv6 network, for example 10.0.0.0/8 or 2001:db8::/32. IPv4 is held as an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d, prefix + 96), so one comparison serves both families
// and a peer written as ::ffff:10.1.2.3 matches 10.0.0.0/8.
struct IpNetwork {
  std::array<std::uint8_t, 16> address{};
  unsigned prefix_bits = 0;  // 0..128 over the mapped form

  // "ADDRESS" (a host) or "ADDRESS/PREFIX". Throws Error(invalid_argument) naming the text and the
  // expected form when it is neither.
  static IpNetwork parse(std::string_view cidr);
  bool contains(const std::array<std::uint8_t, 16>& mapped) const;
};

// The 16-byte IPv4-mapped form of an address in text (IPv4 dotted quad, or IPv6, with or without
// brackets); nullopt when it is not an address.
std::optional<std::array<std::uint8_t, 16>> parse_ip_address(std::string_view text);

// An address in its canonical text: dotted quad for IPv4 (also when written IPv4-mapped), RFC 5952
// for IPv6 (inet_ntop).
std::string canonical_ip_text(const std::array<std::uint8_t, 16>& mapped);

// The networks whose requests may name the client for us. Immutable; thread-safe.
class TrustedProxies {
 public:
  TrustedProxies() = default;
  explicit TrustedProxies(std::vector<IpNetwork> networks) : networks_(std::move(networks)) {}
  bool trusts(const std::array<std::uint8_t, 16>& mapped) const;
  bool empty() const noexcept { return networks_.empty(); }

 private:
  std::vector<IpNetwork> networks_;
};

// The client of a request, in canonical text. `peer` is the socket peer's address. When the peer is
// trusted, the hops of `forwarded` (the RFC 7239 header's "for=" values, all header lines joined by
// ",") or, when that is empty, of `x_forwarded_for` (comma-separated) are walked from the right:
// trusted hops are skipped and the first untrusted one is the client. A hop that is no address
// (RFC 7239's "unknown" or an obfuscated "_name", a malformed value) stops the walk, and the last
// trusted address before it is recorded, since nothing further left can be believed. An untrusted
// peer's headers are ignored: any client can write them.
std::string resolve_client_address(std::string_view peer, std::string_view forwarded, std::string_view x_forwarded_for,
                                   const TrustedProxies& trusted);

}  // namespace tracemark::serving
