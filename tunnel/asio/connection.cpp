#include "tunnel/asio/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <limits>
#include <sstream>

namespace mailtun::tunnel::asio {
namespace {

// One read takes whatever the kernel has, up to this much: large enough for several full records.
constexpr std::size_t read_buffer_size = 256 * 1024;
// Before the session is established: the handshake message and what follows it in the same read.
// Small, as a VPS endpoint holds one per office while a reconnect storm lasts; what does not fit is
// read next time, into the session's record buffer.
constexpr std::size_t handshake_read_size = 4 * 1024;
static_assert(handshake_read_size >= initiation_wire_len && handshake_read_size >= response_wire_len);
// After a graceful close (drained), queued bytes (the last FIN, GOAWAY) get this long to leave.
constexpr auto close_linger = std::chrono::seconds(2);
// A peer may grant any credit (up to 2^32-1 per stream) and then stop reading: the windows alone
// do not bound what waits here. Above this much queued, streams get no credit and local sockets are
// not read (send_credit()), so stream data adds at most one local read beyond it.
constexpr std::size_t write_low_mark = 1024 * 1024;
// Control replies (PONG, RST, WINDOW) are not held back: a peer that sends PINGs or OPENs but never
// reads could grow the queue for ever. A backlog this far past the low mark can only be that, and
// ends the connection.
constexpr std::size_t max_write_backlog = write_low_mark + 4 * 1024 * 1024;

tcp::endpoint remote_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  return ec ? tcp::endpoint{} : endpoint;
}

tcp::endpoint local_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.local_endpoint(ec);
  return ec ? tcp::endpoint{} : endpoint;
}

std::string describe(const tcp::endpoint& endpoint) {
  if (endpoint == tcp::endpoint{}) return "(unknown)";
  std::ostringstream s;
  s << endpoint;
  return s.str();
}

// The kernel's view of a dead link agrees with the session's (a peer silent for three keepalive
// intervals is gone, DESIGN §4.4): data left unacknowledged that long ends the connection instead
// of being retransmitted for the kernel's default of about 15 minutes, and an idle connection
// probes its peer, so a peer host that restarted answers with the RST that ends it at once.
void watch_for_dead_link(tcp::socket& socket, std::chrono::milliseconds keepalive) {
  const int fd = socket.native_handle();
  const int on = 1;
  const int interval = static_cast<int>(std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(keepalive).count()));
  const int probes = 3;
  const auto user_timeout = static_cast<unsigned>(std::min<std::int64_t>(3 * keepalive.count(), std::numeric_limits<int>::max()));
  // Best effort, like TCP_NODELAY: a socket that refuses them still works.
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

CloseReason lost(const boost::system::error_code& ec) {
  return {CloseReason::Kind::connection_lost, ec == net::error::eof ? std::error_code{} : std::error_code(ec)};
}

}  // namespace

Connection::Connection(tcp::socket socket, Session session, ConnectionHandler& handler, Output initial)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      session_(std::move(session)),
      handler_(handler),
      remote_endpoint_(remote_of(socket_)),
      local_endpoint_(local_of(socket_)),
      remote_(describe(remote_endpoint_)),
      created_(Clock::now()),
      out_(std::move(initial)) {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);
  watch_for_dead_link(socket_, session_.limits().keepalive);
}

Connection::~Connection() = default;

std::shared_ptr<Connection> Connection::dial(tcp::socket socket, Initiator initiator, std::size_t peer,
                                             const SessionLimits& limits, ConnectionHandler& handler) {
  Output out;
  Session session = Session::dial(std::move(initiator), peer, limits, Clock::now(), out);
  return std::shared_ptr<Connection>(new Connection(std::move(socket), std::move(session), handler, std::move(out)));
}

std::shared_ptr<Connection> Connection::accept(tcp::socket socket, Responder& responder, const SessionLimits& limits,
                                               ConnectionHandler& handler, Responder::Admission admit) {
  Session session = Session::accept(responder, limits, Clock::now(),
                                    Tai64n::from_system_time(std::chrono::system_clock::now() + max_clock_skew),
                                    std::move(admit));
  return std::shared_ptr<Connection>(new Connection(std::move(socket), std::move(session), handler, Output{}));
}

void Connection::start() {
  apply(out_);  // message 1 for a dialer; the handshake deadline for both
  read();
}

// ---- reading ----------------------------------------------------------------------------------

void Connection::read() {
  if (reading_ || closing_ || closed_) return;
  reading_ = true;
  // Wait for readability, then read into a buffer that exists only while there is data: an idle
  // connection holds no read buffer.
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->reading_ = false;
    if (self->closed_) return;
    if (ec) return self->close_now(lost(ec));
    self->on_readable();
  });
}

