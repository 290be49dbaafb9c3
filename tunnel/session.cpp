#include "tunnel/session.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

namespace mailtun::tunnel {
namespace {

constexpr StreamId max_stream_id = ~StreamId{0};
// A new stream probes a connection quiet for this long (DESIGN §4.4)...
constexpr auto probe_when_quiet_for = std::chrono::seconds(2);
// ...which is dead unless a record arrives within this, or this many round trips if longer.
constexpr auto min_probe_timeout = std::chrono::seconds(3);
constexpr int probe_timeout_rtts = 4;

std::uint16_t read_u16(const std::vector<std::uint8_t>& b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

}  // namespace

std::string to_string(const CloseReason& reason) {
  const auto detail = [&](const char* what) {
    return reason.error ? std::string(what) + ": " + reason.error.message() : std::string(what);
  };
  switch (reason.kind) {
    case CloseReason::Kind::handshake_timeout: return "handshake timed out";
    case CloseReason::Kind::handshake_failed: return detail("handshake failed");
    case CloseReason::Kind::protocol_error: return detail("protocol error");
    case CloseReason::Kind::peer_silent: return "peer silent for 3 keepalive intervals";
    case CloseReason::Kind::probe_unanswered: return "peer did not answer a ping sent with a new stream";
    case CloseReason::Kind::drained: return "shut down after draining";
    case CloseReason::Kind::drain_timeout: return "drain deadline passed";
    case CloseReason::Kind::nonce_exhausted: return "nonce space exhausted";
    case CloseReason::Kind::connection_lost: return reason.error ? detail("connection lost") : "peer closed the connection";
    case CloseReason::Kind::local: return "closed locally";
    case CloseReason::Kind::peer_not_reading: return "peer stopped reading";
  }
  return "closed";
}

Session::Session(bool initiator, const SessionLimits& limits, TimePoint now)
    : role_initiator_(initiator),
      limits_(limits),
      phase_(initiator ? Phase::awaiting_response : Phase::awaiting_initiation),
      next_local_id_(initiator ? 1 : 2),
      handshake_deadline_(now + limits.handshake_timeout),
      last_received_(now),
      last_ping_sent_(now),
      next_rekey_at_(TimePoint::max()) {}

Session Session::dial(Initiator initiator, std::size_t peer, const SessionLimits& limits, TimePoint now, Output& out) {
  Session s(true, limits, now);
  s.peer_ = peer;
  const auto& message = initiator.initiation();
  out.to_peer.insert(out.to_peer.end(), message.begin(), message.end());
  s.stats_.wire_bytes_out += message.size();
  s.initiator_.emplace(std::move(initiator));
  return s;
}

Session Session::accept(Responder& responder, const SessionLimits& limits, TimePoint now,
                        std::optional<Tai64n> latest_timestamp, Responder::Admission admit) {
  Session s(false, limits, now);
  s.responder_ = &responder;
  s.latest_timestamp_ = latest_timestamp;
  s.admit_ = std::move(admit);
  return s;
}

bool Session::ready() const { return !closed_ && phase_ == Phase::established && (role_initiator_ || confirmed_); }

bool Session::takes_new_streams() const {
  return ready() && !local_going_away_ && !retiring_ && !peer_going_away_;
}

bool Session::can_open_streams() const {
  return takes_new_streams() && local_streams_ < limits_.max_streams && next_local_id_ < max_stream_id - 1;
}

// ---- input ------------------------------------------------------------------------------------

void Session::on_bytes(Bytes in, TimePoint now, Output& out) {
  if (closed_) return;
  stats_.wire_bytes_in += in.size();
  if (phase_ == Phase::established) {
    decoder_->feed(in);
  } else {
    on_handshake_bytes(in, now, out);
    if (closed_ || phase_ != Phase::established) return;
  }
  process_records(now, out);
  flush(now, out);
}

MutableBytes Session::receive_space(std::size_t at_least) {
  if (closed_ || phase_ != Phase::established) return {};
  return decoder_->prepare(at_least);
}

void Session::on_received(std::size_t n, TimePoint now, Output& out) {
  assert(!closed_ && phase_ == Phase::established);
  stats_.wire_bytes_in += n;
  decoder_->commit(n);
  process_records(now, out);
  flush(now, out);
}

void Session::on_handshake_bytes(Bytes in, TimePoint now, Output& out) {
  const bool awaiting_initiation = phase_ == Phase::awaiting_initiation;
  const std::size_t wire_len = awaiting_initiation ? initiation_wire_len : response_wire_len;
  // Take no more than the message itself; what follows is records.
  const std::size_t take = std::min(in.size(), wire_len - handshake_buffer_.size());
  handshake_buffer_.insert(handshake_buffer_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(take));
  const Bytes rest = in.subspan(take);

  // DESIGN §4.1 rule 1: a wrong length closes at once, without waiting for the rest.
  if (handshake_buffer_.size() >= length_field_len &&
      read_u16(handshake_buffer_, 0) != wire_len - length_field_len) {
    return close({CloseReason::Kind::handshake_failed, make_error_code(errc::bad_length)}, out);
  }
  if (handshake_buffer_.size() < wire_len) return;

  if (awaiting_initiation) {
    auto accepted = responder_->on_initiation(handshake_buffer_, latest_timestamp_, admit_);
    admit_ = nullptr;
    if (!accepted) return close({CloseReason::Kind::handshake_failed, accepted.error()}, out);
    accepted_timestamp_ = accepted->timestamp;
    out.to_peer.insert(out.to_peer.end(), accepted->response.begin(), accepted->response.end());
    stats_.wire_bytes_out += accepted->response.size();
    complete_handshake(std::move(accepted->keys), accepted->peer, now, out);
  } else {
    auto keys = initiator_->on_response(handshake_buffer_);
    if (!keys) return close({CloseReason::Kind::handshake_failed, keys.error()}, out);
    initiator_.reset();
    complete_handshake(std::move(*keys), *peer_, now, out);
    // The responder confirms the session on our first record (DESIGN §4.1): send one at once, a
    // PING, whose PONG also measures the round trip.
    send_ping(now);
  }
  handshake_buffer_.clear();
  handshake_buffer_.shrink_to_fit();
  decoder_->feed(rest);
}

void Session::complete_handshake(TransportKeys keys, std::size_t peer, TimePoint now, Output& out) {
  peer_ = peer;
  encoder_.emplace(std::move(keys.send));
  decoder_.emplace(std::move(keys.receive));
  phase_ = Phase::established;
  last_received_ = now;
  last_ping_sent_ = now;
  next_rekey_at_ = now + limits_.rekey_interval;
  // A responder's session must be confirmed by a record within the handshake timeout.
  handshake_deadline_ = now + limits_.handshake_timeout;
  out.events.emplace_back(Established{peer});
}

void Session::process_records(TimePoint now, Output& out) {
  while (!closed_) {
    auto record = decoder_->next();
    if (!record) return close({CloseReason::Kind::protocol_error, record.error()}, out);
    if (!*record) return;
    ++stats_.records_in;
    last_received_ = now;
    probe_deadline_ = TimePoint::max();
    if (!role_initiator_ && !confirmed_) {
      confirmed_ = true;
      // The record proves the initiator holds the PSK too: only now may its timestamp guard
      // against replays (Responder::on_initiation says why).
      responder_->confirm(*peer_, *accepted_timestamp_);
      out.events.emplace_back(Confirmed{});
      send_ping(now);  // so that this side, too, knows the round trip from the start
    }
    bool rekey_after = false;
    FrameReader reader(**record);
    for (;;) {
      auto frame = reader.next();
      if (!frame) return close({CloseReason::Kind::protocol_error, frame.error()}, out);
      if (!*frame) break;
      if (auto handled = handle_frame(**frame, rekey_after, out); !handled) {
        return close({CloseReason::Kind::protocol_error, handled.error()}, out);
      }
      if (closed_) return;  // drained by this frame: what follows in the record is moot
    }
    // DESIGN §4.2: the receiver switches keys after the record that carried REKEY.
    if (rekey_after) decoder_->rekey();
  }
}

Result<Session::Stream*> Session::live_stream(StreamId id) {
  if (id == 0) return fail(errc::bad_stream_id);
  if (auto it = streams_.find(id); it != streams_.end()) return &it->second;
  // A stream that existed and is gone (reset by us while the peer was still sending) is not an
  // error: its late frames are dropped. One that never existed is.
  const bool existed = is_local_id(id) ? id < next_local_id_ : id <= last_remote_id_;
  if (!existed) return fail(errc::bad_stream_id);
  return nullptr;
}

Result<void> Session::handle_frame(const Frame& frame, bool& rekey_after, Output& out) {
  const bool connection_frame = frame.type == FrameType::ping || frame.type == FrameType::pong ||
                                frame.type == FrameType::rekey || frame.type == FrameType::goaway;
  if (connection_frame != (frame.stream_id == 0)) return fail(errc::bad_stream_id);

  switch (frame.type) {
    case FrameType::open: return handle_open(frame.stream_id, frame.payload, out);

    case FrameType::data: {
      auto stream = live_stream(frame.stream_id);
      if (!stream) return tl::unexpected(stream.error());
      if (*stream == nullptr) return {};
      Stream& s = **stream;
      if (s.remote_fin) return fail(errc::frame_after_fin);
      if (frame.payload.size() > s.receive_window) {
        // DESIGN §4.3: beyond the window is a violation; only this stream pays for it.
        encode_rst(pending_, frame.stream_id, ResetCode::flow_control, "data beyond the window");
        out.events.emplace_back(StreamReset{frame.stream_id, ResetCode::flow_control, "peer sent data beyond the window", false});
        remove_stream(frame.stream_id, out);
        return {};
      }
      s.receive_window -= static_cast<std::uint32_t>(frame.payload.size());
      stats_.data_bytes_in += frame.payload.size();
      if (!frame.payload.empty()) out.events.emplace_back(StreamData{frame.stream_id, frame.payload});
      return {};
    }

    case FrameType::window: {
      auto increment = decode_window(frame.payload);
      if (!increment) return tl::unexpected(increment.error());
      auto stream = live_stream(frame.stream_id);
      if (!stream) return tl::unexpected(stream.error());
      if (*stream == nullptr) return {};
      Stream& s = **stream;
      if (std::uint64_t{s.send_credit} + *increment > std::numeric_limits<std::uint32_t>::max()) {
        // Credit past 2^32-1 cannot be counted: a peer bug. Reset the stream, keep the connection.
        // (Credit beyond the initial window is allowed: a receiver may choose a larger window.)
        encode_rst(pending_, frame.stream_id, ResetCode::flow_control, "window overflow");
        out.events.emplace_back(StreamReset{frame.stream_id, ResetCode::flow_control, "peer overflowed the window", false});
        remove_stream(frame.stream_id, out);
        return {};
      }
      s.send_credit += *increment;
      // Every increment, not only one that ends a stall: a sender may wait for more than a crumb.
      if (!s.local_fin) out.events.emplace_back(StreamWritable{frame.stream_id});
      return {};
    }

    case FrameType::fin: {
      if (auto empty = decode_empty(frame.payload); !empty) return empty;
      auto stream = live_stream(frame.stream_id);
      if (!stream) return tl::unexpected(stream.error());
      if (*stream == nullptr) return {};
      if ((*stream)->remote_fin) return fail(errc::frame_after_fin);
      (*stream)->remote_fin = true;
      out.events.emplace_back(StreamFin{frame.stream_id});
      if ((*stream)->local_fin) remove_stream(frame.stream_id, out);
      return {};
    }

    case FrameType::rst: {
      auto rst = decode_rst(frame.payload);
      if (!rst) return tl::unexpected(rst.error());
      auto stream = live_stream(frame.stream_id);
      if (!stream) return tl::unexpected(stream.error());
      if (*stream == nullptr) return {};
      ++stats_.streams_reset;
      out.events.emplace_back(StreamReset{frame.stream_id, rst->code, std::move(rst->reason), true});
      remove_stream(frame.stream_id, out);
      return {};
    }

    case FrameType::ping: {
      auto opaque = decode_ping(frame.payload);
      if (!opaque) return tl::unexpected(opaque.error());
      encode_ping(pending_, FrameType::pong, *opaque);
      return {};
    }

    case FrameType::pong: {
      auto opaque = decode_ping(frame.payload);
      if (!opaque) return tl::unexpected(opaque.error());
      if (ping_outstanding_ && ping_outstanding_->first == *opaque) {
        // last_received_ is the time of the record carrying this PONG.
        stats_.rtt = std::chrono::duration_cast<std::chrono::microseconds>(last_received_ - ping_outstanding_->second);
        ping_outstanding_.reset();
      }
      return {};
    }

    case FrameType::rekey:
      if (auto empty = decode_empty(frame.payload); !empty) return empty;
      rekey_after = true;
      return {};

    case FrameType::goaway: {
      auto goaway = decode_goaway(frame.payload);
      if (!goaway) return tl::unexpected(goaway.error());
      if (!peer_going_away_) {
        peer_going_away_ = true;
        out.events.emplace_back(PeerGoingAway{goaway->last_stream_id});
        // Answer in kind, so that a retiring peer learns that nothing more will be opened here
        // and can close once its streams are done (docs/design.md "Session refresh").
        if (!local_going_away_ && !retiring_) say_goaway_retiring();
      }
      check_drained(out);
      return {};
    }
  }
  return fail(errc::malformed_frame);
}

Result<void> Session::handle_open(StreamId id, Bytes payload, Output& out) {
  // Peer ids have the peer's parity and strictly increase (DESIGN §4.3).
  if (id == 0 || is_local_id(id) || id <= last_remote_id_) return fail(errc::bad_stream_id);
  auto open = decode_open(payload);
  if (!open) return tl::unexpected(open.error());
  last_remote_id_ = id;
  if (local_going_away_) {
    encode_rst(pending_, id, ResetCode::going_away, "endpoint is shutting down");
    return {};
  }
  // Only the streams the peer opened count against its limit (DESIGN §4.3); ours are limited apart.
  if (remote_streams_ >= limits_.max_streams) {
    encode_rst(pending_, id, ResetCode::too_many_streams, "too many concurrent streams");
    return {};
  }
  streams_.emplace(id, new_stream());
  ++remote_streams_;
  ++stats_.streams_opened_remote;
  out.events.emplace_back(StreamOpened{id, std::move(*open)});
  return {};
}

// ---- local operations -------------------------------------------------------------------------

Result<StreamId> Session::open_stream(const OpenPayload& open, TimePoint now, Output& out) {
  if (!takes_new_streams()) return fail(errc::invalid_state);
  if (local_streams_ >= limits_.max_streams || next_local_id_ >= max_stream_id - 1) return fail(errc::stream_limit);
  const StreamId id = next_local_id_;
  next_local_id_ += 2;
  streams_.emplace(id, new_stream());
  ++local_streams_;
  ++stats_.streams_opened_local;
  encode_open(pending_, id, open);
  probe_if_quiet(now);
  flush(now, out);
  return id;
}

std::size_t Session::send(StreamId id, Bytes data, TimePoint now, Output& out) {
  if (!ready()) return 0;
  flush(now, out);  // frames already waiting go first
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.local_fin) return 0;
  Stream& s = it->second;
  const std::size_t n = std::min<std::size_t>(data.size(), s.send_credit);
  s.send_credit -= static_cast<std::uint32_t>(n);
  stats_.data_bytes_out += n;
  // Each DATA frame is a record of its own, sealed from where the caller holds the bytes: the
  // payload is read once, by the cipher (docs/benchmarks.md, "The data path").
  const std::size_t before = out.to_peer.size();
  for (std::size_t done = 0; done < n;) {
    const std::size_t chunk = std::min(n - done, max_data_per_record);
    const auto header = data_frame_header(id, chunk);
    if (auto sealed = encoder_->seal(header, data.subspan(done, chunk), out.to_peer); !sealed) {
      close({CloseReason::Kind::nonce_exhausted, sealed.error()}, out);
      return 0;
    }
    ++stats_.records_out;
    done += chunk;
  }
  stats_.wire_bytes_out += out.to_peer.size() - before;
  flush(now, out);  // a rekey that is now due
  return n;
}

void Session::finish(StreamId id, TimePoint now, Output& out) {
  if (!ready()) return;
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.local_fin) return;
  it->second.local_fin = true;
  encode_fin(pending_, id);
  if (it->second.remote_fin) remove_stream(id, out);
  flush(now, out);
}

