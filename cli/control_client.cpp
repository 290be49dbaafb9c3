#include "cli/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "keys/file_descriptor.hpp"

namespace mailtun::cli {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(int error, const char* step) { throw std::system_error(error, std::generic_category(), step); }

/// Waits until `fd` is ready for `events` or the deadline passes (ETIMEDOUT).
void wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) fail(ETIMEDOUT, "waiting for the endpoint");
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left));
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) fail(errno, "poll");
  }
}

}  // namespace

std::string ask_control_socket(const std::filesystem::path& path, std::string_view request,
                               std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof(address.sun_path)) fail(ENAMETOOLONG, "connect");
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);

  const keys::FileDescriptor socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (socket.get() < 0) fail(errno, "socket");
  // A unix socket connects at once or fails at once (EAGAIN: the endpoint's backlog is full).
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
    fail(errno, "connect");

  std::string line = std::string(request) + "\n";
  std::string_view unsent = line;
  while (!unsent.empty()) {
    wait_for(socket.get(), POLLOUT, deadline);
    const ssize_t n = ::send(socket.get(), unsent.data(), unsent.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) fail(errno, "send");
    if (n > 0) unsent.remove_prefix(static_cast<std::size_t>(n));
  }

  std::string answer;
  std::array<char, 16384> buffer{};
  for (;;) {
    wait_for(socket.get(), POLLIN, deadline);
    const ssize_t n = ::recv(socket.get(), buffer.data(), buffer.size(), 0);
    if (n == 0) return answer;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail(errno, "recv");
    }
    answer.append(buffer.data(), static_cast<std::size_t>(n));
    if (answer.size() > max_control_answer) fail(EMSGSIZE, "recv");
  }
}

}  // namespace mailtun::cli
