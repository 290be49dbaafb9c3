// The Prometheus endpoint over real loopback TCP: what a scraper gets, what anything else gets,
// and clients that send too much or nothing.

#include "cli/metrics_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "keys/file_descriptor.hpp"
#include "tests/support/client_socket.hpp"
#include "tests/support/io_thread.hpp"
#include "tests/support/status_sample.hpp"

namespace mailtun::cli {
namespace {

using namespace std::chrono_literals;
using testing::read_to_end;
using testing::Socket;

class MetricsServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) io_.run([this] { server_->stop(); });
  }

  void start(std::chrono::milliseconds timeout = MetricsServer::default_client_timeout) {
    server_ = io_.run([&] {
      auto server = std::make_shared<MetricsServer>(
          io_.executor(), boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0),
          testing::sample_status, timeout);
      server->start();
      return server;
    });
    port_ = server_->local_endpoint().port();
  }

  /// Sends `request` as it is and returns the whole answer.
  std::string exchange(const std::string& request) {
    const auto fd = testing::connect_loopback(port_);
    // A server at its cap may close before the request is out: the caller sees that answer.
    if (::send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      return std::string("send failed: ") + std::strerror(errno);
    }
    return read_to_end(fd->get(), 5s);
  }

  testing::IoThread io_;
  std::shared_ptr<MetricsServer> server_;
  std::uint16_t port_ = 0;
};

TEST_F(MetricsServerTest, GetMetricsAnswersTheExposition) {
  start();
  const std::string body = render_prometheus(testing::sample_status());
  EXPECT_EQ(exchange("GET /metrics HTTP/1.1\r\nHost: vps\r\nUser-Agent: Prometheus/2.42.0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; version=0.0.4\r\n"
            "Connection: close\r\n"
            "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST_F(MetricsServerTest, Http10AndAQueryStringAreFine) {
  start();
  const std::string answer = exchange("GET /metrics?format=text HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.0 200 OK\r\n")) << answer;
  EXPECT_TRUE(answer.ends_with(render_prometheus(testing::sample_status()))) << answer;
}

TEST_F(MetricsServerTest, OtherPathsAre404AndOtherMethods405) {
  start();
  EXPECT_TRUE(exchange("GET / HTTP/1.1\r\nHost: vps\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_TRUE(exchange("GET /metricsx HTTP/1.1\r\nHost: vps\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
  const std::string post = exchange("POST /metrics HTTP/1.1\r\nHost: vps\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << post;
  EXPECT_NE(post.find("\r\nAllow: GET\r\n"), std::string::npos) << post;
}

TEST_F(MetricsServerTest, GarbageIs400) {
  start();
  EXPECT_TRUE(exchange("HELO example.org\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
}

TEST_F(MetricsServerTest, AnOverlongHeadIs431AndClosed) {
  start();
  const std::string answer =
      exchange("GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(MetricsServer::max_request_head, 'a') + "\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")) << answer.substr(0, 200);
}

TEST_F(MetricsServerTest, ASilentClientIsClosedAtTheDeadlineAndBlocksNobody) {
  start(300ms);
  const auto silent = testing::connect_loopback(port_);
  EXPECT_TRUE(exchange("GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_end(silent->get(), 5s), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(MetricsServerTest, ClientsBeyondTheCapAreClosedUnanswered) {
  start(60s);
  std::vector<Socket> silent;
  for (std::size_t i = 0; i < MetricsServer::max_clients; ++i) silent.push_back(testing::connect_loopback(port_));
  const auto ask_until = [&](auto done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::string answer = exchange("GET /metrics HTTP/1.1\r\n\r\n");
    while (!done(answer) && std::chrono::steady_clock::now() < deadline)
      answer = exchange("GET /metrics HTTP/1.1\r\n\r\n");
    return answer;
  };
  // The server accepts the silent clients in its own time; until it has, a request may be served.
  const std::string refused = ask_until([](const std::string& answer) { return !answer.starts_with("HTTP/"); });
  EXPECT_FALSE(refused.starts_with("HTTP/")) << refused;
  silent.clear();
  const std::string served = ask_until([](const std::string& answer) { return answer.starts_with("HTTP/"); });
  EXPECT_TRUE(served.starts_with("HTTP/1.1 200 OK\r\n")) << served;
}

TEST_F(MetricsServerTest, AnAddressInUseIsNamed) {
  start();
  try {
    io_.run([&] {
      auto second = std::make_shared<MetricsServer>(
          io_.executor(), boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_),
          testing::sample_status);
      second->start();
    });
    FAIL() << "bound an address in use";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "metrics_listen 127.0.0.1:" + std::to_string(port_) + ": cannot listen: Address already in use");
  }
}

}  // namespace
}  // namespace mailtun::cli
