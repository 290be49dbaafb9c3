#pragma once
// What a Session tells the shell after one step (STYLE: one Output with every write and event).

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "tunnel/frame.hpp"

namespace mailtun::tunnel {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// The handshake finished: the initiator may open streams now; a responder's session is not yet
/// confirmed (DESIGN §4.1) and must not replace an older one.
struct Established {
  std::size_t peer;  // Responder::PeerIndex, or the dialed peer's index for an initiator
};
/// Responder only: the first valid record arrived; this session may now replace an older one.
struct Confirmed {};
/// The peer opened a stream to a service; DATA may follow at once.
struct StreamOpened {
  StreamId id;
  OpenPayload open;
};
/// Bytes for the local socket. The view is valid until the next call into the Session.
struct StreamData {
  StreamId id;
  Bytes data;
};
/// The peer will send no more on this stream (shutdown(SHUT_WR) the local socket).
struct StreamFin {
  StreamId id;
};
/// The stream is gone: reset by the peer (`by_peer`) or by this side for a protocol reason.
struct StreamReset {
  StreamId id;
  ResetCode code;
  std::string reason;
  bool by_peer;
};
/// Send credit went from zero to positive: reading the local socket may resume.
struct StreamWritable {
  StreamId id;
};
/// The peer sent GOAWAY: no new streams on this connection; existing ones drain.
struct PeerGoingAway {
  StreamId last_stream_id;
};

using SessionEvent =
    std::variant<Established, Confirmed, StreamOpened, StreamData, StreamFin, StreamReset, StreamWritable, PeerGoingAway>;

/// Why a session ended; set exactly once, after which the session does nothing more.
struct CloseReason {
  enum class Kind {
    handshake_timeout,  // message 1 or 2 not complete in time
    handshake_failed,   // rejected handshake message (error says why); the shell closes silently
    protocol_error,     // malformed frame or record, failed decryption (error says which)
    peer_silent,        // nothing received for 3 × keepalive
    probe_unanswered,   // a stream was opened on a quiet connection and the PING it sent got no answer
    drained,            // after GOAWAY (either side): every stream finished
    drain_timeout,      // after GOAWAY: the drain deadline passed with streams still open
    nonce_exhausted,    // 2^64 records: cannot happen at any real rate, but must not wrap
    connection_lost,    // the shell's socket closed or failed (error: the system error, or none for EOF)
    peer_not_reading,   // the shell's write queue passed every window: the peer stopped reading
    local,              // the shell ended it (shutdown, replaced by a newer session)
  };
  Kind kind;
  std::error_code error;  // detail for handshake_failed and protocol_error
};
std::string to_string(const CloseReason& reason);

struct Output {
  std::vector<std::uint8_t> to_peer;  // bytes for the tunnel socket, in order
  std::vector<SessionEvent> events;
  std::optional<CloseReason> close;

  /// Empties the output but keeps its capacity, so the steady state allocates nothing.
  void clear() {
    to_peer.clear();
    events.clear();
    close.reset();
  }
};

}  // namespace mailtun::tunnel
