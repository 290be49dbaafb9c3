// The I/O shell against a peer that holds valid keys and misbehaves on a real loopback socket
// (issue 13, "the holes an independent review found").

#include "tunnel/asio/connection.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <limits>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "tests/unit/tunnel/support/session_pair.hpp"

namespace mailtun::tunnel::asio {
namespace {

using namespace std::chrono_literals;
using testing::ByteVector;

/// Records what one stream was told.
class RecordingSink : public StreamSink {
 public:
  void on_data(Bytes data) override { received.insert(received.end(), data.begin(), data.end()); }
  void on_fin() override {}
  void on_reset(const StreamReset&) override { reset = true; }
  void on_writable() override { ++writable; }

  ByteVector received;
  bool reset = false;
  int writable = 0;
};

class RecordingHandler : public ConnectionHandler {
 public:
  void on_established(Connection&) override {}
  void on_confirmed(Connection& connection) override {
    if (close_when_confirmed) connection.close_now({CloseReason::Kind::local, {}});
  }
  void on_stream_opened(Connection& connection, StreamId id, const OpenPayload&) override {
    opened.push_back(id);
    connection.attach(id, sink);
  }
  void on_peer_going_away(Connection&) override {}
  void on_closed(Connection&, const CloseReason&) override { closed = true; }

  bool close_when_confirmed = false;
  std::shared_ptr<RecordingSink> sink = std::make_shared<RecordingSink>();
  std::vector<StreamId> opened;
  bool closed = false;
};

/// The victim is a responding Connection on one end of a loopback TCP connection; the test is the
/// dialing peer on the other end, with the right keys, writing records by hand.
class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    responder_.add_peer(keys_.office.public_key(), keys_.psk);
    tcp::acceptor acceptor(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    // A small receive buffer, set before connecting, keeps the kernel from absorbing much of what
    // the victim writes to a peer that does not read.
    peer_.open(tcp::v4());
    peer_.set_option(net::socket_base::receive_buffer_size(64 * 1024));
    peer_.connect(acceptor.local_endpoint());
    tcp::socket victim_socket(io_);
    acceptor.accept(victim_socket);
    victim_fd_ = victim_socket.native_handle();
    connection_ = Connection::accept(std::move(victim_socket), responder_, {}, handler_);
    connection_->start();

    auto initiator = Initiator::start(keys_.office, keys_.vps.public_key(), keys_.psk,
                                      Tai64n::from_system_time(std::chrono::system_clock::now()));
    ASSERT_TRUE(initiator);
    net::write(peer_, net::buffer(initiator->initiation()));
    ByteVector response(response_wire_len);
    ASSERT_TRUE(run_until([&] { return peer_.available() >= response.size(); }));
    net::read(peer_, net::buffer(response));
    auto transport = initiator->on_response(response);
    ASSERT_TRUE(transport);
    encoder_.emplace(std::move(transport->send));
  }

  void TearDown() override {
    if (!connection_->closed()) connection_->close_now({CloseReason::Kind::local, {}});
  }

  /// Runs the loop until `done()` or a 5 s deadline; false at the deadline.
  template <typename Pred>
  bool run_until(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(5ms);
    }
    return true;
  }

  /// Seals `frames` as one record and writes it in one piece.
  void send_record(const ByteVector& frames) {
    ByteVector wire;
    ASSERT_TRUE(encoder_->seal(frames, wire));
    net::write(peer_, net::buffer(wire));
  }

  net::io_context io_;
  testing::Keys keys_;
  Responder responder_{keys_.vps};
  RecordingHandler handler_;
  tcp::socket peer_{io_};
  std::shared_ptr<Connection> connection_;
  std::optional<RecordEncoder> encoder_;
  int victim_fd_ = -1;
};

int socket_option(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  EXPECT_EQ(::getsockopt(fd, level, name, &value, &len), 0) << "option " << name;
  return value;
}