void Session::reset(StreamId id, ResetCode code, std::string_view reason, TimePoint now, Output& out) {
  if (closed_ || !erase_stream(id)) return;
  ++stats_.streams_reset;
  encode_rst(pending_, id, code, reason);
  check_drained(out);
  flush(now, out);
}

void Session::consumed(StreamId id, std::size_t n, TimePoint now, Output& out) {
  if (!ready()) return;
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.remote_fin) return;
  Stream& s = it->second;
  s.consumed_unacked += static_cast<std::uint32_t>(n);
  // Return credit in quarters of the window: small enough that the sender never stalls, large
  // enough that WINDOW frames stay rare.
  if (s.consumed_unacked >= s.window_size / 4) {
    const std::uint32_t growth = window_growth(s);
    s.window_size += growth;
    window_growth_ += growth;
    encode_window(pending_, id, s.consumed_unacked + growth);
    s.receive_window += s.consumed_unacked + growth;
    s.consumed_unacked = 0;
    flush(now, out);
  }
}

Session::Stream Session::new_stream() const {
  return Stream{limits_.initial_window, limits_.initial_window, 0, limits_.initial_window};
}

std::uint32_t Session::window_growth(const Stream& s) const {
  // The peer has sent all but a quarter of the window, and at most half of it waits for the local
  // socket: the window, not the reader, limits this stream. Doubling it lets one stream fill a link
  // of any bandwidth-delay product in a few round trips; the bounds keep what an endpoint may have
  // to buffer fixed (docs/design.md §4.3). A reader that falls behind holds more than half, and one
  // that stalls returns no credit at all: neither grows its window.
  const std::uint32_t waiting_for_reader = s.window_size - s.receive_window - s.consumed_unacked;
  if (s.receive_window >= s.window_size / 4 || waiting_for_reader > s.window_size / 2 ||
      s.window_size >= limits_.max_window) {
    return 0;
  }
  const std::size_t budget_left = limits_.window_growth_budget - std::min(window_growth_, limits_.window_growth_budget);
  return static_cast<std::uint32_t>(std::min<std::size_t>({s.window_size, limits_.max_window - s.window_size, budget_left}));
}

