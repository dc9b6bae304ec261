#include "simulated_network.hpp"

#include <algorithm>
#include <array>

namespace tracemark::campaigns {
namespace {

// First octets of the residential ISPs' blocks, mobile carriers', companies' and clouds'.
constexpr std::array<std::uint32_t, 12> kResidential = {24, 67, 68, 71, 73, 76, 98, 99, 108, 174, 184, 189};
constexpr std::array<std::uint32_t, 4> kMobile = {172, 107, 166, 174};
constexpr std::array<std::uint32_t, 4> kCompany = {198, 204, 207, 216};
constexpr std::array<std::uint32_t, 5> kCloud = {3, 13, 34, 35, 52};

std::uint32_t in_block(std::uint32_t first_octet, std::uint64_t hash) {
  // Avoid .0 and .255 host parts so every address looks like a host.
  std::uint32_t rest = static_cast<std::uint32_t>(hash & 0xFFFFFF);
  if ((rest & 0xFF) == 0 || (rest & 0xFF) == 255) rest ^= 0x01;
  if ((rest & 0xFF) == 255) rest -= 1;
  return (first_octet << 24) | rest;
}

}  // namespace

std::string ipv4_text(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 255) + "." +
         std::to_string((address >> 8) & 255) + "." + std::to_string(address & 255);
}

SimulatedNetwork::SimulatedNetwork(std::uint64_t seed, std::size_t mobile_users)
    : seed_(seed), mobile_pool_size_(static_cast<std::uint32_t>(std::max<std::size_t>(64, mobile_users / 4))) {
  popular_agents_ = {
      "OpenAI/Python 1.51.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
      "openai-node/4.67.3", "python-requests/2.32.3", "OpenAI/Python 1.50.2",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
      "python-httpx/0.27.2", "curl/8.5.0", "OpenAI/Python 1.47.1", "langchain-openai/0.2.2 (OpenAI/Python 1.51.0)",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
      "Go-http-client/2.0", "axios/1.7.7", "openai-node/4.62.1", "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
      "okhttp/4.12.0", "Java-http-client/17.0.12", "llama-index/0.11.17", "curl/7.81.0", "Dart/3.5 (dart:io)",
      "PostmanRuntime/7.42.0", "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
      "OpenAI/Python 1.40.6", "ruby-openai/7.1.0", "OpenAI/Python 1.35.15"};
  popular_weights_ = zipf_weights(popular_agents_.size(), 1.1);
}

std::uint32_t SimulatedNetwork::household_address(std::uint32_t household, double seconds) const {
  const std::uint64_t h = mix64(seed_, purpose_tag("household"), household);
  const double lease_days = 3.0 + static_cast<double>(h % 58);
  const double phase = static_cast<double>((h >> 8) % 1000) / 1000.0;
  const auto lease = static_cast<std::uint64_t>(seconds / (lease_days * 86400.0) + phase);
  const std::uint32_t isp = kResidential[(h >> 20) % kResidential.size()];
  return in_block(isp, mix64(h, lease));
}

std::uint32_t SimulatedNetwork::residential_exit(std::uint64_t index) const {
  const std::uint64_t h = mix64(seed_, purpose_tag("residential-exit"), index);
  return in_block(kResidential[h % kResidential.size()], h >> 8);
}

std::uint32_t SimulatedNetwork::mobile_address(unsigned carrier, std::uint64_t session) const {
  const std::uint64_t slot = mix64(seed_ ^ carrier, purpose_tag("mobile-session"), session) % mobile_pool_size_;
  return in_block(kMobile[carrier % kMobile.size()], mix64(seed_, purpose_tag("mobile-pool") + carrier, slot));
}

std::uint32_t SimulatedNetwork::company_egress(std::uint32_t company, unsigned which) const {
  const std::uint64_t h = mix64(seed_, purpose_tag("company-block"), company);
  const std::uint32_t base = in_block(kCompany[h % kCompany.size()], (h >> 8) & 0xFFFFF0);
  return base + 1 + which % 12;
}

std::uint32_t SimulatedNetwork::cloud_address(std::uint64_t index) const {
  const std::uint64_t h = mix64(seed_, purpose_tag("cloud"), index);
  return in_block(kCloud[h % kCloud.size()], h >> 8);
}

std::string_view SimulatedNetwork::plugin_agent(unsigned version) const {
  static constexpr std::array<std::string_view, 3> kPlugins = {"CodeAssist/1.8.2 (vscode/1.94.2)",
                                                               "CodeAssist/2.0.1 (jetbrains/2024.2.3)",
                                                               "CodeAssist-Enterprise/3.1.0 (vscode/1.93.1)"};
  return kPlugins[version % kPlugins.size()];
}

}  // namespace tracemark::campaigns
