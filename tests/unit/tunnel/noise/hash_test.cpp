#include "tunnel/noise/hash.hpp"

#include <gtest/gtest.h>

#include "tests/support/hex.hpp"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mailtun::tunnel::noise {
namespace {

using ByteVector = std::vector<std::uint8_t>;
using mailtun::testing::unhex;

ByteVector to_vector(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

// The BLAKE2 reference known answers (tests/vectors/data/blake2-kat.json, kept in the repository),
// unkeyed entries: the keyed ones use BLAKE2's native keyed mode, which Noise never does.
TEST(Hash, MatchesTheBlake2KnownAnswers) {
  const std::string path = std::string(MAILTUN_NOISE_VECTORS_DIR) + "/blake2-kat.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path << " (MAILTUN_NOISE_VECTORS_DIR)";
  const auto entries = nlohmann::json::parse(in);
  int checked_b = 0, checked_s = 0;
  for (const auto& entry : entries) {
    if (!entry.at("key").get<std::string>().empty()) continue;
    const std::string name = entry.at("hash");
    const HashAlgorithm& alg = name == "blake2b" ? blake2b() : blake2s();
    const ByteVector input = unhex(entry.at("in"));
    const ByteVector want = unhex(entry.at("out"));
    // Split the input in two parts to exercise the multi-part interface.
    const std::size_t half = input.size() / 2;
    const Digest got = alg.hash({Bytes(input).first(half), Bytes(input).subspan(half)});
    ASSERT_EQ(to_vector(got.bytes()), want) << name << " of " << input.size() << " bytes";
    (name == "blake2b" ? checked_b : checked_s)++;
  }
  EXPECT_EQ(checked_b, 256);
  EXPECT_EQ(checked_s, 256);
}

// HMAC-HASH must be RFC 2104 HMAC; OpenSSL's HMAC over its own BLAKE2 is an independent implementation.
TEST(Hash, HmacAgreesWithOpenSsl) {
  for (const HashAlgorithm* alg : {&blake2b(), &blake2s()}) {
    const EVP_MD* md = alg == &blake2b() ? EVP_blake2b512() : EVP_blake2s256();
    for (std::size_t key_len : {0, 1, 32, 64, 65, 128, 129, 200}) {
      ByteVector key(key_len), data(77);
      for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 3 + 1);
      for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
      ByteVector want(EVP_MAX_MD_SIZE);
      unsigned int len = 0;
      HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), want.data(), &len);
      want.resize(len);
      const Digest got = hmac(*alg, key, {Bytes(data).first(10), Bytes(data).subspan(10)});
      EXPECT_EQ(to_vector(got.bytes()), want) << alg->name << " key " << key_len;
    }
  }
}

// Noise §4.3 HKDF written out with OpenSSL's HMAC.
TEST(Hash, HkdfFollowsTheNoiseDefinition) {
  const ByteVector ck(64, 0x11), ikm = {1, 2, 3, 4, 5};
  std::array<Digest, 3> outputs;
  hkdf(blake2b(), ck, ikm, outputs);

  const auto openssl_hmac = [](Bytes key, Bytes data) {
    ByteVector out(64);
    unsigned int len = 0;
    HMAC(EVP_blake2b512(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
    return out;
  };
  const ByteVector temp = openssl_hmac(ck, ikm);
  const ByteVector o1 = openssl_hmac(temp, ByteVector{1});
  ByteVector in2 = o1;
  in2.push_back(2);
  const ByteVector o2 = openssl_hmac(temp, in2);
  ByteVector in3 = o2;
  in3.push_back(3);
  const ByteVector o3 = openssl_hmac(temp, in3);
  EXPECT_EQ(to_vector(outputs[0].bytes()), o1);
  EXPECT_EQ(to_vector(outputs[1].bytes()), o2);
  EXPECT_EQ(to_vector(outputs[2].bytes()), o3);
}

}  // namespace
}  // namespace mailtun::tunnel::noise