void Session::go_away(std::chrono::milliseconds drain_timeout, TimePoint now, Output& out) {
  if (closed_ || local_going_away_) return;
  local_going_away_ = true;
  drain_deadline_ = std::min(drain_deadline_, now + drain_timeout);
  if (phase_ != Phase::established) {
    // Nothing to drain and nothing to tell a peer that has not finished the handshake.
    return close({CloseReason::Kind::drained, {}}, out);
  }
  if (!retiring_) encode_goaway(pending_, last_remote_id_, 0);  // one GOAWAY per connection
  flush(now, out);
  check_drained(out);
}

void Session::say_goaway_retiring() {
  retiring_ = true;
  encode_goaway(pending_, last_remote_id_, 0);
}

void Session::retire_at(TimePoint when, std::chrono::milliseconds drain_timeout) {
  retire_at_ = when;
  retire_drain_ = drain_timeout;
}

void Session::retire(std::chrono::milliseconds drain_timeout, TimePoint now, Output& out) {
  if (closed_ || local_going_away_ || retiring_) return;
  if (!ready()) return close({CloseReason::Kind::drained, {}}, out);
  say_goaway_retiring();
  drain_deadline_ = std::min(drain_deadline_, now + drain_timeout);
  probe(now);
  flush(now, out);
  check_drained(out);
}

