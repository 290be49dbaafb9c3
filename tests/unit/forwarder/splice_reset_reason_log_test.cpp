// The reason a peer gives in an RST is the peer's text: when a forward's stream is refused, the log
// line that names the reason must stay one line, with control bytes escaped, so a peer cannot forge
// log lines or send escape sequences to the terminal that shows the journal.

#include "forwarder/splice.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "tests/unit/tunnel/support/connection_pair.hpp"

namespace mailtun::forwarder {
namespace {

using mailtun::testing::run_until;

/// Sends spdlog's default logger to a string for the test's lifetime, message text only.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("captured", std::make_shared<spdlog::sinks::ostream_sink_st>(text_));
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  [[nodiscard]] std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(text_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Guards the escaping of a peer's RST reason in the forward's "stream refused" line: printed raw,
// the newline would start a second line that reads like the endpoint's own.
TEST(SpliceResetReasonLogTest, APeersResetReasonIsLoggedAsOneEscapedLine) {
  boost::asio::io_context io;
  tunnel::testing::ConnectionPair pair(io);
  ASSERT_TRUE(pair.connect());
  const std::string forged = "peer vps down: forged";
  const std::string reason = "no\n" + forged + "\x1b[2J";
  pair.listener_handler.on_open = [&](tunnel::asio::Connection& connection, tunnel::StreamId id,
                                      const tunnel::OpenPayload&) {
    connection.reset(id, tunnel::ResetCode::not_allowed, reason);
  };

  CapturedLog log;
  // A local client on a forward: its stream is refused before anything moved.
  auto local = mailtun::testing::loopback_pair(io);
  const auto id = pair.dialer->open_stream(tunnel::OpenPayload{"relay", {}, {}});
  ASSERT_TRUE(id);
  auto splice = std::make_shared<Splice>(Splice::Side::forward, std::move(local.a), pair.dialer, *id, Protocol::tcp,
                                         std::make_shared<ServiceCounters>(), "relay", "vps");
  pair.dialer->attach(*id, splice);
  splice->start();
  mailtun::testing::PolledReader client(local.b);
  ASSERT_TRUE(run_until(io, [&] {
    client.poll();
    return client.eof || client.failed;
  })) << "the refused stream's client was not closed";

  const auto lines = log.lines();
  const auto refused = std::ranges::count_if(lines, [](const std::string& l) { return l.find("stream refused") != std::string::npos; });
  ASSERT_EQ(refused, 1) << "expected one line naming the refusal";
  const std::string& line = *std::ranges::find_if(lines, [](const std::string& l) { return l.find("stream refused") != std::string::npos; });
  EXPECT_TRUE(line.find("no\\x0a" + forged + "\\x1b[2J") != std::string::npos) << line;
  for (const std::string& l : lines) {
    EXPECT_FALSE(l.starts_with(forged)) << "a forged line: " << l;
    EXPECT_FALSE(l.find('\x1b') != std::string::npos) << "a raw escape character: " << l;
  }
}

}  // namespace
}  // namespace mailtun::forwarder