// Issue 14, "socket settings": the kernel gives up on a dead link when the session does (three
// keepalive intervals), even while writes wait for acknowledgement, and probes an idle one.
TEST_F(ConnectionTest, TheTunnelSocketGivesUpOnADeadLinkWhenTheSessionDoes) {
  const auto keepalive = connection_->session().limits().keepalive;
  EXPECT_EQ(socket_option(victim_fd_, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(socket_option(victim_fd_, IPPROTO_TCP, TCP_USER_TIMEOUT), 3 * keepalive.count());
  EXPECT_EQ(socket_option(victim_fd_, IPPROTO_TCP, TCP_KEEPIDLE),
            std::chrono::duration_cast<std::chrono::seconds>(keepalive).count());
  EXPECT_EQ(socket_option(victim_fd_, IPPROTO_TCP, TCP_KEEPCNT), 3);
}

// Issue 13, "a stream can outlive its connection": the tie-break closes a connection from inside
// on_confirmed; the OPEN and DATA that came in the same record must not reach an expose, which would
// deliver a message the peer saw reset.
TEST_F(ConnectionTest, NothingIsDeliveredAfterAHandlerClosesTheConnectionMidRead) {
  handler_.close_when_confirmed = true;
  ByteVector frames;
  encode_open(frames, 1, OpenPayload{"lmtp", {}, {}});
  const std::string message = "MAIL FROM:<a@example.org>\r\n";
  encode_data(frames, 1, Bytes(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
  send_record(frames);  // the first record: it confirms the session, then opens and sends

  ASSERT_TRUE(run_until([&] { return handler_.closed; }));
  EXPECT_TRUE(handler_.opened.empty()) << "a stream was opened on a closed connection";
  EXPECT_TRUE(handler_.sink->received.empty()) << "data was delivered on a closed connection";
}

// Issue 13, "unbounded buffering on the sending side": a peer grants nearly 4 GiB of credit and
// stops reading. What the victim queues must stay small however much its local client pushes, and
// sending resumes once the peer reads again.
TEST_F(ConnectionTest, APeerThatGrantsHugeCreditAndStopsReadingCannotGrowTheWriteQueue) {
  const StreamId id = 1;
  ByteVector frames;
  encode_open(frames, id, OpenPayload{"lmtp", {}, {}});
  encode_window(frames, id, std::numeric_limits<std::uint32_t>::max() - SessionLimits{}.initial_window);
  send_record(frames);
  ASSERT_TRUE(run_until([&] { return !handler_.opened.empty(); }));
  ASSERT_GT(connection_->send_credit(id), std::size_t{1} << 31) << "the peer's grant arrived";

  // A local client pushing 256 MiB, as a splice would: read only while there is credit.
  const ByteVector chunk(64 * 1024, 'x');
  constexpr std::size_t client_bytes = 256 * 1024 * 1024;
  std::size_t taken = 0;
  while (taken < client_bytes) {
    const std::size_t credit = connection_->send_credit(id);
    if (credit == 0) break;
    taken += connection_->send(id, Bytes(chunk).first(std::min(credit, chunk.size())));
    io_.poll();
  }
  // What the kernel's socket buffers took, plus the write queue's low mark and one read.
  EXPECT_LT(taken, std::size_t{16} * 1024 * 1024) << "the victim queued what the peer never read";
  EXPECT_FALSE(connection_->closed());

  // The peer reads again: the stream hears it may send, and has credit.
  const int writable_before = handler_.sink->writable;
  peer_.non_blocking(true);
  std::vector<std::uint8_t> drain(256 * 1024);
  ASSERT_TRUE(run_until([&] {
    boost::system::error_code ignored;
    while (peer_.read_some(net::buffer(drain), ignored) > 0) {
    }
    return handler_.sink->writable > writable_before;
  }));
  EXPECT_GT(connection_->send_credit(id), 0U);
}

}  // namespace
}  // namespace mailtun::tunnel::asio