std::size_t Session::send_credit(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() || it->second.local_fin ? 0 : it->second.send_credit;
}

// ---- time -------------------------------------------------------------------------------------

void Session::on_tick(TimePoint now, Output& out) {
  if (closed_) return;
  if (phase_ != Phase::established || (!role_initiator_ && !confirmed_)) {
    if (now >= handshake_deadline_) return close({CloseReason::Kind::handshake_timeout, {}}, out);
    return;
  }
  if (now >= drain_deadline_) return close({CloseReason::Kind::drain_timeout, {}}, out);
  if (now >= retire_at_) {
    retire_at_ = TimePoint::max();
    retire(retire_drain_, now, out);
    if (closed_) return;
  }
  if (now - last_received_ >= 3 * limits_.keepalive) return close({CloseReason::Kind::peer_silent, {}}, out);
  if (now >= probe_deadline_) return close({CloseReason::Kind::probe_unanswered, {}}, out);
  if (now >= std::max(last_received_, last_ping_sent_) + limits_.keepalive) send_ping(now);
  flush(now, out);
}

TimePoint Session::next_deadline() const {
  if (closed_) return TimePoint::max();
  if (phase_ != Phase::established || (!role_initiator_ && !confirmed_)) return handshake_deadline_;
  return std::min({drain_deadline_, probe_deadline_, retire_at_, last_received_ + 3 * limits_.keepalive,
                   std::max(last_received_, last_ping_sent_) + limits_.keepalive, next_rekey_at_});
}

