#pragma once
// Loopback plumbing for in-process tests on one io_context: a free port, a TCP connection whose two
// ends the test holds, an echo service, and a non-blocking reader that the loop can poll.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mailtun::testing {

namespace net = boost::asio;
using tcp = net::ip::tcp;

inline const net::ip::address_v4 loopback = net::ip::make_address_v4("127.0.0.1");

/// A port that was free on 127.0.0.1 a moment ago, for configurations that must name each other's
/// ports before either side binds (both endpoints of a pair dial the other at start).
inline std::uint16_t free_loopback_port(net::io_context& io) {
  tcp::acceptor probe(io, tcp::endpoint(loopback, 0));
  return probe.local_endpoint().port();
}

/// Both ends of one loopback TCP connection. `a_send_buffer` and `b_receive_buffer` (0: the kernel's
/// default, which grows with use) are set before connecting, so a test can keep the kernel from
/// absorbing much of what flows from a to b.
struct SocketPair {
  tcp::socket a;
  tcp::socket b;
};
inline SocketPair loopback_pair(net::io_context& io, int a_send_buffer = 0, int b_receive_buffer = 0) {
  tcp::acceptor acceptor(io);
  acceptor.open(tcp::v4());
  if (b_receive_buffer > 0) acceptor.set_option(net::socket_base::receive_buffer_size(b_receive_buffer));
  acceptor.bind(tcp::endpoint(loopback, 0));
  acceptor.listen();
  tcp::socket a(io);
  a.open(tcp::v4());
  if (a_send_buffer > 0) a.set_option(net::socket_base::send_buffer_size(a_send_buffer));
  a.connect(acceptor.local_endpoint());
  tcp::socket b(io);
  acceptor.accept(b);
  return {std::move(a), std::move(b)};
}

/// Reads whatever has arrived without blocking; `eof` once the other side finished, `failed` on an
/// error (a reset).
struct PolledReader {
  explicit PolledReader(tcp::socket& s) : socket(s) { socket.non_blocking(true); }

  /// Takes what is there now; returns how many bytes.
  std::size_t poll() {
    std::size_t total = 0;
    std::vector<std::uint8_t> chunk(64 * 1024);
    for (int i = 0; i < 1024 && !eof && !failed; ++i) {
      boost::system::error_code ec;
      const std::size_t n = socket.read_some(net::buffer(chunk), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) break;
      if (ec == net::error::eof) {
        eof = true;
      } else if (ec) {
        failed = true;
      } else {
        received.insert(received.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        total += n;
      }
    }
    return total;
  }
  [[nodiscard]] std::string text() const { return {received.begin(), received.end()}; }

  tcp::socket& socket;
  std::vector<std::uint8_t> received;
  bool eof = false;
  bool failed = false;
};

/// Echoes every connection's bytes back, on the test's loop.
class EchoService {
 public:
  explicit EchoService(net::io_context& io) : acceptor_(io, tcp::endpoint(loopback, 0)) { accept(); }
  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] std::size_t accepted() const { return accepted_; }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    void read() {
      socket.async_read_some(net::buffer(buffer), [self = shared_from_this()](auto ec, std::size_t n) {
        boost::system::error_code ignored;
        if (ec) return void(self->socket.close(ignored));
        net::async_write(self->socket, net::buffer(self->buffer.data(), n),
                         [self](auto write_ec, std::size_t) {
                           if (!write_ec) self->read();
                         });
      });
    }
    tcp::socket socket;
    std::array<std::uint8_t, 4096> buffer{};
  };

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      ++accepted_;
      std::make_shared<Session>(std::move(socket))->read();
      accept();
    });
  }

  tcp::acceptor acceptor_;
  std::size_t accepted_ = 0;
};

}  // namespace mailtun::testing
