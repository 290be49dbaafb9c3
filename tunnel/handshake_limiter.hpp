#pragma once
// DESIGN §4.1 responder rule 2: more than a few handshakes per second from one source address are
// dropped, so one host cannot make the responder spend a Diffie-Hellman per message. A token bucket
// per source, in bounded memory. Pure: the shell passes the accepted socket's address and the time.

#include <array>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>

namespace mailtun::tunnel {

/// What the limiter counts as one source. An IPv4 address, or the /64 prefix of an IPv6 address:
/// one host is normally given a whole /64, so counting its addresses one by one would give it 2^64
/// buckets (WireGuard's ratelimiter does the same). IPv4-mapped IPv6 (::ffff:a.b.c.d, what a
/// dual-stack listener reports) counts as the IPv4 address, so a host is one source either way.
class SourceKey {
 public:
  static SourceKey ipv4(const std::array<std::uint8_t, 4>& address);
  static SourceKey ipv6(const std::array<std::uint8_t, 16>& address);

  friend auto operator<=>(const SourceKey&, const SourceKey&) = default;

 private:
  std::uint8_t family_ = 0;            // 4 or 6
  std::array<std::uint8_t, 8> bits_{};  // IPv4: the first 4; IPv6: the /64 prefix
};

struct HandshakeLimits {
  std::uint32_t per_second = 5;  // sustained handshakes per source (per `period`); 0 is taken as 1
  std::uint32_t burst = 10;      // handshakes a quiet source may make at once; 0 is taken as 1
  std::size_t max_sources = 4096;  // sources tracked at once; 0 is taken as 1
  /// The unit of `per_second`. The endpoint also limits its warnings about refused handshakes with
  /// a limiter of its own, one line per source per minute.
  std::chrono::nanoseconds period = std::chrono::seconds(1);
};

/// Per-source token buckets (DESIGN §4.1 rule 2) with a fixed upper bound on memory.
///
/// Table policy: a bucket that has refilled to `burst` is forgotten when room is needed, which
/// loses nothing, since a source seen for the first time starts with a full bucket. When the table
/// is full of sources that are still refilling, a handshake from a source not in it is refused:
/// admitting it would mean forgetting some other source's debt, so a flood from many addresses
/// would get a fresh burst per address and escape the limit altogether.
///
/// Refusing every newcomer would let such a flood (an IPv6 /52 holds 4096 sources of /64) lock out
/// a real peer that is not yet in the table, so the caller says whether the source is *proven*: one
/// a peer recently completed a handshake from (docs/design.md, "Handshake floods"). A proven
/// newcomer takes the place of the bucket nearest to full, whose source gets at most one fresh
/// burst out of it; the proven source is then limited like any other. Time going backwards is
/// treated as no time passing.
class HandshakeLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit HandshakeLimiter(const HandshakeLimits& limits = {});

  /// True if `source` may have a handshake at `now` (and charges it one); false: drop it silently.
  /// `proven`: see the class comment.
  bool allow(const SourceKey& source, TimePoint now, bool proven = false);

  /// Sources currently tracked; never more than max_sources.
  [[nodiscard]] std::size_t tracked_sources() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::chrono::nanoseconds credit;  // time-denominated tokens: cost_ buys one handshake
    TimePoint last;
  };

  // Credit after refilling up to `now`.
  [[nodiscard]] std::chrono::nanoseconds refilled(const Bucket& bucket, TimePoint now) const;
  // Forgets every bucket that is full at `now`; returns whether any was.
  bool forget_full_buckets(TimePoint now);
  // Forgets the bucket with the most credit at `now`.
  void forget_fullest_bucket(TimePoint now);

  std::chrono::nanoseconds cost_;      // 1 s / per_second
  std::chrono::nanoseconds capacity_;  // cost_ × burst
  std::size_t max_sources_;
  // Ordered, not hashed: keys come from the network, and a tree cannot be driven into
  // collisions.
  std::map<SourceKey, Bucket> buckets_;
  // No bucket can be full before this, so a table found full needs no scan until then.
  TimePoint no_full_bucket_before_{};
};

}  // namespace mailtun::tunnel
