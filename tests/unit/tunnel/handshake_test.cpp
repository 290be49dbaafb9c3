#include "tunnel/handshake.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace mailtun::tunnel {
namespace {

using ByteVector = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

Tai64n at(std::chrono::system_clock::duration since_epoch) {
  return Tai64n::from_system_time(std::chrono::system_clock::time_point(since_epoch));
}

keys::PrivateKey key_from_seed(std::uint8_t seed) {
  std::array<std::uint8_t, 32> bytes{};
  bytes.fill(seed);
  return keys::PrivateKey::from_bytes(bytes);
}

/// The public key 0 is a low-order point: every DH with it gives all zeros.
keys::PublicKey low_order_point() { return keys::PublicKey(std::array<std::uint8_t, 32>{}); }

struct Endpoints {
  keys::PrivateKey office = key_from_seed(1);   // dials: initiator
  keys::PrivateKey vps = key_from_seed(2);      // listens: responder
  keys::PresharedKey psk = keys::PresharedKey::generate();
  Responder responder{vps};
  Responder::PeerIndex office_index = responder.add_peer(office.public_key(), psk);

  Initiator dial(Tai64n now, const keys::PresharedKey* other_psk = nullptr) {
    auto initiator = Initiator::start(office, vps.public_key(), other_psk ? *other_psk : psk, now);
    EXPECT_TRUE(initiator.has_value());
    return std::move(*initiator);
  }
};

/// Message 1 accepted and its session confirmed, as the initiator's first record does.
Result<Responder::Accepted> accept_confirmed(Responder& responder, Bytes message,
                                             std::optional<Tai64n> latest = std::nullopt) {
  auto accepted = responder.on_initiation(message, latest);
  if (accepted) responder.confirm(accepted->peer, accepted->timestamp);
  return accepted;
}

/// Proves two TransportKeys talk to each other in both directions.
void expect_connected(TransportKeys& a, TransportKeys& b) {
  for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    const ByteVector plain = {'m', 'a', 'i', 'l'};
    ByteVector sealed(plain.size() + 16), opened(plain.size());
    ASSERT_TRUE(from->send.encrypt_with_ad({}, plain, sealed));
    ASSERT_TRUE(to->receive.decrypt_with_ad({}, sealed, opened));
    EXPECT_EQ(opened, plain);
  }
}

TEST(Handshake, CompletesWithMatchingTransportKeysAndTheRightPeer) {
  Endpoints ep;
  keys::PrivateKey other = key_from_seed(3);
  keys::PresharedKey no_psk;
  ep.responder.add_peer(other.public_key(), no_psk);  // a second peer, so the index means something

  Initiator initiator = ep.dial(at(1000s));
  auto accepted = ep.responder.on_initiation(initiator.initiation());
  ASSERT_TRUE(accepted) << accepted.error().message();
  EXPECT_EQ(accepted->peer, ep.office_index);
  auto keys = initiator.on_response(accepted->response);
  ASSERT_TRUE(keys) << keys.error().message();
  expect_connected(*keys, accepted->keys);
}

TEST(Handshake, WithoutAPskBothSidesUseTheZeroKey) {
  keys::PrivateKey office = key_from_seed(1), vps = key_from_seed(2);
  keys::PresharedKey none_here, none_there;
  Responder responder(vps);
  responder.add_peer(office.public_key(), none_there);
  auto initiator = Initiator::start(office, vps.public_key(), none_here, at(5s));
  ASSERT_TRUE(initiator);
  auto accepted = responder.on_initiation(initiator->initiation());
  ASSERT_TRUE(accepted);
  auto keys = initiator->on_response(accepted->response);
  ASSERT_TRUE(keys);
  expect_connected(*keys, accepted->keys);
}