// ---- output -----------------------------------------------------------------------------------

void Session::send_ping(TimePoint now) {
  encode_ping(pending_, FrameType::ping, ++ping_counter_);
  last_ping_sent_ = now;
  ping_outstanding_.emplace(ping_counter_, now);
}

void Session::probe_if_quiet(TimePoint now) {
  // A peer that went dark without closing would otherwise hold a new stream for up to 3 × keepalive
  // (45 s by default) before its client hears 421 (DESIGN §4.4, §5): a client waiting for a greeting
  // is better told within seconds. One probe at a time; any record answers it.
  if (now - last_received_ < probe_when_quiet_for) return;
  probe(now);
}

void Session::probe(TimePoint now) {
  if (probe_deadline_ != TimePoint::max()) return;
  send_ping(now);
  Clock::duration answer_within = min_probe_timeout;
  if (stats_.rtt) answer_within = std::max<Clock::duration>(answer_within, probe_timeout_rtts * *stats_.rtt);
  probe_deadline_ = now + answer_within;
}

void Session::flush(TimePoint now, Output& out) {
  // A responder sends nothing but message 2 until the initiator's first record confirms the
  // session: until then the initiator might be a replay that can never read it.
  if (closed_ || phase_ != Phase::established || (!role_initiator_ && !confirmed_)) return;
  const bool rekey_due =
      now >= next_rekey_at_ || encoder_->records_sealed() - records_at_last_rekey_ >= limits_.rekey_records;
  if (pending_.empty() && !rekey_due) return;
  if (rekey_due) encode_rekey(pending_);  // last frame, so it travels in the last record

  // Pack whole frames into records of at most max_record_plaintext bytes.
  const std::size_t before = out.to_peer.size();
  std::size_t start = 0;
  while (start < pending_.size()) {
    std::size_t end = start;
    while (end < pending_.size()) {
      const std::size_t frame_len = frame_header_len + read_u16(pending_, end + 5);
      if (end + frame_len - start > max_record_plaintext) break;
      end += frame_len;
    }
    assert(end > start);  // every frame fits in a record by construction
    if (auto sealed = encoder_->seal(Bytes(pending_).subspan(start, end - start), out.to_peer); !sealed) {
      pending_.clear();
      return close({CloseReason::Kind::nonce_exhausted, sealed.error()}, out);
    }
    ++stats_.records_out;
    start = end;
  }
  pending_.clear();
  stats_.wire_bytes_out += out.to_peer.size() - before;
  if (rekey_due) {
    encoder_->rekey();
    ++stats_.rekeys;
    records_at_last_rekey_ = encoder_->records_sealed();
    next_rekey_at_ = now + limits_.rekey_interval;
  }
}

