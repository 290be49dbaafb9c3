#include "tunnel/handshake.hpp"

#include <algorithm>

namespace mailtun::tunnel {
namespace {

Bytes prologue_bytes() { return {reinterpret_cast<const std::uint8_t*>(prologue.data()), prologue.size()}; }

/// u16 length | u8 type | 3 zero bytes | noise | mac1 — mac1 covers type..noise.
std::vector<std::uint8_t> wrap(std::uint8_t type, Bytes noise_message, const Mac1Key& receiver_mac1) {
  const std::size_t body_len = message_header_len + noise_message.size() + mac1_len;
  std::vector<std::uint8_t> out;
  out.reserve(length_field_len + body_len);
  out.push_back(static_cast<std::uint8_t>(body_len >> 8));
  out.push_back(static_cast<std::uint8_t>(body_len));
  out.insert(out.end(), {type, 0, 0, 0});
  out.insert(out.end(), noise_message.begin(), noise_message.end());
  const Mac1 mac = receiver_mac1.compute(Bytes(out).subspan(length_field_len));
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

/// Checks the envelope of a received message and returns its Noise part. No DH happens before this.
Result<Bytes> unwrap(Bytes message, std::uint8_t type, std::size_t wire_len, const Mac1Key& own_mac1) {
  if (message.size() != wire_len) return fail(errc::bad_length);
  const std::size_t declared = (std::size_t{message[0]} << 8) | message[1];
  if (declared != wire_len - length_field_len) return fail(errc::bad_length);
  const Bytes body = message.subspan(length_field_len);
  if (body[0] != type || body[1] != 0 || body[2] != 0 || body[3] != 0) return fail(errc::bad_type);
  const Bytes covered = body.first(body.size() - mac1_len);
  if (!own_mac1.verify(covered, body.last<mac1_len>())) return fail(errc::bad_mac1);
  return covered.subspan(message_header_len);
}

}  // namespace

const noise::Protocol& mailtun_protocol() {
  static const noise::Protocol protocol = *noise::parse_protocol_name(noise_protocol_name);
  return protocol;
}

// ---- Initiator --------------------------------------------------------------------------------

Initiator::Initiator(noise::HandshakeState state, const keys::PrivateKey& local_static)
    : state_(std::move(state)), own_mac1_(local_static.public_key()) {}

Result<Initiator> Initiator::start(const keys::PrivateKey& local_static, const keys::PublicKey& responder_static,
                                   const keys::PresharedKey& psk, Tai64n now,
                                   std::optional<keys::PrivateKey> ephemeral) {
  Initiator initiator(noise::HandshakeState({
                          .protocol = mailtun_protocol(),
                          .initiator = true,
                          .prologue = prologue_bytes(),
                          .s = &local_static,
                          .rs = responder_static,
                          .psk = &psk,
                          .e = std::move(ephemeral),
                      }),
                      local_static);
  // e, es, s, ss with the timestamp as payload
  auto noise_message = initiator.state_.write_message(now.bytes());
  if (!noise_message) return tl::unexpected(noise_message.error());
  initiator.initiation_ = wrap(message_type_initiation, *noise_message, Mac1Key(responder_static));
  return initiator;
}

Result<TransportKeys> Initiator::on_response(Bytes message) {
  if (state_.complete()) return fail(errc::invalid_state);
  auto noise_message = unwrap(message, message_type_response, response_wire_len, own_mac1_);
  if (!noise_message) return tl::unexpected(noise_message.error());
  // e, ee, se, psk with an empty payload
  auto payload = state_.read_message(*noise_message);
  if (!payload) return tl::unexpected(payload.error());
  if (!payload->empty()) return fail(errc::bad_length);
  auto [initiator_to_responder, responder_to_initiator] = state_.split();
  return TransportKeys{std::move(initiator_to_responder), std::move(responder_to_initiator)};
}

// ---- Responder --------------------------------------------------------------------------------

Responder::Responder(const keys::PrivateKey& local_static)
    : local_static_(local_static), own_mac1_(local_static.public_key()) {}

Responder::PeerIndex Responder::add_peer(const keys::PublicKey& static_key, const keys::PresharedKey& psk) {
  // The same key again (a reload changed its PSK) keeps the replay guard of its removed entry.
  std::optional<Tai64n> last_timestamp;
  for (const Peer& p : peers_) {
    if (p.static_key == static_key && p.last_timestamp) last_timestamp = std::max(last_timestamp, p.last_timestamp);
  }
  peers_.push_back(Peer{static_key, &psk, Mac1Key(static_key), last_timestamp});
  return peers_.size() - 1;
}

void Responder::remove_peer(PeerIndex peer) {
  if (peer < peers_.size()) peers_[peer].removed = true;
}

void Responder::confirm(PeerIndex peer, Tai64n timestamp) {
  if (peer >= peers_.size()) return;
  auto& newest = peers_[peer].last_timestamp;
  if (!newest || *newest < timestamp) newest = timestamp;
}

Result<Responder::Accepted> Responder::on_initiation(Bytes message, std::optional<Tai64n> latest,
                                                     const Admission& admit,
                                                     std::optional<keys::PrivateKey> ephemeral) {
  auto noise_message = unwrap(message, message_type_initiation, initiation_wire_len, own_mac1_);
  if (!noise_message) return tl::unexpected(noise_message.error());
  if (admit && !admit()) return fail(errc::rate_limited);

  noise::HandshakeState state({
      .protocol = mailtun_protocol(),
      .initiator = false,
      .prologue = prologue_bytes(),
      .s = &local_static_,
      .rs = std::nullopt,  // learned from message 1
      .psk = nullptr,      // known once the peer is
      .e = std::move(ephemeral),
  });
  // e, es, s, ss: decrypts the initiator's static key and the timestamp.
  auto payload = state.read_message(*noise_message);
  if (!payload) return tl::unexpected(payload.error());

  const auto peer = std::ranges::find_if(
      peers_, [&](const Peer& p) { return !p.removed && p.static_key == *state.remote_static(); });
  if (peer == peers_.end()) {
    last_unknown_key_ = *state.remote_static();
    return fail(errc::unknown_peer);
  }
  if (payload->size() != Tai64n::size) return fail(errc::bad_length);
  const Tai64n timestamp = Tai64n::from_bytes(std::span<const std::uint8_t, Tai64n::size>(payload->data(), Tai64n::size));
  if (peer->last_timestamp && timestamp <= *peer->last_timestamp) return fail(errc::replayed_timestamp);
  if (latest && timestamp > *latest) return fail(errc::timestamp_in_future);

  // e, ee, se, psk with an empty payload
  state.set_psk(*peer->psk);
  auto response = state.write_message({});
  if (!response) return tl::unexpected(response.error());

  auto [initiator_to_responder, responder_to_initiator] = state.split();
  return Accepted{static_cast<PeerIndex>(peer - peers_.begin()),
                  wrap(message_type_response, *response, peer->mac1),
                  TransportKeys{std::move(responder_to_initiator), std::move(initiator_to_responder)}, timestamp};
}

}  // namespace mailtun::tunnel
