#pragma once
// Test support: two Connections, a dialing one and an accepting one, joined by a loopback TCP
// connection on one io_context, handshaken and confirmed. Streams the peer opens go to a callback.

#include <functional>
#include <memory>

#include "tests/support/loopback.hpp"
#include "tests/support/run_until.hpp"
#include "tests/unit/tunnel/support/session_pair.hpp"
#include "tunnel/asio/connection.hpp"

namespace mailtun::tunnel::testing {

/// Records what one stream was told, and when: data or a FIN after the reset would be a bug.
class RecordingSink : public asio::StreamSink {
 public:
  void on_data(Bytes data) override {
    if (reset) ++events_after_reset;
    received.insert(received.end(), data.begin(), data.end());
  }
  void on_fin() override {
    if (reset) ++events_after_reset;
    fin = true;
  }
  void on_reset(const StreamReset& r) override {
    if (reset) ++events_after_reset;
    reset = r;
  }
  void on_writable() override { ++writable; }

  ByteVector received;
  bool fin = false;
  std::optional<StreamReset> reset;
  int events_after_reset = 0;
  int writable = 0;
};

/// Hands streams the peer opens to `on_open` (which attaches a sink or resets); records the close.
class CallbackHandler : public asio::ConnectionHandler {
 public:
  using OnOpen = std::function<void(asio::Connection&, StreamId, const OpenPayload&)>;

  void on_established(asio::Connection&) override { established = true; }
  void on_confirmed(asio::Connection&) override { confirmed = true; }
  void on_stream_opened(asio::Connection& connection, StreamId id, const OpenPayload& open) override {
    if (on_open) return on_open(connection, id, open);
    connection.reset(id, ResetCode::unknown_service, "no handler");
  }
  void on_peer_going_away(asio::Connection&) override {}
  void on_closed(asio::Connection&, const CloseReason& reason) override { closed = reason; }

  OnOpen on_open;
  bool established = false;
  bool confirmed = false;
  std::optional<CloseReason> closed;
};

class ConnectionPair {
 public:
  explicit ConnectionPair(boost::asio::io_context& io) : io_(io) { responder_.add_peer(keys_.office.public_key(), keys_.psk); }
  ~ConnectionPair() {
    if (dialer && !dialer->closed()) dialer->close_now({CloseReason::Kind::local, {}});
    if (listener && !listener->closed()) listener->close_now({CloseReason::Kind::local, {}});
  }

  /// Connects, handshakes and waits until both sessions are ready; false if that did not happen.
  bool connect() {
    auto sockets = mailtun::testing::loopback_pair(io_);
    auto initiator = Initiator::start(keys_.office, keys_.vps.public_key(), keys_.psk,
                                      Tai64n::from_system_time(std::chrono::system_clock::now()));
    if (!initiator) return false;
    dialer = asio::Connection::dial(std::move(sockets.a), std::move(*initiator), 0, {}, dialer_handler);
    listener = asio::Connection::accept(std::move(sockets.b), responder_, {}, listener_handler);
    listener->start();
    dialer->start();
    return mailtun::testing::run_until(io_, [&] { return dialer->session().ready() && listener->session().ready(); });
  }

  CallbackHandler dialer_handler;
  CallbackHandler listener_handler;
  std::shared_ptr<asio::Connection> dialer;
  std::shared_ptr<asio::Connection> listener;

 private:
  boost::asio::io_context& io_;
  Keys keys_;
  Responder responder_{keys_.vps};
};

}  // namespace mailtun::tunnel::testing
