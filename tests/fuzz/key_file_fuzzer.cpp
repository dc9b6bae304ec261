// libFuzzer target: key files (WatermarkKey::parse, the checks of WatermarkKey::load but the
// file's mode). Nothing but tracemark::Error may escape; a key that loads must save and reload.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tracemark::WatermarkKey key =
        tracemark::WatermarkKey::parse(std::string_view(reinterpret_cast<const char*>(data), size), "<fuzz>");
    key.params().validate();
    if (key.public_json().find("\"secret\"") != std::string::npos) std::abort();  // the secret never leaves
  } catch (const tracemark::Error&) {
  }
  return 0;
}