TEST(Handshake, MessagesHaveTheDesignedEnvelope) {
  Endpoints ep;
  Initiator initiator = ep.dial(at(1000s));
  const ByteVector& m1 = initiator.initiation();
  ASSERT_EQ(m1.size(), 2U + 4 + 108 + 16);
  EXPECT_EQ((m1[0] << 8) | m1[1], 4 + 108 + 16);
  EXPECT_EQ(ByteVector(m1.begin() + 2, m1.begin() + 6), (ByteVector{1, 0, 0, 0}));
  // mac1 = BLAKE2b-128 keyed by BLAKE2b-256("mac1----" ‖ responder public) over type..noise.
  const Bytes covered = Bytes(m1).subspan(2, m1.size() - 2 - 16);
  EXPECT_TRUE(Mac1Key(ep.vps.public_key()).verify(covered, Bytes(m1).last<16>()));

  auto accepted = ep.responder.on_initiation(m1);
  ASSERT_TRUE(accepted);
  const ByteVector& m2 = accepted->response;
  ASSERT_EQ(m2.size(), 2U + 4 + 48 + 16);
  EXPECT_EQ((m2[0] << 8) | m2[1], 4 + 48 + 16);
  EXPECT_EQ(ByteVector(m2.begin() + 2, m2.begin() + 6), (ByteVector{2, 0, 0, 0}));
  EXPECT_TRUE(Mac1Key(ep.office.public_key()).verify(Bytes(m2).subspan(2, m2.size() - 2 - 16), Bytes(m2).last<16>()));
}

TEST(Handshake, FreshEphemeralKeysMakeEveryHandshakeDifferent) {
  Endpoints ep;
  Initiator a = ep.dial(at(1000s)), b = ep.dial(at(1000s));
  EXPECT_NE(a.initiation(), b.initiation());
}

TEST(HandshakeResponder, RejectsWrongLengths) {
  Endpoints ep;
  const ByteVector m1 = ep.dial(at(1000s)).initiation();
  ByteVector truncated(m1.begin(), m1.end() - 1);
  ByteVector oversized = m1;
  oversized.push_back(0);
  ByteVector wrong_field = m1;
  wrong_field[1] ^= 1;
  for (const ByteVector& bad : {truncated, oversized, wrong_field, ByteVector{}, ByteVector(2)}) {
    auto r = ep.responder.on_initiation(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::bad_length) << "size " << bad.size();
  }
}

TEST(HandshakeResponder, RejectsWrongTypeAndNonZeroReservedBytes) {
  Endpoints ep;
  const ByteVector m1 = ep.dial(at(1000s)).initiation();
  for (std::size_t at_byte : {2, 3, 4, 5}) {
    ByteVector bad = m1;
    bad[at_byte] ^= 0x02;
    auto r = ep.responder.on_initiation(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::bad_type) << "byte " << at_byte;
  }
}

TEST(HandshakeResponder, RejectsAnyAlteredByteByMac1) {
  Endpoints ep;
  const ByteVector m1 = ep.dial(at(1000s)).initiation();
  for (std::size_t i = 6; i < m1.size(); ++i) {
    ByteVector bad = m1;
    bad[i] ^= 0x40;
    auto r = ep.responder.on_initiation(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::bad_mac1) << "byte " << i;
  }
}

TEST(HandshakeResponder, RejectsMessagesForAnotherResponderByMac1) {
  Endpoints ep;
  keys::PrivateKey someone_else = key_from_seed(9);
  auto initiator = Initiator::start(ep.office, someone_else.public_key(), ep.psk, at(1000s));
  ASSERT_TRUE(initiator);
  auto r = ep.responder.on_initiation(initiator->initiation());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_mac1);
}

/// Replaces mac1 so that a tampered message reaches the Noise layer, as anyone who knows the
/// responder's public key could.
void remac(ByteVector& message, const keys::PublicKey& receiver) {
  const Mac1 mac = Mac1Key(receiver).compute(Bytes(message).subspan(2, message.size() - 2 - 16));
  std::copy(mac.begin(), mac.end(), message.end() - 16);
}

