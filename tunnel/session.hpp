#pragma once
// One tunnel connection as a pure state machine: handshake, records, frames, streams, flow control,
// keepalive and rekey. Bytes and time in, bytes and events out (Output); no sockets, no clock reads.
// The shell owns one Session per TCP connection, calls it on every read, tick and local event, then
// writes Output::to_peer, hands the events to forwarder/, re-arms one timer to next_deadline(), and
// closes the socket once Output::close is set.

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tunnel/handshake.hpp"
#include "tunnel/record.hpp"
#include "tunnel/session_event.hpp"

namespace mailtun::tunnel {

struct SessionLimits {
  std::uint32_t initial_window = 256 * 1024;  // per stream and direction (DESIGN §4.3)
  /// A stream whose local socket takes the data as fast as the peer sends it earns a larger
  /// receive window, doubling up to this (docs/design.md §4.3, "Window growth")...
  std::uint32_t max_window = 8 * 1024 * 1024;
  /// ...while the growth of all streams of the connection together stays within this.
  std::size_t window_growth_budget = 32 * 1024 * 1024;
  std::size_t max_streams = 1024;             // concurrent streams the peer may open (and, apart, this side)
  std::chrono::milliseconds keepalive = std::chrono::seconds(15);  // PING after this much silence
  std::chrono::milliseconds handshake_timeout = initiation_deadline;
  std::chrono::milliseconds rekey_interval = rekey_after_time;
  std::uint64_t rekey_records = rekey_after_records;
};

struct SessionStats {
  std::uint64_t wire_bytes_in = 0;
  std::uint64_t wire_bytes_out = 0;
  std::uint64_t data_bytes_in = 0;  // stream payload received
  std::uint64_t data_bytes_out = 0;
  std::uint64_t records_in = 0;
  std::uint64_t records_out = 0;
  std::uint64_t streams_opened_local = 0;
  std::uint64_t streams_opened_remote = 0;
  std::uint64_t streams_reset = 0;
  std::uint64_t rekeys = 0;
  /// The round trip of the latest PING answered by its PONG; none until one is.
  std::optional<std::chrono::microseconds> rtt;
};

class Session {
 public:
  /// The dialing side: message 1 goes into `out` at once. `peer` is the caller's index for logs.
  static Session dial(Initiator initiator, std::size_t peer, const SessionLimits& limits, TimePoint now, Output& out);
  /// The listening side; `responder` is borrowed (one per endpoint, shared by its sessions).
  /// `latest_timestamp`: see Responder::on_initiation (the wall clock at accept plus the tolerated
  /// skew; message 1 arrives within seconds of accept).
  /// `admit`: see Responder::Admission. The accepted timestamp becomes the peer's replay guard
  /// when the initiator's first record confirms the session (Responder::confirm).
  static Session accept(Responder& responder, const SessionLimits& limits, TimePoint now,
                        std::optional<Tai64n> latest_timestamp = std::nullopt,
                        Responder::Admission admit = {});

  Session(Session&&) noexcept = default;
  Session& operator=(Session&&) = delete;
  Session(const Session&) = delete;

  /// Bytes read from the tunnel socket, in any fragmentation.
  void on_bytes(Bytes in, TimePoint now, Output& out);
  /// Once established, the shell may read the socket straight into the record buffer instead:
  /// receive_space() is room for at least `at_least` bytes, on_received() says how many arrived
  /// there (the same as on_bytes() of them, without the copy). Empty before the handshake is done
  /// and after close: then on_bytes() it is.
  MutableBytes receive_space(std::size_t at_least);
  void on_received(std::size_t n, TimePoint now, Output& out);
  /// The timer armed to next_deadline() fired (calling it early is harmless).
  void on_tick(TimePoint now, Output& out);
  [[nodiscard]] TimePoint next_deadline() const;

  /// Opens a stream to a service at the peer; DATA may be sent right after, with no round trip.
  /// Fails with invalid_state when streams cannot be opened now (handshake not done, responder not
  /// yet confirmed, GOAWAY either way, closed) and stream_limit at max_streams.
  Result<StreamId> open_stream(const OpenPayload& open, TimePoint now, Output& out);
  /// Sends up to send_credit(id) bytes of `data`; returns how many were taken. The caller keeps the
  /// rest and waits for StreamWritable. 0 for a stream that is unknown or already finished.
  std::size_t send(StreamId id, Bytes data, TimePoint now, Output& out);
  /// Half-close: no more DATA from this side.
  void finish(StreamId id, TimePoint now, Output& out);
  /// Abandons the stream and tells the peer why.
  void reset(StreamId id, ResetCode code, std::string_view reason, TimePoint now, Output& out);
  /// The local socket took `n` bytes of StreamData: the peer may send that much more.
  void consumed(StreamId id, std::size_t n, TimePoint now, Output& out);
  /// Graceful shutdown: GOAWAY, refuse new streams, close once every stream finished or at
  /// now + drain_timeout.
  void go_away(std::chrono::milliseconds drain_timeout, TimePoint now, Output& out);
  /// Make-before-break (docs/design.md "Session refresh"): a newer connection of the same peer has
  /// taken over. GOAWAY, and open no more streams; unlike go_away(), streams the peer opens until it
  /// hears of the newer connection are still accepted. Closes once every stream has finished and the
  /// peer has said GOAWAY too (after which it opens nothing more), or at now + drain_timeout. Also
  /// PINGs at once: a peer that is gone (it restarted, which is why it dialed anew) does not answer,
  /// and the connection is closed within seconds instead of 3 × keepalive.
  void retire(std::chrono::milliseconds drain_timeout, TimePoint now, Output& out);
  [[nodiscard]] bool retiring() const { return retiring_; }
  /// retire() at `when`, unless the peer has retired the connection before (the dialing side: the
  /// listening side retires it as soon as it has confirmed the newer one, which a GOAWAY from here
  /// must not overtake, or the listener would for a moment have no connection to open streams on).
  void retire_at(TimePoint when, std::chrono::milliseconds drain_timeout);

