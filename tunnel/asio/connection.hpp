#pragma once
// The I/O shell around one Session: owns the tunnel TCP socket, one timer, and the write queue.
// Everything the Session outputs is applied in one place (apply()); stream events are routed to the
// StreamSink attached to each stream, connection events to the ConnectionHandler.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "tunnel/session.hpp"

namespace mailtun::tunnel::asio {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Connection;

/// Receives one stream's events (a splice in forwarder/). Called on the connection's strand.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void on_data(Bytes data) = 0;  // bytes valid only during the call
  virtual void on_fin() = 0;
  virtual void on_reset(const StreamReset& reset) = 0;
  virtual void on_writable() = 0;
};

/// Receives connection-level events (the endpoint).
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void on_established(Connection& connection) = 0;
  /// Responder only: the first record arrived; the session may replace an older one of its peer.
  virtual void on_confirmed(Connection& connection) = 0;
  /// The peer opened a stream: attach a sink, or reset it.
  virtual void on_stream_opened(Connection& connection, StreamId id, const OpenPayload& open) = 0;
  virtual void on_peer_going_away(Connection& connection) = 0;
  /// Called once; every stream has been reset before this.
  virtual void on_closed(Connection& connection, const CloseReason& reason) = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  static std::shared_ptr<Connection> dial(tcp::socket socket, Initiator initiator, std::size_t peer,
                                          const SessionLimits& limits, ConnectionHandler& handler);
  /// `admit`: see Responder::Admission.
  static std::shared_ptr<Connection> accept(tcp::socket socket, Responder& responder, const SessionLimits& limits,
                                            ConnectionHandler& handler, Responder::Admission admit = {});
  ~Connection();

  /// Starts reading; the handler hears from the connection from now on.
  void start();

  /// Opens a stream; attach() its sink before returning to the event loop.
  Result<StreamId> open_stream(const OpenPayload& open);
  void attach(StreamId id, std::shared_ptr<StreamSink> sink);
  /// Takes at most send_credit(id) bytes of `data`; returns how many.
  std::size_t send(StreamId id, Bytes data);
  void finish(StreamId id);
  /// Resets the stream and detaches its sink (which hears nothing more).
  void reset(StreamId id, ResetCode code, std::string_view reason);
  void consumed(StreamId id, std::size_t n);
  /// The stream's credit, or 0 while the tunnel's write queue is above its low mark (the peer is not
  /// reading fast enough, whatever credit it grants): the sink hears on_writable() once it is below.
  [[nodiscard]] std::size_t send_credit(StreamId id);

  /// See Session::adopt_limits.
  void adopt_limits(const SessionLimits& limits) { session_.adopt_limits(limits); }
  /// Graceful: GOAWAY, drain, then close.
  void go_away(std::chrono::milliseconds drain_timeout);
  /// Make-before-break: see Session::retire.
  void retire(std::chrono::milliseconds drain_timeout);
  /// See Session::retire_at.
  void retire_at(TimePoint when, std::chrono::milliseconds drain_timeout);
  /// Immediate: resets every stream and closes the socket.
  void close_now(CloseReason reason);

  [[nodiscard]] const Session& session() const { return session_; }
  [[nodiscard]] std::optional<std::size_t> peer() const { return session_.peer(); }
  [[nodiscard]] const std::string& remote() const { return remote_; }
  /// The peer's address; unspecified if the socket had none at construction.
  [[nodiscard]] const tcp::endpoint& remote_endpoint() const { return remote_endpoint_; }
  /// This end's address; unspecified if the socket had none at construction.
  [[nodiscard]] const tcp::endpoint& local_endpoint() const { return local_endpoint_; }
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] TimePoint created() const { return created_; }

 private:
  Connection(tcp::socket socket, Session session, ConnectionHandler& handler, Output initial);

  void read();
  void on_readable();
  void write();
  [[nodiscard]] std::size_t write_backlog() const;
  /// Tells every sink it may send again once the write queue is below its low mark.
  void resume_held_streams();
  void arm_timer();
  /// The only place that acts on Session output: writes, events, close, timer.
  void apply(Output& out);
  void finish_close();
  void linger();
  void discard_until_eof();

  tcp::socket socket_;
  net::steady_timer timer_;
  TimePoint timer_deadline_ = TimePoint::max();
  Session session_;
  ConnectionHandler& handler_;
  tcp::endpoint remote_endpoint_;
  tcp::endpoint local_endpoint_;
  std::string remote_;
  TimePoint created_;

  Output out_;
  std::vector<std::uint8_t> write_pending_;
  std::size_t write_offset_ = 0;  // leading bytes of write_pending_ the socket already took
  bool writing_ = false;          // waiting for the socket to take more
  bool reading_ = false;
  bool holding_streams_ = false;  // send_credit() said 0 for the write queue: resume_held_streams() owes them
  bool lingering_ = false;  // drained: FIN sent, discarding until the peer's (linger())
  bool closing_ = false;  // Session closed: write what is queued, then close the socket
  bool closed_ = false;
  std::optional<CloseReason> close_reason_;
  std::unordered_map<StreamId, std::shared_ptr<StreamSink>> sinks_;
  std::unique_ptr<std::uint8_t[]> read_buffer_;  // the handshake's reads; records go to the session's buffer
};

}  // namespace mailtun::tunnel::asio
