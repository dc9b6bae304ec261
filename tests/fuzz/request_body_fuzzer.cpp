// libFuzzer target: request bodies of `tracemark serve` (parse_completion_request, both
// endpoints). Only ApiError (an HTTP 4xx answer) may escape parsing; a 5xx would be a bug.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tracemark/serving/openai_protocol.hpp"
#include "tracemark/verify/utf8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  tracemark::serving::RequestLimits limits;
  limits.model_name = "tiny";
  for (const auto endpoint : {tracemark::serving::Endpoint::chat_completions, tracemark::serving::Endpoint::completions}) {
    try {
      const auto request = tracemark::serving::parse_completion_request(body, endpoint, limits);
      if (endpoint == tracemark::serving::Endpoint::chat_completions) tracemark::serving::render_chat_prompt(request.messages);
      tracemark::replace_invalid_utf8(request.prompt_text);
    } catch (const tracemark::serving::ApiError& e) {
      if (e.status() < 400 || e.status() >= 500) std::abort();
      e.body();
    }
  }
  return 0;
}