  /// A responder learns its peer, and so the peer's limits, from message 1: applies them. Only
  /// before any stream exists; the timers follow the new keepalive from the next event on.
  void adopt_limits(const SessionLimits& limits);

  /// The shell ends the session (socket lost, shutdown, replaced): every stream is reset.
  void abort(CloseReason reason, Output& out);

  [[nodiscard]] std::size_t send_credit(StreamId id) const;
  [[nodiscard]] bool has_stream(StreamId id) const { return streams_.contains(id); }
  [[nodiscard]] bool established() const { return phase_ == Phase::established; }
  /// Established and, for a responder, confirmed by the peer's first record.
  [[nodiscard]] bool ready() const;
  [[nodiscard]] bool can_open_streams() const;
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] std::optional<std::size_t> peer() const { return peer_; }
  [[nodiscard]] std::size_t stream_count() const { return streams_.size(); }
  [[nodiscard]] const SessionStats& stats() const { return stats_; }
  [[nodiscard]] const SessionLimits& limits() const { return limits_; }
  [[nodiscard]] bool is_initiator() const { return role_initiator_; }

 private:
  enum class Phase { awaiting_initiation, awaiting_response, established };

  struct Stream {
    std::uint32_t send_credit;
    std::uint32_t receive_window;    // what the peer may still send
    std::uint32_t consumed_unacked;  // taken by the local socket, not yet returned as WINDOW
    std::uint32_t window_size;       // the receive window this side grants: grows from initial_window
    bool local_fin = false;
    bool remote_fin = false;
  };

  Session(bool initiator, const SessionLimits& limits, TimePoint now);

  void on_handshake_bytes(Bytes in, TimePoint now, Output& out);
  void complete_handshake(TransportKeys keys, std::size_t peer, TimePoint now, Output& out);
  void process_records(TimePoint now, Output& out);
  Result<void> handle_frame(const Frame& frame, bool& rekey_after, Output& out);
  Result<void> handle_open(StreamId id, Bytes payload, Output& out);
  Result<Stream*> live_stream(StreamId id);
  /// Drops a stream from the table and its count; false if it was not there.
  bool erase_stream(StreamId id);
  void remove_stream(StreamId id, Output& out);
  [[nodiscard]] Stream new_stream() const;
  /// How much a stream's window grows when credit is returned now: 0 unless the peer had used up
  /// nearly all of it (the stream is limited by its window, not by its reader).
  [[nodiscard]] std::uint32_t window_growth(const Stream& s) const;
  void flush(TimePoint now, Output& out);
  /// Queues a PING; its PONG measures the round trip (SessionStats::rtt).
  void send_ping(TimePoint now);
  /// Opening a stream on a connection that has heard nothing for a while: PING, and close if no
  /// record arrives by probe_deadline_.
  void probe_if_quiet(TimePoint now);
  /// Ready, and neither side has said GOAWAY.
  [[nodiscard]] bool takes_new_streams() const;
  /// GOAWAY that opens nothing more here but still serves the peer's OPENs (retire()).
  void say_goaway_retiring();
  /// PINGs and expects a record by probe_deadline_; one probe at a time.
  void probe(TimePoint now);
  void close(CloseReason reason, Output& out);
  void check_drained(Output& out);
  [[nodiscard]] bool is_local_id(StreamId id) const { return (id % 2 == 1) == role_initiator_; }

  bool role_initiator_;
  SessionLimits limits_;
  Phase phase_;
  bool closed_ = false;
  std::optional<Initiator> initiator_;
  Responder* responder_ = nullptr;
  std::optional<Tai64n> latest_timestamp_;
  Responder::Admission admit_;
  std::optional<Tai64n> accepted_timestamp_;  // until confirmed
  std::vector<std::uint8_t> handshake_buffer_;
  std::optional<std::size_t> peer_;

  std::optional<RecordEncoder> encoder_;
  std::optional<RecordDecoder> decoder_;
  std::vector<std::uint8_t> pending_;  // whole frames waiting to be sealed

  std::unordered_map<StreamId, Stream> streams_;
  std::size_t local_streams_ = 0;   // opened by this side
  std::size_t remote_streams_ = 0;  // opened by the peer: what max_streams limits
  std::size_t window_growth_ = 0;   // receive windows granted beyond initial_window, all streams
  StreamId next_local_id_;
  StreamId last_remote_id_ = 0;
  bool confirmed_ = false;
  bool local_going_away_ = false;
  bool retiring_ = false;
  TimePoint retire_at_ = TimePoint::max();
  std::chrono::milliseconds retire_drain_{0};
  bool peer_going_away_ = false;

  TimePoint handshake_deadline_;
  TimePoint last_received_;
  TimePoint last_ping_sent_;
  TimePoint next_rekey_at_;
  TimePoint drain_deadline_ = TimePoint::max();
  TimePoint probe_deadline_ = TimePoint::max();
  std::uint64_t records_at_last_rekey_ = 0;
  std::uint64_t ping_counter_ = 0;
  /// The PING whose PONG is awaited, and when it was sent.
  std::optional<std::pair<std::uint64_t, TimePoint>> ping_outstanding_;

  SessionStats stats_;
};

}  // namespace mailtun::tunnel
