#include "tunnel/record.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

namespace mailtun::tunnel {
namespace {

using ByteVector = std::vector<std::uint8_t>;

std::array<std::uint8_t, 32> test_key(std::uint8_t seed) {
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(seed + i);
  return key;
}

ByteVector pattern(std::size_t size, std::uint8_t seed) {
  ByteVector out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(seed * 31 + i * 7);
  return out;
}

struct Pair {
  RecordEncoder encoder{noise::CipherState(test_key(1))};
  RecordDecoder decoder{noise::CipherState(test_key(1))};
};

/// Pulls every complete record out of the decoder.
std::vector<ByteVector> drain(RecordDecoder& decoder) {
  std::vector<ByteVector> out;
  for (;;) {
    auto record = decoder.next();
    EXPECT_TRUE(record.has_value()) << record.error().message();
    if (!record || !*record) return out;
    out.emplace_back((*record)->begin(), (*record)->end());
  }
}

TEST(Record, RoundTripsSizesFromOneByteToTheMaximum) {
  Pair p;
  const std::vector<std::size_t> sizes = {1, 2, 15, 16, 17, 1000, max_record_plaintext - 1, max_record_plaintext};
  ByteVector wire;
  std::vector<ByteVector> sent;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    sent.push_back(pattern(sizes[i], static_cast<std::uint8_t>(i)));
    ASSERT_TRUE(p.encoder.seal(sent.back(), wire));
  }
  p.decoder.feed(wire);
  EXPECT_EQ(drain(p.decoder), sent);
  EXPECT_EQ(p.decoder.buffered(), 0U);
  EXPECT_EQ(p.decoder.records_opened(), sizes.size());
}

TEST(Record, ASealInTwoPiecesIsTheRecordOfTheirConcatenation) {
  Pair by_pieces, whole;
  const ByteVector head = pattern(7, 1), body = pattern(max_record_plaintext - 7, 2);
  ByteVector concatenated = head;
  concatenated.insert(concatenated.end(), body.begin(), body.end());
  ByteVector wire_pieces, wire_whole;
  ASSERT_TRUE(by_pieces.encoder.seal(head, body, wire_pieces));
  ASSERT_TRUE(whole.encoder.seal(concatenated, wire_whole));
  EXPECT_EQ(wire_pieces, wire_whole);
  EXPECT_EQ(by_pieces.encoder.seal(head, ByteVector(max_record_plaintext - 6), wire_pieces).error(),
            errc::record_too_long);
  EXPECT_EQ(by_pieces.encoder.seal({}, {}, wire_pieces).error(), errc::record_too_short);
}

// The shell reads the socket straight into the decoder (prepare/commit), in reads that end anywhere
// inside a record: the records come out whole and in order, and the buffer stays near one read
// plus one record however long the stream.
TEST(Record, ReadsIntoPreparedRoomAtAnyBoundaryYieldEveryRecord) {
  Pair p;
  ByteVector wire;
  std::vector<ByteVector> sent;
  for (std::size_t i = 0; i < 40; ++i) {
    sent.push_back(pattern(i % 3 == 0 ? max_record_plaintext : 100 + i * 977, static_cast<std::uint8_t>(i)));
    ASSERT_TRUE(p.encoder.seal(sent.back(), wire));
  }
  std::vector<ByteVector> received;
  std::size_t pos = 0;
  for (std::size_t read = 0; pos < wire.size(); ++read) {
    const std::size_t want = 1 + (read * 7919) % (200 * 1024);  // reads of odd sizes up to 200 KiB
    const MutableBytes room = p.decoder.prepare(want);
    ASSERT_GE(room.size(), want);
    const std::size_t n = std::min({want, room.size(), wire.size() - pos});
    std::copy_n(wire.begin() + static_cast<std::ptrdiff_t>(pos), n, room.begin());
    p.decoder.commit(n);
    pos += n;
    for (auto& record : drain(p.decoder)) received.push_back(std::move(record));
    ASSERT_LE(p.decoder.buffered(), length_field_len + max_record_ciphertext);
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ(p.decoder.buffered(), 0U);
}

TEST(Record, RefusesEmptyAndOversizedPlaintexts) {
  Pair p;
  ByteVector wire;
  EXPECT_EQ(p.encoder.seal({}, wire).error(), errc::record_too_short);
  EXPECT_EQ(p.encoder.seal(ByteVector(max_record_plaintext + 1), wire).error(), errc::record_too_long);
  EXPECT_TRUE(wire.empty());
  EXPECT_EQ(p.encoder.records_sealed(), 0U) << "a refused record must not use up a nonce";
}

TEST(Record, WireFormatIsLengthThenAeadWithTheRecordCounterAsNonce) {
  Pair p;
  ByteVector wire;
  const ByteVector first = pattern(100, 1), second = pattern(3, 2);
  ASSERT_TRUE(p.encoder.seal(first, wire));
  ASSERT_TRUE(p.encoder.seal(second, wire));

  // Independent computation with libsodium: nonce = 4 zero bytes ‖ u64 little-endian counter.
  const auto key = test_key(1);
  ByteVector expected;
  for (std::uint64_t counter = 0; counter < 2; ++counter) {
    const ByteVector& plain = counter == 0 ? first : second;
    std::array<std::uint8_t, 12> nonce{};
    nonce[4] = static_cast<std::uint8_t>(counter);
    ByteVector ciphertext(plain.size() + 16);
    crypto_aead_chacha20poly1305_ietf_encrypt(ciphertext.data(), nullptr, plain.data(), plain.size(), nullptr, 0,
                                              nullptr, nonce.data(), key.data());
    expected.push_back(static_cast<std::uint8_t>(ciphertext.size() >> 8));
    expected.push_back(static_cast<std::uint8_t>(ciphertext.size()));
    expected.insert(expected.end(), ciphertext.begin(), ciphertext.end());
  }
  EXPECT_EQ(wire, expected);
}

TEST(Record, EverySplitOfTheStreamDecodesIdentically) {
  Pair sender;
  ByteVector wire;
  std::vector<ByteVector> sent = {pattern(1, 1), pattern(40, 2), pattern(300, 3), pattern(2, 4)};
  for (const auto& s : sent) ASSERT_TRUE(sender.encoder.seal(s, wire));

  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    RecordDecoder decoder{noise::CipherState(test_key(1))};
    decoder.feed(Bytes(wire).first(cut));
    std::vector<ByteVector> got = drain(decoder);
    decoder.feed(Bytes(wire).subspan(cut));
    for (auto& r : drain(decoder)) got.push_back(std::move(r));
    ASSERT_EQ(got, sent) << "split at " << cut;
  }
}

TEST(Record, ByteByByteAndRandomFragmentsDecodeIdentically) {
  Pair sender;
  ByteVector wire;
  std::vector<ByteVector> sent;
  for (std::uint8_t i = 0; i < 30; ++i) {
    sent.push_back(pattern(1 + (i * 997) % 5000, i));
    ASSERT_TRUE(sender.encoder.seal(sent.back(), wire));
  }
  std::mt19937 rng(42);
  for (int trial = 0; trial < 20; ++trial) {
    RecordDecoder decoder{noise::CipherState(test_key(1))};
    std::vector<ByteVector> got;
    std::size_t pos = 0;
    while (pos < wire.size()) {
      const std::size_t n = std::min<std::size_t>(wire.size() - pos, trial == 0 ? 1 : rng() % 3000);
      decoder.feed(Bytes(wire).subspan(pos, n));
      pos += n;
      for (auto& r : drain(decoder)) got.push_back(std::move(r));
    }
    ASSERT_EQ(got, sent) << "trial " << trial;
  }
}

TEST(Record, AnyFlippedBitFailsClosedAndStaysFailed) {
  Pair sender;
  ByteVector wire;
  ASSERT_TRUE(sender.encoder.seal(pattern(20, 9), wire));
  ASSERT_TRUE(sender.encoder.seal(pattern(5, 8), wire));
  const std::size_t first_record = length_field_len + 20 + aead_tag_len;

  for (std::size_t bit = 0; bit < first_record * 8; ++bit) {
    ByteVector corrupt = wire;
    corrupt[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
    RecordDecoder decoder{noise::CipherState(test_key(1))};
    decoder.feed(corrupt);
    auto result = decoder.next();
    if (bit < 16 && result && !*result) {
      // A flipped length bit that makes the record longer just waits for more bytes; what then
      // arrives cannot authenticate either.
      decoder.feed(ByteVector(70000, 0));
      result = decoder.next();
    }
    ASSERT_FALSE(result.has_value()) << "bit " << bit << " was accepted";
    // Nothing after a bad record is ever returned.
    EXPECT_FALSE(decoder.next().has_value());
  }
}

TEST(Record, ZeroLengthAndTagOnlyRecordsAreRejected) {
  for (const std::size_t len : {std::size_t{0}, std::size_t{16}}) {
    RecordDecoder decoder{noise::CipherState(test_key(1))};
    ByteVector wire = {static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
    wire.resize(2 + len);
    decoder.feed(wire);
    auto result = decoder.next();
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), errc::record_too_short);
  }
}

TEST(Record, WrongKeyFails) {
  RecordEncoder encoder{noise::CipherState(test_key(1))};
  RecordDecoder decoder{noise::CipherState(test_key(2))};
  ByteVector wire;
  ASSERT_TRUE(encoder.seal(pattern(10, 1), wire));
  decoder.feed(wire);
  auto result = decoder.next();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), errc::decrypt_failed);
}