TEST(HandshakeResponder, Mac1IsCheckedBeforeAnyDiffieHellman) {
  Endpoints ep;
  ByteVector m1 = ep.dial(at(1000s)).initiation();
  std::fill(m1.begin() + 6, m1.begin() + 6 + 32, 0);  // e = a low-order point
  auto unmacced = ep.responder.on_initiation(m1);
  ASSERT_FALSE(unmacced);
  EXPECT_EQ(unmacced.error(), errc::bad_mac1) << "the DH with e must not have run";
  remac(m1, ep.vps.public_key());
  auto macced = ep.responder.on_initiation(m1);
  ASSERT_FALSE(macced);
  EXPECT_EQ(macced.error(), errc::weak_public_key) << "an all-zero DH result must be refused";
}

TEST(HandshakeResponder, RejectsTamperedCiphertextBehindAValidMac1) {
  Endpoints ep;
  const ByteVector m1 = ep.dial(at(1000s)).initiation();
  for (std::size_t i = 6 + 32; i < m1.size() - 16; i += 7) {  // encrypted s and payload
    ByteVector bad = m1;
    bad[i] ^= 1;
    remac(bad, ep.vps.public_key());
    auto r = ep.responder.on_initiation(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::decrypt_failed) << "byte " << i;
  }
}

TEST(HandshakeResponder, RejectsAnUnknownInitiator) {
  Endpoints ep;
  keys::PrivateKey stranger = key_from_seed(7);
  auto initiator = Initiator::start(stranger, ep.vps.public_key(), ep.psk, at(1000s));
  ASSERT_TRUE(initiator);
  auto r = ep.responder.on_initiation(initiator->initiation());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unknown_peer);
}

TEST(HandshakeResponder, NamesTheKeyOfAnUnknownInitiator) {
  Endpoints ep;
  keys::PrivateKey stranger = key_from_seed(7);
  EXPECT_FALSE(ep.responder.last_unknown_key());
  auto initiator = Initiator::start(stranger, ep.vps.public_key(), ep.psk, at(1000s));
  ASSERT_TRUE(initiator);
  ASSERT_FALSE(ep.responder.on_initiation(initiator->initiation()));
  ASSERT_TRUE(ep.responder.last_unknown_key());
  EXPECT_EQ(*ep.responder.last_unknown_key(), stranger.public_key());
}

TEST(HandshakeResponder, ARemovedPeerIsUnknownAndANewPeerGetsAFreshIndex) {
  Endpoints ep;
  ep.responder.remove_peer(ep.office_index);
  auto refused = ep.responder.on_initiation(ep.dial(at(1000s)).initiation());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::unknown_peer);

  // The same key added again (a reload that changed its PSK) is a new peer with a new index.
  const keys::PresharedKey other_psk = keys::PresharedKey::generate();
  const auto again = ep.responder.add_peer(ep.office.public_key(), other_psk);
  EXPECT_NE(again, ep.office_index);
  auto accepted = ep.responder.on_initiation(ep.dial(at(1001s), &other_psk).initiation());
  ASSERT_TRUE(accepted) << accepted.error().message();
  EXPECT_EQ(accepted->peer, again);
}

TEST(HandshakeResponder, TheSameKeyAddedAgainKeepsItsReplayGuard) {
  Endpoints ep;
  const Initiator first = ep.dial(at(1000s));
  ASSERT_TRUE(accept_confirmed(ep.responder, first.initiation()));
  ep.responder.remove_peer(ep.office_index);
  const keys::PresharedKey other_psk = keys::PresharedKey::generate();
  ep.responder.add_peer(ep.office.public_key(), other_psk);
  auto replayed = ep.responder.on_initiation(first.initiation());
  ASSERT_FALSE(replayed);
  EXPECT_EQ(replayed.error(), errc::replayed_timestamp);
}