void Connection::on_readable() {
  // Once established, records are read straight into the session's record buffer, where they are
  // opened in place; the handshake goes through a buffer of its own.
  MutableBytes into = session_.receive_space(read_buffer_size);
  const bool into_records = !into.empty();
  if (into_records) {
    into = into.first(std::min(into.size(), read_buffer_size));
    read_buffer_.reset();  // the handshake is over: an idle connection keeps no buffer it will not use
  } else {
    // Allocated on first use and not zero-filled: pages the kernel never writes are never touched.
    if (!read_buffer_) read_buffer_ = std::make_unique_for_overwrite<std::uint8_t[]>(handshake_read_size);
    into = MutableBytes(read_buffer_.get(), handshake_read_size);
  }
  boost::system::error_code ec;
  const std::size_t n = socket_.read_some(net::buffer(into.data(), into.size()), ec);
  if (ec == net::error::would_block || ec == net::error::try_again) return read();
  if (ec) return close_now(lost(ec));
  if (into_records) {
    session_.on_received(n, Clock::now(), out_);
  } else {
    session_.on_bytes(Bytes(into.data(), n), Clock::now(), out_);
  }
  apply(out_);
  if (!closed_ && write_backlog() > max_write_backlog) {
    return close_now({CloseReason::Kind::peer_not_reading, {}});
  }
  read();
}

// ---- writing ----------------------------------------------------------------------------------

void Connection::write() {
  // Writes go straight to the non-blocking socket, as much as the kernel takes in one call, and
  // wait for writability only when it takes no more: no per-write cap (a composed async_write
  // would split the queue into 64 KiB system calls) and no round through the reactor while the
  // socket has room.
  if (writing_ || closed_) return;
  while (write_offset_ < write_pending_.size()) {
    boost::system::error_code ec;
    const std::size_t n = socket_.write_some(
        net::buffer(write_pending_.data() + write_offset_, write_pending_.size() - write_offset_), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) {
      writing_ = true;
      socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const boost::system::error_code& wec) {
        self->writing_ = false;
        if (self->closed_) return;
        if (wec) return self->close_now(lost(wec));
        self->write();
      });
      return;
    }
    if (ec) return close_now(lost(ec));
    write_offset_ += n;
  }
  write_pending_.clear();
  write_offset_ = 0;
  if (closing_) return finish_close();
  resume_held_streams();
}

std::size_t Connection::write_backlog() const { return write_pending_.size() - write_offset_; }

void Connection::resume_held_streams() {
  if (!holding_streams_ || write_backlog() >= write_low_mark) return;
  holding_streams_ = false;
  // A sink may reset its stream (and so change sinks_) from on_writable().
  std::vector<std::shared_ptr<StreamSink>> held;
  held.reserve(sinks_.size());
  for (const auto& [id, sink] : sinks_) held.push_back(sink);
  for (const auto& sink : held) {
    if (closed_ || holding_streams_) return;
    sink->on_writable();
  }
}

// ---- the one place that acts on Session output ------------------------------------------------

void Connection::apply(Output& out) {
  auto self = shared_from_this();  // a failed write or a handler may drop the last other reference
  if (!out.to_peer.empty()) {
    if (write_pending_.empty()) {
      std::swap(write_pending_, out.to_peer);
    } else {
      // Drop what the socket took before growing, so the queue stays near its backlog in size.
      write_pending_.erase(write_pending_.begin(), write_pending_.begin() + static_cast<std::ptrdiff_t>(write_offset_));
      write_offset_ = 0;
      write_pending_.insert(write_pending_.end(), out.to_peer.begin(), out.to_peer.end());
    }
    out.to_peer.clear();
    write();
  }
  // Handlers may call back into this connection, which produces output of its own: take the
  // events out first so the nested calls find an empty Output.
  std::vector<SessionEvent> events;
  events.swap(out.events);
  std::optional<CloseReason> close = std::move(out.close);
  out.close.reset();

  for (auto& event : events) {
    // A handler may close this connection (the tie-break between two connections of one peer
    // closes the loser from inside on_confirmed): what the same read carried after that must not be
    // delivered, since the peer is told every stream of a closed connection was reset.
    if (closed_) break;
    std::visit(
        [this](auto& e) {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, Established>) {
            handler_.on_established(*this);
          } else if constexpr (std::is_same_v<E, Confirmed>) {
            handler_.on_confirmed(*this);
          } else if constexpr (std::is_same_v<E, StreamOpened>) {
            handler_.on_stream_opened(*this, e.id, e.open);
          } else if constexpr (std::is_same_v<E, PeerGoingAway>) {
            handler_.on_peer_going_away(*this);
          } else {
            const auto it = sinks_.find(e.id);
            if (it == sinks_.end()) return;
            const std::shared_ptr<StreamSink> sink = it->second;
            if constexpr (std::is_same_v<E, StreamData>) sink->on_data(e.data);
            if constexpr (std::is_same_v<E, StreamFin>) {
              sink->on_fin();
              if (!session_.has_stream(e.id)) sinks_.erase(e.id);  // both directions finished
            }
            if constexpr (std::is_same_v<E, StreamWritable>) sink->on_writable();
            if constexpr (std::is_same_v<E, StreamReset>) {
              sinks_.erase(e.id);
              sink->on_reset(e);
            }
          }
        },
        event);
  }
  // Keep the (now empty) vector's capacity for the next step.
  if (out.events.empty()) {
    events.clear();
    out.events.swap(events);
  }

  if (close && !closing_ && !closed_) {
    closing_ = true;
    const bool graceful = close->kind == CloseReason::Kind::drained;
    close_reason_ = std::move(close);
    if (!graceful || write_backlog() == 0) {
      // A failed or dead connection must not wait for a write the peer may never read: the dialer
      // reconnects only once the close is complete.
      finish_close();
    } else {
      // The write completion finishes the close once the queue is empty, or this timer does.
      timer_deadline_ = TimePoint::max();
      timer_.expires_after(close_linger);
      timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        if (auto alive = weak.lock(); alive && !ec) alive->finish_close();
      });
    }
  }
  if (!closed_) arm_timer();
}