TEST(Record, RekeySwitchesInStepOnBothSides) {
  Pair p;
  ByteVector wire;
  ASSERT_TRUE(p.encoder.seal(pattern(10, 1), wire));  // carries the REKEY frame
  p.encoder.rekey();
  ASSERT_TRUE(p.encoder.seal(pattern(10, 2), wire));
  ASSERT_TRUE(p.encoder.seal(pattern(10, 3), wire));

  p.decoder.feed(wire);
  auto first = p.decoder.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(ByteVector((*first)->begin(), (*first)->end()), pattern(10, 1));
  p.decoder.rekey();
  for (std::uint8_t seed : {2, 3}) {
    auto next = p.decoder.next();
    ASSERT_TRUE(next && *next) << "record after rekey, seed " << int(seed);
    EXPECT_EQ(ByteVector((*next)->begin(), (*next)->end()), pattern(10, seed));
  }

  // The rekeyed key is Noise's Rekey(): first 32 bytes of ENCRYPT(k, 2^64-1, empty, zeros).
  const auto key = test_key(1);
  std::array<std::uint8_t, 12> nonce{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  std::array<std::uint8_t, 32> zeros{};
  std::array<std::uint8_t, 48> rekeyed{};
  crypto_aead_chacha20poly1305_ietf_encrypt(rekeyed.data(), nullptr, zeros.data(), zeros.size(), nullptr, 0, nullptr,
                                            nonce.data(), key.data());
  noise::CipherState independent(Key32(rekeyed.data(), 32));
  independent.set_nonce(1);  // the nonce carries on across a rekey
  ByteVector plain = pattern(10, 2), sealed(26);
  ASSERT_TRUE(independent.encrypt_with_ad({}, plain, sealed));
  const std::size_t second_record = (2 + 26) + 2;
  EXPECT_EQ(ByteVector(wire.begin() + second_record, wire.begin() + second_record + 26), sealed);
}

TEST(Record, ARekeyMissedByTheReceiverFailsTheNextRecord) {
  Pair p;
  ByteVector wire;
  ASSERT_TRUE(p.encoder.seal(pattern(10, 1), wire));
  p.encoder.rekey();
  ASSERT_TRUE(p.encoder.seal(pattern(10, 2), wire));
  p.decoder.feed(wire);
  ASSERT_TRUE(p.decoder.next());
  EXPECT_FALSE(p.decoder.next().has_value());
}

}  // namespace
}  // namespace mailtun::tunnel
