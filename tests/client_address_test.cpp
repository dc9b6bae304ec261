// The client address of the audit log: the peer unless the peer is a trusted proxy; Forwarded
// (RFC 7239) and X-Forwarded-For walked from the right, skipping trusted hops.
#include <gtest/gtest.h>

#include "tracemark/error.hpp"
#include "tracemark/serving/client_address.hpp"

namespace tracemark::serving {
namespace {

TrustedProxies proxies(std::initializer_list<const char*> cidrs) {
  std::vector<IpNetwork> networks;
  for (const char* cidr : cidrs) networks.push_back(IpNetwork::parse(cidr));
  return TrustedProxies(std::move(networks));
}

TEST(ClientAddress, UntrustedPeerIsRecordedAndItsHeadersIgnored) {
  const TrustedProxies trusted = proxies({"10.0.0.0/8"});
  EXPECT_EQ(resolve_client_address("203.0.113.9", "for=198.51.100.1", "198.51.100.2", trusted), "203.0.113.9");
  EXPECT_EQ(resolve_client_address("203.0.113.9", "", "", TrustedProxies()), "203.0.113.9");
  // With nothing trusted, a loopback peer's header is ignored too.
  EXPECT_EQ(resolve_client_address("127.0.0.1", "", "198.51.100.2", TrustedProxies()), "127.0.0.1");
}

TEST(ClientAddress, TrustedPeerNamesTheClientInXForwardedFor) {
  const TrustedProxies trusted = proxies({"10.0.0.0/8", "192.0.2.7"});
  EXPECT_EQ(resolve_client_address("10.1.2.3", "", "198.51.100.2", trusted), "198.51.100.2");
  // A chain: the client may have written anything at the left; the rightmost untrusted hop counts.
  EXPECT_EQ(resolve_client_address("10.1.2.3", "", "6.6.6.6, 198.51.100.2, 192.0.2.7", trusted), "198.51.100.2");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(resolve_client_address("10.1.2.3", "", "10.9.9.9, 192.0.2.7", trusted), "10.9.9.9");
  // No header from a trusted peer: the peer.
  EXPECT_EQ(resolve_client_address("10.1.2.3", "", "", trusted), "10.1.2.3");
  // Garbage stops the walk at the last trusted address.
  EXPECT_EQ(resolve_client_address("10.1.2.3", "", "198.51.100.2, not-an-address", trusted), "10.1.2.3");
  // A port on an IPv4 hop, a bare IPv6 hop.
  EXPECT_EQ(resolve_client_address("10.1.2.3", "", "198.51.100.2:5555", trusted), "198.51.100.2");
  EXPECT_EQ(resolve_client_address("10.1.2.3", "", "2001:db8::1", trusted), "2001:db8::1");
}

TEST(ClientAddress, ForwardedHeaderIsPreferredAndParsedPerRfc7239) {
  const TrustedProxies trusted = proxies({"10.0.0.0/8", "2001:db8:ffff::/48"});
  EXPECT_EQ(resolve_client_address("10.0.0.1", "for=192.0.2.43", "198.51.100.2", trusted), "192.0.2.43");
  EXPECT_EQ(resolve_client_address("10.0.0.1", "for=\"[2001:db8:cafe::17]:4711\";proto=https", "", trusted), "2001:db8:cafe::17");
  EXPECT_EQ(resolve_client_address("10.0.0.1", "For=\"192.0.2.60:8080\";by=10.0.0.1, for=10.2.2.2", "", trusted), "192.0.2.60");
  EXPECT_EQ(resolve_client_address("10.0.0.1", "for=192.0.2.43, for=\"[2001:db8:ffff::5]\"", "", trusted), "192.0.2.43");
  // Obfuscated and unknown identifiers stop the walk.
  EXPECT_EQ(resolve_client_address("10.0.0.1", "for=_hidden, for=10.3.3.3", "", trusted), "10.3.3.3");
  EXPECT_EQ(resolve_client_address("10.0.0.1", "for=unknown", "", trusted), "10.0.0.1");
}

TEST(ClientAddress, MappedAndCanonicalForms) {
  const TrustedProxies trusted = proxies({"10.0.0.0/8"});
  EXPECT_EQ(resolve_client_address("::ffff:10.0.0.5", "", "198.51.100.2", trusted), "198.51.100.2");
  EXPECT_EQ(resolve_client_address("::ffff:203.0.113.9", "", "", trusted), "203.0.113.9");
  EXPECT_EQ(resolve_client_address("2001:0db8:0000::0001", "", "", trusted), "2001:db8::1");
}

TEST(ClientAddress, NetworksParseAndMatch) {
  const IpNetwork v4 = IpNetwork::parse("10.1.2.3/8");
  EXPECT_TRUE(v4.contains(*parse_ip_address("10.255.0.1")));
  EXPECT_FALSE(v4.contains(*parse_ip_address("11.0.0.1")));
  EXPECT_FALSE(v4.contains(*parse_ip_address("2001:db8::1")));
  const IpNetwork odd = IpNetwork::parse("192.168.4.0/22");
  EXPECT_TRUE(odd.contains(*parse_ip_address("192.168.7.255")));
  EXPECT_FALSE(odd.contains(*parse_ip_address("192.168.8.0")));
  const IpNetwork v6 = IpNetwork::parse("2001:db8::/32");
  EXPECT_TRUE(v6.contains(*parse_ip_address("2001:db8:1::1")));
  EXPECT_FALSE(v6.contains(*parse_ip_address("2001:db9::1")));
  EXPECT_TRUE(IpNetwork::parse("0.0.0.0/0").contains(*parse_ip_address("8.8.8.8")));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "hello", "10.0.0.0/8x", "2001:db8::/129", ""}) {
    EXPECT_THROW(IpNetwork::parse(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace tracemark::serving