void Connection::arm_timer() {
  const TimePoint deadline = session_.next_deadline();
  // A later deadline needs no new timer: firing early is harmless and re-arms.
  if (deadline >= timer_deadline_ && timer_deadline_ != TimePoint::max()) return;
  if (deadline == TimePoint::max()) return;
  timer_deadline_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_) return;
    self->timer_deadline_ = TimePoint::max();
    self->session_.on_tick(Clock::now(), self->out_);
    self->apply(self->out_);
  });
}

void Connection::finish_close() {
  if (closed_) return;
  if (!lingering_ && close_reason_ && close_reason_->kind == CloseReason::Kind::drained) return linger();
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  sinks_.clear();
  handler_.on_closed(*this, close_reason_.value_or(CloseReason{CloseReason::Kind::protocol_error, {}}));
}

void Connection::linger() {
  // Closing a socket that holds unread bytes (a WINDOW or PONG the peer sent before it read our
  // last FIN) makes the kernel answer with a reset, and a reset destroys what the peer has not yet
  // read: our last DATA and FIN. So a drained connection sends its FIN and reads, discarding, until
  // the peer's FIN, for at most close_linger.
  lingering_ = true;
  sinks_.clear();
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  timer_deadline_ = TimePoint::max();
  timer_.expires_after(close_linger);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto alive = weak.lock(); alive && !ec) alive->finish_close();
  });
  discard_until_eof();
}

void Connection::discard_until_eof() {
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
    if (self->closed_) return;
    if (ec) return self->finish_close();
    std::array<std::uint8_t, 4096> discarded;
    for (int i = 0; i < 64; ++i) {  // a bounded share of the loop per wake-up
      boost::system::error_code read_ec;
      self->socket_.read_some(net::buffer(discarded), read_ec);
      if (read_ec == net::error::would_block || read_ec == net::error::try_again) break;
      if (read_ec) return self->finish_close();  // the peer's FIN, or the connection is gone
    }
    self->discard_until_eof();
  });
}

// ---- stream operations ------------------------------------------------------------------------

Result<StreamId> Connection::open_stream(const OpenPayload& open) {
  auto id = session_.open_stream(open, Clock::now(), out_);
  apply(out_);
  return id;
}

void Connection::attach(StreamId id, std::shared_ptr<StreamSink> sink) {
  if (!closed_) sinks_[id] = std::move(sink);  // a closed connection's streams were all reset
}

std::size_t Connection::send_credit(StreamId id) {
  if (write_backlog() >= write_low_mark) {
    holding_streams_ = true;  // the write completion that takes the queue below the mark resumes them
    return 0;
  }
  return session_.send_credit(id);
}

std::size_t Connection::send(StreamId id, Bytes data) {
  const std::size_t n = session_.send(id, data.first(std::min(data.size(), send_credit(id))), Clock::now(), out_);
  apply(out_);
  return n;
}

void Connection::finish(StreamId id) {
  session_.finish(id, Clock::now(), out_);
  if (!session_.has_stream(id)) sinks_.erase(id);  // both directions finished
  apply(out_);
}

void Connection::reset(StreamId id, ResetCode code, std::string_view reason) {
  sinks_.erase(id);
  session_.reset(id, code, reason, Clock::now(), out_);
  apply(out_);
}

void Connection::consumed(StreamId id, std::size_t n) {
  session_.consumed(id, n, Clock::now(), out_);
  apply(out_);
}

void Connection::go_away(std::chrono::milliseconds drain_timeout) {
  session_.go_away(drain_timeout, Clock::now(), out_);
  apply(out_);
}

void Connection::retire(std::chrono::milliseconds drain_timeout) {
  session_.retire(drain_timeout, Clock::now(), out_);
  apply(out_);
}

void Connection::retire_at(TimePoint when, std::chrono::milliseconds drain_timeout) {
  if (closed_) return;
  session_.retire_at(when, drain_timeout);
  arm_timer();
}

void Connection::close_now(CloseReason reason) {
  if (closed_) return;
  write_pending_.clear();  // the socket is going away; nothing more reaches the peer
  write_offset_ = 0;
  session_.abort(std::move(reason), out_);
  apply(out_);  // resets every stream's sink and records the reason
  finish_close();
}

}  // namespace mailtun::tunnel::asio