TEST(HandshakeResponder, RejectsAReplayedOrOlderMessage1AndAcceptsANewerOne) {
  Endpoints ep;
  const ByteVector first = ep.dial(at(1000s)).initiation();
  ASSERT_TRUE(accept_confirmed(ep.responder, first));

  auto replay = ep.responder.on_initiation(first);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error(), errc::replayed_timestamp);

  auto same_time = ep.responder.on_initiation(ep.dial(at(1000s)).initiation());
  ASSERT_FALSE(same_time);
  EXPECT_EQ(same_time.error(), errc::replayed_timestamp);

  auto older = ep.responder.on_initiation(ep.dial(at(999s)).initiation());
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error(), errc::replayed_timestamp);

  EXPECT_TRUE(ep.responder.on_initiation(ep.dial(at(1001s)).initiation()));
}

// Message 1 involves the static keys but not the PSK: someone who stole a peer's static key and
// not its PSK can send a valid message 1 with a timestamp up to the tolerated skew ahead. Were it
// recorded at once, the real peer would be refused as a replay for the next ten minutes.
TEST(HandshakeResponder, AMessage1WithoutThePskDoesNotLockThePeerOut) {
  Endpoints ep;
  const Tai64n latest = at(1000s + 600s);
  const keys::PresharedKey stolen_without_psk = keys::PresharedKey::generate();
  auto forged = ep.responder.on_initiation(ep.dial(at(1000s + 590s), &stolen_without_psk).initiation(), latest);
  ASSERT_TRUE(forged) << "message 1 alone cannot tell a missing PSK";
  // It never confirms: its first record cannot be sealed without the PSK.
  auto real = accept_confirmed(ep.responder, ep.dial(at(1001s)).initiation(), latest);
  ASSERT_TRUE(real) << real.error().message();
  EXPECT_EQ(real->peer, ep.office_index);
}

TEST(HandshakeResponder, ConfirmKeepsTheNewestTimestamp) {
  Endpoints ep;
  auto newer = ep.responder.on_initiation(ep.dial(at(2000s)).initiation());
  auto older = ep.responder.on_initiation(ep.dial(at(1500s)).initiation());
  ASSERT_TRUE(newer && older) << "unconfirmed, neither guards against the other";
  ep.responder.confirm(newer->peer, newer->timestamp);
  ep.responder.confirm(older->peer, older->timestamp);  // confirmed late: must not move the guard back
  auto between = ep.responder.on_initiation(ep.dial(at(1800s)).initiation());
  ASSERT_FALSE(between);
  EXPECT_EQ(between.error(), errc::replayed_timestamp);
  EXPECT_TRUE(ep.responder.on_initiation(ep.dial(at(2001s)).initiation()));
}

// The handshake rate limit is charged only for messages that pass mac1, so a stranger who does not
// know this endpoint's public key cannot spend the handshakes of a peer's address.
TEST(HandshakeResponder, AdmissionIsAskedOnlyAfterMac1) {
  Endpoints ep;
  int asked = 0;
  const auto admission = [&asked](bool answer) -> Responder::Admission {
    return [&asked, answer] { return ++asked, answer; };
  };
  ByteVector garbled = ep.dial(at(1000s)).initiation();
  garbled[garbled.size() - 1] ^= 1;  // in mac1
  auto bad = ep.responder.on_initiation(garbled, std::nullopt, admission(true));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::bad_mac1);
  EXPECT_EQ(asked, 0);

  const ByteVector valid = ep.dial(at(1001s)).initiation();
  auto refused = ep.responder.on_initiation(valid, std::nullopt, admission(false));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::rate_limited);
  EXPECT_EQ(asked, 1);
  auto admitted = ep.responder.on_initiation(valid, std::nullopt, admission(true));
  EXPECT_TRUE(admitted) << "the refusal recorded nothing";
  EXPECT_EQ(asked, 2);
}

