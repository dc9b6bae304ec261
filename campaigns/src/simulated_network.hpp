// Where simulated requests come from: IPv4 addresses of households (leases that change every few
// days), mobile carriers' shared pools, companies' egress NAT pools, clouds and proxy services; and
// the user agents clients send. Private to campaigns/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "random_draws.hpp"

namespace tracemark::campaigns {

std::string ipv4_text(std::uint32_t address);

class SimulatedNetwork {
 public:
  // mobile_users: accounts that sometimes use a mobile carrier; each carrier's pool has a quarter as
  // many addresses (a carrier's pool is shared by its subscribers, few of whom are our customers).
  SimulatedNetwork(std::uint64_t seed, std::size_t mobile_users);

  // A household's address at `seconds` into the period (its lease changes every 3 to 60 days).
  std::uint32_t household_address(std::uint32_t household, double seconds) const;
  // An address of a residential ISP that no simulated household holds (proxy services' exits).
  std::uint32_t residential_exit(std::uint64_t index) const;
  // A mobile carrier's pool address for one session.
  std::uint32_t mobile_address(unsigned carrier, std::uint64_t session) const;
  unsigned carriers() const noexcept { return 4; }
  // A company's egress addresses: `count` consecutive addresses of its own block.
  std::uint32_t company_egress(std::uint32_t company, unsigned which) const;
  // Cloud (datacenter) addresses: batch customers' servers, datacenter proxies.
  std::uint32_t cloud_address(std::uint64_t index) const;

  // The popular client libraries and browsers, most popular first (their Zipf weights in `weights`).
  const std::vector<std::string>& popular_agents() const noexcept { return popular_agents_; }
  const std::vector<double>& popular_weights() const noexcept { return popular_weights_; }
  std::string_view plugin_agent(unsigned version) const;
  unsigned plugin_versions() const noexcept { return 3; }

 private:
  std::uint64_t seed_;
  std::uint32_t mobile_pool_size_;
  std::vector<std::string> popular_agents_;
  std::vector<double> popular_weights_;
};

}  // namespace tracemark::campaigns
