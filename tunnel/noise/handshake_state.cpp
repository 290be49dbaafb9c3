#include "tunnel/noise/handshake_state.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace mailtun::tunnel::noise {
namespace {

using enum Token;

const HandshakePattern pattern_nn{"NN", false, {{e}, {e, ee}}};
const HandshakePattern pattern_ik{"IK", true, {{e, es, s, ss}, {e, ee, se}}};
const HandshakePattern pattern_ikpsk2{"IKpsk2", true, {{e, es, s, ss}, {e, ee, se, psk}}};
const HandshakePattern* const patterns[] = {&pattern_nn, &pattern_ik, &pattern_ikpsk2};

// A DH whose result is all zeros (a low-order or zero public key) is refused: libsodium's
// crypto_scalarmult reports it, and accepting it would let a peer force a known shared secret.
Result<void> dh(const keys::PrivateKey& priv, const keys::PublicKey& pub, std::array<std::uint8_t, 32>& out) {
  if (crypto_scalarmult_curve25519(out.data(), priv.bytes().data(), pub.bytes().data()) != 0) {
    return fail(errc::weak_public_key);
  }
  return {};
}

}  // namespace

bool HandshakePattern::uses(Token token) const {
  return std::ranges::any_of(messages, [token](const auto& m) { return std::ranges::find(m, token) != m.end(); });
}

std::optional<Protocol> parse_protocol_name(std::string_view name) {
  constexpr std::string_view prefix = "Noise_";
  constexpr std::string_view middle = "_25519_ChaChaPoly_";
  if (!name.starts_with(prefix)) return std::nullopt;
  const std::size_t mid = name.find(middle);
  if (mid == std::string_view::npos) return std::nullopt;
  const std::string_view pattern_name = name.substr(prefix.size(), mid - prefix.size());
  const std::string_view hash_name = name.substr(mid + middle.size());

  const HashAlgorithm* hash = nullptr;
  for (const HashAlgorithm* alg : {&blake2b(), &blake2s()}) {
    if (alg->name == hash_name) hash = alg;
  }
  const auto pattern = std::ranges::find(patterns, pattern_name, &HandshakePattern::name);
  if (hash == nullptr || pattern == std::end(patterns)) return std::nullopt;
  return Protocol{std::string(name), *pattern, hash};
}

HandshakeState::HandshakeState(HandshakeParams params)
    : pattern_(params.protocol.pattern),
      symmetric_(*params.protocol.hash, params.protocol.name),
      initiator_(params.initiator),
      s_(params.s),
      e_(std::move(params.e)),
      rs_(params.rs),
      psk_(params.psk) {
  const HandshakePattern& p = *pattern_;
  if ((p.uses(s) || p.uses(ss) || p.uses(initiator_ ? se : es)) && s_ == nullptr)
    throw std::invalid_argument("handshake pattern needs a local static key");
  if (pattern_->responder_static_premessage && initiator_ && !rs_)
    throw std::invalid_argument("handshake pattern needs the responder's static key");

  symmetric_.mix_hash(params.prologue);
  // Pre-message "<- s": both sides hash the responder's static public key.
  if (pattern_->responder_static_premessage) {
    symmetric_.mix_hash(initiator_ ? rs_->bytes() : s_->public_key().bytes());
  }
}

Result<void> HandshakeState::mix_dh(Token token) {
  // Each token names (initiator key, responder key); this side uses its private half of its own key.
  const bool my_e = token == ee || (initiator_ ? token == es : token == se);
  const bool their_e = token == ee || (initiator_ ? token == se : token == es);
  const keys::PrivateKey* mine = my_e ? (e_ ? &*e_ : nullptr) : s_;
  const std::optional<keys::PublicKey>& theirs = their_e ? re_ : rs_;
  if (mine == nullptr || !theirs) return fail(errc::invalid_state);
  std::array<std::uint8_t, 32> shared{};
  auto result = dh(*mine, *theirs, shared);
  if (result) symmetric_.mix_key(shared);
  sodium_memzero(shared.data(), shared.size());
  return result;
}

Result<std::vector<std::uint8_t>> HandshakeState::write_message(Bytes payload) {
  if (complete() || !my_turn()) return fail(errc::invalid_state);
  std::vector<std::uint8_t> out;
  for (const Token token : pattern_->messages[index_]) {
    switch (token) {
      case e: {
        if (!e_) e_ = keys::PrivateKey::generate();
        const keys::PublicKey e_pub = e_->public_key();
        out.insert(out.end(), e_pub.bytes().begin(), e_pub.bytes().end());
        symmetric_.mix_hash(e_pub.bytes());
        if (pattern_->psk_mode()) symmetric_.mix_key(e_pub.bytes());
        break;
      }
      case s:
        if (auto r = symmetric_.encrypt_and_hash(s_->public_key().bytes(), out); !r) return tl::unexpected(r.error());
        break;
      case psk:
        if (psk_ == nullptr) return fail(errc::invalid_state);
        symmetric_.mix_key_and_hash(psk_->bytes());
        break;
      default:
        if (auto r = mix_dh(token); !r) return tl::unexpected(r.error());
    }
  }
  if (auto r = symmetric_.encrypt_and_hash(payload, out); !r) return tl::unexpected(r.error());
  ++index_;
  return out;
}

Result<std::vector<std::uint8_t>> HandshakeState::read_message(Bytes message) {
  if (complete() || my_turn()) return fail(errc::invalid_state);
  Bytes rest = message;
  const auto take = [&rest](std::size_t n) -> std::optional<Bytes> {
    if (rest.size() < n) return std::nullopt;
    const Bytes head = rest.first(n);
    rest = rest.subspan(n);
    return head;
  };
  for (const Token token : pattern_->messages[index_]) {
    switch (token) {
      case e: {
        const auto re = take(32);
        if (!re) return fail(errc::bad_length);
        re_ = keys::PublicKey(keys::KeySpan(re->data(), 32));
        symmetric_.mix_hash(*re);
        if (pattern_->psk_mode()) symmetric_.mix_key(*re);
        break;
      }
      case s: {
        const auto encrypted = take(32 + (symmetric_.has_key() ? std::size_t{16} : 0));
        if (!encrypted) return fail(errc::bad_length);
        std::vector<std::uint8_t> rs;
        if (auto r = symmetric_.decrypt_and_hash(*encrypted, rs); !r) return tl::unexpected(r.error());
        rs_ = keys::PublicKey(keys::KeySpan(rs.data(), 32));
        break;
      }
      case psk:
        if (psk_ == nullptr) return fail(errc::invalid_state);
        symmetric_.mix_key_and_hash(psk_->bytes());
        break;
      default:
        if (auto r = mix_dh(token); !r) return tl::unexpected(r.error());
    }
  }
  std::vector<std::uint8_t> payload;
  if (auto r = symmetric_.decrypt_and_hash(rest, payload); !r) return tl::unexpected(r.error());
  ++index_;
  return payload;
}

}  // namespace mailtun::tunnel::noise