TEST(HandshakeResponder, RefusesATimestampFarAheadOfItsClockWithoutLockingThePeerOut) {
  Endpoints ep;
  const Tai64n latest = at(1000s + 600s);  // our clock at 1000 s, ten minutes of skew tolerated
  auto ahead = ep.responder.on_initiation(ep.dial(at(1000s + 601s)).initiation(), latest);
  ASSERT_FALSE(ahead);
  EXPECT_EQ(ahead.error(), errc::timestamp_in_future);
  // The refused timestamp was not recorded: a correct clock gets in at once.
  EXPECT_TRUE(ep.responder.on_initiation(ep.dial(at(1000s)).initiation(), latest));
  EXPECT_TRUE(ep.responder.on_initiation(ep.dial(at(1000s + 600s)).initiation(), latest)) << "within the skew";
}

TEST(HandshakeResponder, ARejectedMessageDoesNotAdvanceTheReplayGuard) {
  Endpoints ep;
  ByteVector future = ep.dial(at(5000s)).initiation();
  future[50] ^= 1;  // garbled: must not record the timestamp 5000 s
  ASSERT_FALSE(ep.responder.on_initiation(future));
  EXPECT_TRUE(ep.responder.on_initiation(ep.dial(at(1000s)).initiation()));
}

TEST(HandshakeInitiator, RefusesALowOrderResponderKey) {
  keys::PrivateKey office = key_from_seed(1);
  keys::PresharedKey psk;
  auto r = Initiator::start(office, low_order_point(), psk, at(1s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::weak_public_key);
}

TEST(HandshakeInitiator, DetectsAPskMismatchInMessage2) {
  Endpoints ep;
  keys::PresharedKey wrong = keys::PresharedKey::generate();
  Initiator initiator = ep.dial(at(1000s), &wrong);
  // The PSK enters only at the end of message 2 (psk2), so the responder cannot tell yet.
  auto accepted = ep.responder.on_initiation(initiator.initiation());
  ASSERT_TRUE(accepted);
  auto r = initiator.on_response(accepted->response);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::decrypt_failed);
}

TEST(HandshakeInitiator, ChecksTheResponseEnvelope) {
  Endpoints ep;
  Initiator initiator = ep.dial(at(1000s));
  auto accepted = ep.responder.on_initiation(initiator.initiation());
  ASSERT_TRUE(accepted);
  const ByteVector& m2 = accepted->response;

  ByteVector truncated(m2.begin(), m2.end() - 1);
  EXPECT_EQ(initiator.on_response(truncated).error(), errc::bad_length);
  ByteVector wrong_type = m2;
  wrong_type[2] = 1;
  EXPECT_EQ(initiator.on_response(wrong_type).error(), errc::bad_type);
  ByteVector bad_mac = m2;
  bad_mac.back() ^= 1;
  EXPECT_EQ(initiator.on_response(bad_mac).error(), errc::bad_mac1);
  ByteVector tampered = m2;
  tampered[10] ^= 1;
  remac(tampered, ep.office.public_key());
  EXPECT_EQ(initiator.on_response(tampered).error(), errc::decrypt_failed);
}

TEST(HandshakeInitiator, RejectsAResponseFromAnotherResponder) {
  Endpoints ep;
  keys::PrivateKey impostor_key = key_from_seed(8);
  Responder impostor(impostor_key);
  impostor.add_peer(ep.office.public_key(), ep.psk);
  Initiator initiator = ep.dial(at(1000s));
  // The impostor cannot even read message 1, which is addressed to the real responder.
  EXPECT_EQ(impostor.on_initiation(initiator.initiation()).error(), errc::bad_mac1);
}

TEST(HandshakeInitiator, CompletesOnlyOnce) {
  Endpoints ep;
  Initiator initiator = ep.dial(at(1000s));
  auto accepted = ep.responder.on_initiation(initiator.initiation());
  ASSERT_TRUE(accepted);
  ASSERT_TRUE(initiator.on_response(accepted->response));
  auto again = initiator.on_response(accepted->response);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::invalid_state);
}

}  // namespace
}  // namespace mailtun::tunnel
