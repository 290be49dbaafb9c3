#include "tunnel/noise/handshake_state.hpp"

#include <gtest/gtest.h>

namespace mailtun::tunnel::noise {
namespace {

TEST(ProtocolName, ParsesTheSupportedProtocols) {
  const auto p = parse_protocol_name("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pattern->name, "IKpsk2");
  EXPECT_EQ(p->hash, &blake2b());
  EXPECT_TRUE(p->pattern->psk_mode());
  const auto nn = parse_protocol_name("Noise_NN_25519_ChaChaPoly_BLAKE2s");
  ASSERT_TRUE(nn);
  EXPECT_FALSE(nn->pattern->psk_mode());
  EXPECT_EQ(nn->hash, &blake2s());
}

TEST(ProtocolName, RefusesEverythingElse) {
  for (const char* name : {"Noise_XX_25519_ChaChaPoly_BLAKE2b", "Noise_IK_448_ChaChaPoly_BLAKE2b",
                           "Noise_IK_25519_AESGCM_BLAKE2b", "Noise_IK_25519_ChaChaPoly_SHA256",
                           "Noise_IK_25519_ChaChaPoly_BLAKE2bx", "Noize_IK_25519_ChaChaPoly_BLAKE2b", ""}) {
    EXPECT_FALSE(parse_protocol_name(name)) << name;
  }
}

struct NnPair {
  Protocol protocol = *parse_protocol_name("Noise_NN_25519_ChaChaPoly_BLAKE2b");
  HandshakeState initiator{{.protocol = protocol, .initiator = true}};
  HandshakeState responder{{.protocol = protocol, .initiator = false}};
};

TEST(HandshakeState, EnforcesTurnOrder) {
  NnPair p;
  EXPECT_EQ(p.responder.write_message({}).error(), errc::invalid_state);
  EXPECT_EQ(p.initiator.read_message(std::vector<std::uint8_t>(32)).error(), errc::invalid_state);
  auto m1 = p.initiator.write_message({});
  ASSERT_TRUE(m1);
  EXPECT_EQ(p.initiator.write_message({}).error(), errc::invalid_state);
  ASSERT_TRUE(p.responder.read_message(*m1));
  auto m2 = p.responder.write_message({});
  ASSERT_TRUE(m2);
  ASSERT_TRUE(p.initiator.read_message(*m2));
  EXPECT_TRUE(p.initiator.complete());
  EXPECT_TRUE(p.responder.complete());
  EXPECT_EQ(p.initiator.write_message({}).error(), errc::invalid_state);
  EXPECT_EQ(p.initiator.handshake_hash().bytes().size(), 64U);
  EXPECT_TRUE(std::ranges::equal(p.initiator.handshake_hash().bytes(), p.responder.handshake_hash().bytes()));
}

TEST(HandshakeState, RefusesTruncatedMessages) {
  NnPair p;
  EXPECT_EQ(p.responder.read_message(std::vector<std::uint8_t>(31)).error(), errc::bad_length);
}

TEST(HandshakeState, RefusesAnAllZeroDiffieHellman) {
  NnPair p;
  ASSERT_TRUE(p.responder.read_message(*p.initiator.write_message({})));
  auto m2 = p.responder.write_message({});
  ASSERT_TRUE(m2);
  std::fill(m2->begin(), m2->begin() + 32, 0);  // responder e = 0, a low-order point
  EXPECT_EQ(p.initiator.read_message(*m2).error(), errc::weak_public_key);
}

TEST(HandshakeState, RequiresTheKeysThePatternNeeds) {
  const Protocol ik = *parse_protocol_name("Noise_IK_25519_ChaChaPoly_BLAKE2b");
  EXPECT_THROW(HandshakeState({.protocol = ik, .initiator = true}), std::invalid_argument);
  const keys::PrivateKey s = keys::PrivateKey::generate();
  EXPECT_THROW(HandshakeState({.protocol = ik, .initiator = true, .s = &s}), std::invalid_argument)
      << "the initiator of IK must know the responder's static key";
  EXPECT_NO_THROW(HandshakeState({.protocol = ik, .initiator = false, .s = &s}));
}

TEST(HandshakeState, APskTokenWithoutAPskIsAnError) {
  const Protocol ikpsk2 = *parse_protocol_name("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b");
  const keys::PrivateKey is = keys::PrivateKey::generate(), rs = keys::PrivateKey::generate();
  HandshakeState initiator({.protocol = ikpsk2, .initiator = true, .s = &is, .rs = rs.public_key()});
  HandshakeState responder({.protocol = ikpsk2, .initiator = false, .s = &rs});
  auto m1 = initiator.write_message({});
  ASSERT_TRUE(m1);
  ASSERT_TRUE(responder.read_message(*m1));
  EXPECT_EQ(responder.write_message({}).error(), errc::invalid_state);
}

}  // namespace
}  // namespace mailtun::tunnel::noise
