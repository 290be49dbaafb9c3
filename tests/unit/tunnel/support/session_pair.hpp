#pragma once
// Test support: two Sessions joined in memory, with time moved by hand, and a "raw peer" that
// completes a real handshake and then writes arbitrary frames, for hostile-input tests.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tunnel/session.hpp"

namespace mailtun::tunnel::testing {

using ByteVector = std::vector<std::uint8_t>;

/// Everything one side was told, in owned form (StreamData views die with the next call).
struct Observed {
  bool established = false;
  bool confirmed = false;
  std::vector<StreamOpened> opened;
  std::map<StreamId, ByteVector> data;
  std::set<StreamId> fins;
  std::map<StreamId, StreamReset> resets;
  std::vector<StreamId> writable;
  std::optional<StreamId> peer_going_away;
  std::optional<CloseReason> close;
  std::size_t bytes_out = 0;

  void take(Output& out) {
    for (auto& event : out.events) {
      std::visit(
          [this](auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, Established>) established = true;
            if constexpr (std::is_same_v<E, Confirmed>) confirmed = true;
            if constexpr (std::is_same_v<E, StreamOpened>) opened.push_back(e);
            if constexpr (std::is_same_v<E, StreamData>) data[e.id].insert(data[e.id].end(), e.data.begin(), e.data.end());
            if constexpr (std::is_same_v<E, StreamFin>) fins.insert(e.id);
            if constexpr (std::is_same_v<E, StreamReset>) resets.insert_or_assign(e.id, e);
            if constexpr (std::is_same_v<E, StreamWritable>) writable.push_back(e.id);
            if constexpr (std::is_same_v<E, PeerGoingAway>) peer_going_away = e.last_stream_id;
          },
          event);
    }
    out.events.clear();
    if (out.close) close = out.close;
  }
};

struct Keys {
  keys::PrivateKey office = keys::PrivateKey::generate();
  keys::PrivateKey vps = keys::PrivateKey::generate();
  keys::PresharedKey psk = keys::PresharedKey::generate();
};

/// `a` dials (initiator), `b` listens (responder). Bytes travel only when deliver() is called.
class SessionPair {
 public:
  explicit SessionPair(SessionLimits a_limits = {}, SessionLimits b_limits = {})
      : responder_(keys_.vps), b_(Session::accept(responder_, b_limits, now)), a_(dial(a_limits)) {}

  Session& a() { return a_; }
  Session& b() { return b_; }
  Observed& seen_by_a() { return a_seen_; }
  Observed& seen_by_b() { return b_seen_; }
  Output& a_out() { return a_out_; }
  Output& b_out() { return b_out_; }

  /// Moves every pending byte across, both ways, until neither side has anything to say.
  /// `fragment` > 0 cuts each transfer into pieces of at most that many bytes.
  void deliver(std::size_t fragment = 0) {
    for (int rounds = 0; rounds < 10000 && (!a_out_.to_peer.empty() || !b_out_.to_peer.empty()); ++rounds) {
      move(a_out_, b_, b_out_, b_seen_, fragment);
      move(b_out_, a_, a_out_, a_seen_, fragment);
    }
    a_seen_.take(a_out_);
    b_seen_.take(b_out_);
  }

  void handshake() { deliver(); }

  void tick(std::chrono::milliseconds advance) {
    now += advance;
    a_.on_tick(now, a_out_);
    b_.on_tick(now, b_out_);
    a_seen_.take(a_out_);
    b_seen_.take(b_out_);
  }

  /// Runs `op(session, out)` on one side and records what it reported.
  template <typename Op>
  auto on_a(Op&& op) { return run(a_, a_out_, a_seen_, op); }
  template <typename Op>
  auto on_b(Op&& op) { return run(b_, b_out_, b_seen_, op); }

  TimePoint now = TimePoint{} + std::chrono::hours(1);

 private:
  Session dial(const SessionLimits& limits) {
    auto initiator = Initiator::start(keys_.office, keys_.vps.public_key(), keys_.psk,
                                      Tai64n::from_system_time(std::chrono::system_clock::now()));
    responder_.add_peer(keys_.office.public_key(), keys_.psk);
    return Session::dial(std::move(*initiator), 0, limits, now, a_out_);
  }

  template <typename Op>
  static auto run(Session& s, Output& out, Observed& seen, Op& op) {
    if constexpr (std::is_void_v<decltype(op(s, out))>) {
      op(s, out);
      seen.take(out);
    } else {
      auto result = op(s, out);
      seen.take(out);
      return result;
    }
  }

  void move(Output& from, Session& to, Output& to_out, Observed& to_seen, std::size_t fragment) {
    ByteVector bytes = std::move(from.to_peer);
    from.to_peer.clear();
    (&from == &a_out_ ? a_seen_ : b_seen_).bytes_out += bytes.size();
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      const std::size_t n = fragment == 0 ? bytes.size() - pos : std::min(fragment, bytes.size() - pos);
      to.on_bytes(Bytes(bytes).subspan(pos, n), now, to_out);
      to_seen.take(to_out);
      pos += n;
    }
  }

  Keys keys_;
  Responder responder_;
  Output a_out_, b_out_;
  Observed a_seen_, b_seen_;
  Session b_;
  Session a_;
};

}  // namespace mailtun::tunnel::testing
