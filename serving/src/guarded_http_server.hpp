// cpp-httplib's server with two guards against clients that hold connections open without sending
// requests (slowloris), which would otherwise tie up every worker thread, the health check's too:
//   - each request (request line, headers and body) must arrive whole within request_timeout of its
//     first byte, and may not exceed max_request_bytes; otherwise the connection is closed;
//   - one client address holds at most max_connections_per_address connections at a time; a
//     connection over the cap gets 429 and is closed at once, so the other workers stay free.
// httplib runs each connection on one worker from accept to close (keep-alive included); this class
// replaces only that per-connection loop (httplib's process_and_close_socket, a virtual member
// meant to be overridden), reading through a stream that enforces the deadline, and leaves request
// parsing and routing to httplib.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <httplib.h>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace tracemark::serving {

struct ConnectionGuards {
  std::chrono::milliseconds request_timeout{10'000};
  std::size_t max_request_bytes = (1 << 20) + (64 << 10);  // body limit plus room for headers
  unsigned max_connections_per_address = 4;
  // The body of the 429 response to a connection over the cap (a JSON error object).
  std::string refusal_body;
  // Called (on the worker thread) with the client's address and the reason for each connection
  // refused ("too_many_connections") or cut off ("request_timeout", "request_too_large").
  std::function<void(const std::string& address, const std::string& reason)> on_refused;
};

// What the worker thread serving a connection knows about it.
struct ConnectionState {
  std::string address;  // the client's numeric address
  // Why reading the current request stopped early: "request_timeout" (its deadline passed),
  // "request_too_large" (over max_request_bytes), or empty.
  std::string cut_off;
};

// Thread-safe as httplib::Server is: handlers run on the worker threads.
class GuardedHttpServer : public httplib::Server {
 public:
  explicit GuardedHttpServer(ConnectionGuards guards) : guards_(std::move(guards)) {}

  // The connection the calling worker thread is serving (for handlers and the error handler, which
  // httplib gives no client address when the request line itself could not be read).
  ConnectionState current_connection() const;

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Takes a connection slot of `address`; false when it already holds the maximum.
  bool acquire_slot(const std::string& address);
  void release_slot(const std::string& address);
  void refuse(socket_t sock, const std::string& address);

  ConnectionGuards guards_;
  mutable std::mutex mutex_;
  std::map<std::string, unsigned> connections_;                  // open connections by client address
  std::map<std::thread::id, ConnectionState> serving_;            // by worker thread
};

}  // namespace tracemark::serving
