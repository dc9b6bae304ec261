// The one error type of tracemark's C++ code. Every library reports failure by throwing
// tracemark::Error; the CLI maps codes to exit statuses and the C ABI (bindings) maps them to its
// fixed enum, so no exception crosses a C boundary.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tracemark {

enum class ErrorCode {
  invalid_argument,  // a parameter out of its documented range (caller's mistake)
  invalid_input,     // malformed or inconsistent data in a file or record
  io,                // a file could not be read or written
  permission,        // a secret file with unsafe permissions
  unsupported,       // a format version or scheme this build does not know
  internal,          // a broken invariant: a bug in tracemark
};

std::string_view error_code_name(ErrorCode code) noexcept;

// Message contract: says what is wrong, where (file, line, byte offset when known) and what to do.
// Never contains secret material.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace tracemark
