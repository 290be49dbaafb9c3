#pragma once
// The mailtun/1 handshake (DESIGN §4.1): Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b with prologue
// "mailtun/1", each Noise message wrapped as `u16 length | u8 type | 3 zero bytes | noise | mac1`.
// Pure: the caller passes complete messages, the wall-clock timestamp and (in tests) the ephemeral
// key; every rejection is a typed error that the I/O shell turns into a silent close.

#include <functional>
#include <optional>
#include <vector>

#include "keys/key.hpp"
#include "tunnel/mac1.hpp"
#include "tunnel/noise/handshake_state.hpp"
#include "tunnel/tai64n.hpp"

namespace mailtun::tunnel {

/// The two transport CipherStates of an established session, from this side's point of view.
struct TransportKeys {
  noise::CipherState send;
  noise::CipherState receive;
};

/// The dialing side. Keys are borrowed and must outlive the Initiator.
class Initiator {
 public:
  /// Builds message 1 at once. Fails only with weak_public_key when `responder_static` is a
  /// low-order point (a configuration error).
  static Result<Initiator> start(const keys::PrivateKey& local_static, const keys::PublicKey& responder_static,
                                 const keys::PresharedKey& psk, Tai64n now,
                                 std::optional<keys::PrivateKey> ephemeral = std::nullopt);

  /// Message 1, complete with its length field, ready for the socket.
  [[nodiscard]] const std::vector<std::uint8_t>& initiation() const { return initiation_; }

  /// Message 2, exactly response_wire_len bytes with its length field. Checks length, type and
  /// mac1 before any Diffie-Hellman; then completes the handshake. Errors: bad_length, bad_type,
  /// bad_mac1, decrypt_failed (wrong responder key or PSK), weak_public_key, invalid_state (called twice).
  Result<TransportKeys> on_response(Bytes message);

 private:
  Initiator(noise::HandshakeState state, const keys::PrivateKey& local_static);
  noise::HandshakeState state_;
  Mac1Key own_mac1_;  // message 2 is addressed to us
  std::vector<std::uint8_t> initiation_;
};

/// The listening side: one per endpoint, holding the configured peers and, per peer, the newest
/// message 1 timestamp of a confirmed session (the replay guard).
class Responder {
 public:
  using PeerIndex = std::size_t;

  struct Accepted {
    PeerIndex peer;                       // index from add_peer()
    std::vector<std::uint8_t> response;   // message 2 with its length field, for the socket
    TransportKeys keys;
    Tai64n timestamp;                     // for confirm()
  };

  /// Asked once a message 1 has passed its mac1 check, before any Diffie-Hellman: false refuses it
  /// with rate_limited. The handshake rate limit is charged here and not at accept, so that a
  /// stranger who does not know this endpoint's public key cannot spend a source's handshakes
  /// (docs/design.md, "Handshake floods").
  using Admission = std::function<bool()>;

  /// `local_static` is borrowed and must outlive the Responder.
  explicit Responder(const keys::PrivateKey& local_static);

  /// Registers a peer that may connect; the PSK is borrowed (all-zero for none).
  PeerIndex add_peer(const keys::PublicKey& static_key, const keys::PresharedKey& psk);
  /// The peer may no longer connect (a reload removed it or changed its keys). Its index is never
  /// given to another peer, so sessions that carry it cannot be mistaken for someone else's.
  void remove_peer(PeerIndex peer);

  /// Message 1, exactly initiation_wire_len bytes with its length field. In order, so that
  /// strangers cost no Diffie-Hellman: length (bad_length), type and reserved bytes (bad_type),
  /// mac1 (bad_mac1); then Noise (decrypt_failed, weak_public_key), the initiator's key
  /// (unknown_peer), the timestamp (replayed_timestamp, or timestamp_in_future when past `latest`).
  /// `admit` is asked between mac1 and Noise. `latest` is this side's clock plus the skew it
  /// tolerates: without it, one message 1 from a clock that ran far ahead would lock the peer out
  /// until restart, because every later, correct timestamp would look like a replay.
  ///
  /// The timestamp is not recorded here but by confirm(): message 1 does not involve the PSK, so
  /// someone holding a peer's static key but not its PSK could otherwise push the peer's timestamp
  /// ahead and lock it out.
  Result<Accepted> on_initiation(Bytes message, std::optional<Tai64n> latest = std::nullopt,
                                 const Admission& admit = {},
                                 std::optional<keys::PrivateKey> ephemeral = std::nullopt);

  /// The initiator's first record arrived, so it holds the PSK: `timestamp` (from Accepted) becomes
  /// the peer's replay guard unless a newer one already is.
  void confirm(PeerIndex peer, Tai64n timestamp);

  [[nodiscard]] std::size_t peer_count() const { return peers_.size(); }
  /// The initiator's static key of the latest message 1 refused as unknown_peer: logged, so that a
  /// key pasted wrongly into [[peer]] is found by comparing two lines.
  [[nodiscard]] const std::optional<keys::PublicKey>& last_unknown_key() const { return last_unknown_key_; }

 private:
  struct Peer {
    keys::PublicKey static_key;
    const keys::PresharedKey* psk;
    Mac1Key mac1;  // for messages addressed to this peer
    std::optional<Tai64n> last_timestamp;
    bool removed = false;
  };
  const keys::PrivateKey& local_static_;
  Mac1Key own_mac1_;
  std::vector<Peer> peers_;
  std::optional<keys::PublicKey> last_unknown_key_;
};

/// The Noise protocol of mailtun/1.
const noise::Protocol& mailtun_protocol();

}  // namespace mailtun::tunnel
