#include "guarded_http_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tracemark::serving {
namespace {

using Clock = std::chrono::steady_clock;

// poll() for one event on one socket, retrying after signals; > 0 when the event is there.
int wait_for(socket_t sock, short events, std::chrono::milliseconds timeout) {
  pollfd descriptor{sock, events, 0};
  for (;;) {
    const int ready = ::poll(&descriptor, 1, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

std::string numeric_host(const sockaddr_storage& address, socklen_t length) {
  char host[NI_MAXHOST] = "";
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0) {
    return {};
  }
  return host;
}

int port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  return 0;
}

// The numeric host and port of one end of a socket: getpeername for the client, getsockname for us.
using SocketEndGetter = int (*)(int, sockaddr*, socklen_t*);
void socket_end(SocketEndGetter get, socket_t sock, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (get(sock, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    ip = numeric_host(address, length);
    port = port_of(address);
  }
}

std::string peer_address(socket_t sock) {
  std::string ip;
  int port = 0;
  socket_end(::getpeername, sock, ip, port);
  return ip;
}

// The stream httplib reads one request from and writes its response to. Reads stop (fail) at the
// request's deadline and after max_bytes: a client cannot keep a worker by trickling bytes, nor
// grow the headers without bound. Writes have the server's write timeout per call, as httplib's own.
class DeadlineSocketStream : public httplib::Stream {
 public:
  // cut_off (shared with the server's record of this connection; guarded by `mutex`) says why
  // reading stopped early, if it did.
  DeadlineSocketStream(socket_t sock, Clock::time_point deadline, std::size_t max_bytes, std::chrono::milliseconds read_timeout,
                       std::chrono::milliseconds write_timeout, std::mutex& mutex, std::string& cut_off)
      : sock_(sock), deadline_(deadline), max_bytes_(max_bytes), read_timeout_(read_timeout), write_timeout_(write_timeout),
        mutex_(mutex), cut_off_(cut_off) {}

  bool is_readable() const override {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) {
      mark("request_timeout");
      return false;
    }
    const bool deadline_first = left <= read_timeout_;
    const int ready = wait_for(sock_, POLLIN, deadline_first ? left : read_timeout_);
    if (ready > 0) return true;
    if (ready == 0 && deadline_first) mark("request_timeout");
    return false;
  }

  bool cut_off() const {
    const std::lock_guard lock(mutex_);
    return !cut_off_.empty();
  }

  bool is_writable() const override {
    if (wait_for(sock_, POLLOUT, write_timeout_) <= 0) return false;
    // Still connected: a readable socket that gives no byte to peek at was closed by the client.
    if (wait_for(sock_, POLLIN, std::chrono::milliseconds(0)) <= 0) return true;
    char byte = 0;
    return ::recv(sock_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered_begin_ < buffered_end_) {
      const std::size_t n = std::min(size, buffered_end_ - buffered_begin_);
      std::memcpy(ptr, buffer_.data() + buffered_begin_, n);
      buffered_begin_ += n;
      return static_cast<ssize_t>(n);
    }
    if (read_total_ >= max_bytes_) {
      mark("request_too_large");
      return -1;
    }
    if (!is_readable()) return -1;
    // httplib reads request lines a byte at a time: read ahead into a small buffer, as its own
    // socket stream does.
    const std::size_t room = std::min(buffer_.size(), max_bytes_ - read_total_);
    ssize_t got = 0;
    do {
      got = ::recv(sock_, buffer_.data(), room, 0);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return got;
    read_total_ += static_cast<std::size_t>(got);
    buffered_begin_ = 0;
    buffered_end_ = static_cast<std::size_t>(got);
    return read(ptr, size);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t sent = 0;
    do {
      sent = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { socket_end(::getpeername, sock_, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { socket_end(::getsockname, sock_, ip, port); }

  socket_t socket() const override { return sock_; }

 private:
  void mark(const char* reason) const {
    const std::lock_guard lock(mutex_);
    cut_off_ = reason;
  }

  socket_t sock_;
  Clock::time_point deadline_;
  std::size_t max_bytes_;
  std::chrono::milliseconds read_timeout_, write_timeout_;
  std::vector<char> buffer_ = std::vector<char>(4096);
  std::size_t buffered_begin_ = 0, buffered_end_ = 0;
  std::size_t read_total_ = 0;
  std::mutex& mutex_;
  std::string& cut_off_;
};

// Releases a connection slot when the connection ends, however it ends.
class SlotRelease {
 public:
  explicit SlotRelease(std::function<void()> release) : release_(std::move(release)) {}
  ~SlotRelease() { release_(); }
  SlotRelease(const SlotRelease&) = delete;
  SlotRelease& operator=(const SlotRelease&) = delete;

 private:
  std::function<void()> release_;
};

}  // namespace

ConnectionState GuardedHttpServer::current_connection() const {
  const std::lock_guard lock(mutex_);
  const auto it = serving_.find(std::this_thread::get_id());
  return it == serving_.end() ? ConnectionState{} : it->second;
}

bool GuardedHttpServer::acquire_slot(const std::string& address) {
  const std::lock_guard lock(mutex_);
  unsigned& open = connections_[address];
  if (open >= guards_.max_connections_per_address) {
    if (open == 0) connections_.erase(address);
    return false;
  }
  ++open;
  return true;
}

void GuardedHttpServer::release_slot(const std::string& address) {
  const std::lock_guard lock(mutex_);
  const auto it = connections_.find(address);
  if (it != connections_.end() && --it->second == 0) connections_.erase(it);
}

void GuardedHttpServer::refuse(socket_t sock, const std::string& address) {
  const std::string response = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(guards_.refusal_body.size()) + "\r\nConnection: close\r\n\r\n" +
                               guards_.refusal_body;
  if (wait_for(sock, POLLOUT, std::chrono::milliseconds(100)) > 0) ::send(sock, response.data(), response.size(), MSG_NOSIGNAL);
  ::shutdown(sock, SHUT_WR);
  // Read what the client already sent, briefly, so that closing does not reset the connection
  // before it has read the answer; never wait long: this worker is wanted elsewhere.
  char discard[4096];
  const auto until = Clock::now() + std::chrono::milliseconds(50);
  while (Clock::now() < until &&
         wait_for(sock, POLLIN, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now())) > 0 &&
         ::recv(sock, discard, sizeof discard, 0) > 0) {
  }
  if (guards_.on_refused) guards_.on_refused(address, "too_many_connections");
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  const std::string address = peer_address(sock);
  bool ok = false;
  if (!acquire_slot(address)) {
    refuse(sock, address);
  } else {
    std::string* cut_off = nullptr;
    {
      const std::lock_guard lock(mutex_);
      ConnectionState& state = serving_[std::this_thread::get_id()];
      state = {address, {}};
      cut_off = &state.cut_off;  // std::map keeps element addresses stable
    }
    const SlotRelease release([this, &address] {
      release_slot(address);
      const std::lock_guard lock(mutex_);
      serving_.erase(std::this_thread::get_id());
    });
    const std::chrono::milliseconds read_timeout(read_timeout_sec_ * 1000 + read_timeout_usec_ / 1000);
    const std::chrono::milliseconds write_timeout(write_timeout_sec_ * 1000 + write_timeout_usec_ / 1000);
    const std::chrono::milliseconds keep_alive(keep_alive_timeout_sec_ * 1000);
    // httplib's keep-alive loop: up to keep_alive_max_count_ requests, each awaited for at most the
    // keep-alive timeout (in short steps, so that stop() is not kept waiting).
    for (std::size_t remaining = keep_alive_max_count_; remaining > 0 && svr_sock_ != INVALID_SOCKET; --remaining) {
      bool readable = false;
      for (auto waited = std::chrono::milliseconds(0); waited < keep_alive && svr_sock_ != INVALID_SOCKET;
           waited += std::chrono::milliseconds(100)) {
        const int ready = wait_for(sock, POLLIN, std::chrono::milliseconds(100));
        if (ready != 0) {
          readable = ready > 0;
          break;
        }
      }
      if (!readable) break;
      {
        const std::lock_guard lock(mutex_);
        cut_off->clear();
      }
      DeadlineSocketStream stream(sock, Clock::now() + guards_.request_timeout, guards_.max_request_bytes, read_timeout,
                                  write_timeout, mutex_, *cut_off);
      bool connection_closed = false;
      ok = process_request(stream, remaining == 1, connection_closed, nullptr);
      // A request cut off part-way leaves the rest of its bytes unread: never read them as a next request.
      if (stream.cut_off()) {
        std::string reason;
        {
          const std::lock_guard lock(mutex_);
          reason = *cut_off;
        }
        if (guards_.on_refused) guards_.on_refused(address, reason);
        break;
      }
      if (!ok || connection_closed) break;
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace tracemark::serving