bool Session::erase_stream(StreamId id) {
  const auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  window_growth_ -= it->second.window_size - limits_.initial_window;
  streams_.erase(it);
  --(is_local_id(id) ? local_streams_ : remote_streams_);
  return true;
}

void Session::remove_stream(StreamId id, Output& out) {
  erase_stream(id);
  check_drained(out);
}

void Session::check_drained(Output& out) {
  // Retiring alone is not enough: the peer may still open a stream here until its GOAWAY arrives.
  if ((local_going_away_ || peer_going_away_) && streams_.empty() && !closed_) {
    // Let what is pending (the last FIN, the GOAWAY) go out before closing.
    if (phase_ == Phase::established && (role_initiator_ || confirmed_)) flush(last_received_, out);
    close({CloseReason::Kind::drained, {}}, out);
  }
}

void Session::adopt_limits(const SessionLimits& limits) {
  if (streams_.empty()) limits_ = limits;
}

void Session::abort(CloseReason reason, Output& out) { close(std::move(reason), out); }

void Session::close(CloseReason reason, Output& out) {
  if (closed_) return;
  closed_ = true;
  pending_.clear();
  // Every open stream dies with the connection: its local client must see a reset, never a clean
  // end that could pass for success (DESIGN §5).
  for (const auto& [id, stream] : streams_) {
    out.events.emplace_back(StreamReset{id, ResetCode::internal, "tunnel connection closed: " + to_string(reason), false});
  }
  streams_.clear();
  local_streams_ = remote_streams_ = 0;
  window_growth_ = 0;
  out.close = std::move(reason);
}

}  // namespace mailtun::tunnel
