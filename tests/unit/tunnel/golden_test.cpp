// Golden bytes of the mailtun/1 wire format (docs/protocol.md, DESIGN §4): with fixed static and
// ephemeral keys, PSK and timestamp, message 1, message 2, the first records each way and every frame
// type are compared byte for byte with the hex below, so that any change to the wire format fails here
// and has to be made on purpose.
//
// Provenance: the expected hex was generated once from this implementation. It is not merely "what
// the code does": Golden.InitiationStructureCheckedIndependently recomputes message 1's framing, its
// ephemeral public key and its mac1 with libsodium alone (and the same for message 2), and the Noise
// layer underneath is held to the published vectors in tests/vectors/data.

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/hex.hpp"
#include "tunnel/frame.hpp"
#include "tunnel/handshake.hpp"
#include "tunnel/record.hpp"

namespace mailtun::tunnel {
namespace {

using ByteVector = std::vector<std::uint8_t>;
using mailtun::testing::hex;
using mailtun::testing::unhex;

template <typename Key = keys::PrivateKey>
Key key_filled_with(std::uint8_t byte) {
  std::array<std::uint8_t, 32> bytes{};
  bytes.fill(byte);
  return Key::from_bytes(bytes);
}

// 2026-01-01T00:00:00Z: 2^62 + 10 + 1767225600 seconds, 0 nanoseconds.
constexpr const char* golden_timestamp = "400000006955b90a00000000";

Tai64n fixed_timestamp() {
  const ByteVector bytes = unhex(golden_timestamp);
  return Tai64n::from_bytes(std::span<const std::uint8_t, Tai64n::size>(bytes.data(), Tai64n::size));
}

// The dialing office (initiator) and the listening VPS (responder).
constexpr std::uint8_t office_static_byte = 0x11;
constexpr std::uint8_t vps_static_byte = 0x22;
constexpr std::uint8_t office_ephemeral_byte = 0x33;
constexpr std::uint8_t vps_ephemeral_byte = 0x44;
constexpr std::uint8_t psk_byte = 0x55;

// Handshake messages: u16 length | u8 type | 3 zero bytes | noise message | mac1 (DESIGN §4.1).
// length 128 | type 1 | 000000 | e | encrypted s | encrypted TAI64N | mac1
constexpr const char* golden_message_1 =
    "0080" "01" "000000"
    "7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14"
    "23abb5f67e062b3bb0deed399d59a5bf962c2a075c596dc97f5fd1cc4b60af492f27098a8cf73af11c2a42e647207cc0"
    "3df0bdb4941fe9162584978bd995e518f13c5e75f716b24d1bb05c93"
    "6ff5c7b8549c47899d3ee19789b98fe5";
// length 68 | type 2 | 000000 | e | encrypted empty payload | mac1
constexpr const char* golden_message_2 =
    "0044" "02" "000000"
    "ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b"
    "34b57b1947221b81429a7cd8c5064b5f"
    "a551ee7f037aae09c4fbf791b59e9f32";

// Records: u16 length | ChaCha20-Poly1305 ciphertext and tag (DESIGN §4.2).
// Office -> VPS: nonce 0 PING 1; nonce 1 REKEY; nonce 2, under Rekey(k), DATA 1 "LHLO".
// VPS -> office: nonce 0 PONG 1; nonce 1 WINDOW 1 65536.
constexpr const char* golden_office_record_0_ping =
    "001f" "66c5c4a7e98057551be4bfac6ce489f7daf8ec28cb27c095d451b260a279ae";
constexpr const char* golden_office_record_1_rekey =
    "0017" "892b96b48807d104bb8338694f7393123127eeba4c4e47";
constexpr const char* golden_office_record_2_data_after_rekey =
    "001b" "5dc30b3b56327a044555e166bd1f16d6d129af8d01a04999ceb82a";
constexpr const char* golden_vps_record_0_pong =
    "001f" "720877de500a886e6c761ed41c2ae9459a827e680bd3257f745d0fa14fe179";
constexpr const char* golden_vps_record_1_window =
    "001b" "798ffc5b9a213e4494b0f38a25dd49fcc8493db931ef3285dad32f";

// Frames: u8 type | u32 stream id | u16 payload length | payload (DESIGN §4.3).
// OPEN 1: "lmtp", family 0, source port 40000, destination port 24
constexpr const char* golden_open_family_0 =
    "01" "00000001" "000a" "04" "6c6d7470" "00" "9c40" "0018";
// OPEN 3: "submission", 192.0.2.10:51234 -> 198.51.100.1:587
constexpr const char* golden_open_family_4 =
    "01" "00000003" "0018" "0a" "7375626d697373696f6e" "04" "c000020a" "c822" "c6336401" "024b";
// OPEN 5: "imap", [2001:db8::10]:50000 -> [2001:db8::1]:143
constexpr const char* golden_open_family_6 =
    "01" "00000005" "002a" "04" "696d6170" "06"
    "20010db8000000000000000000000010"
    "c350"
    "20010db8000000000000000000000001"
    "008f";
// DATA 1: "LHLO office\r\n"
constexpr const char* golden_data =
    "02" "00000001" "000d" "4c484c4f206f66666963650d0a";
// DATA 2, empty
constexpr const char* golden_data_empty =
    "02" "00000002" "0000";
// WINDOW 1: 262144
constexpr const char* golden_window =
    "03" "00000001" "0004" "00040000";
// FIN 3
constexpr const char* golden_fin =
    "04" "00000003" "0000";
// RST 5: code 3 (backend unreachable)
constexpr const char* golden_rst_without_reason =
    "05" "00000005" "0002" "0003";
// RST 7: code 2 (not allowed), "service lmtp is not allowed for this peer"
constexpr const char* golden_rst_with_reason =
    "05" "00000007" "002b" "0002"
    "73657276696365206c6d7470206973206e6f7420616c6c6f77656420666f7220746869732070656572";
// PING: 0x0102030405060708
constexpr const char* golden_ping =
    "06" "00000000" "0008" "0102030405060708";
// PONG: 0x0102030405060708
constexpr const char* golden_pong =
    "07" "00000000" "0008" "0102030405060708";
// REKEY
constexpr const char* golden_rekey =
    "08" "00000000" "0000";
// GOAWAY: last stream 41, code 0
constexpr const char* golden_goaway =
    "09" "00000000" "0006" "00000029" "0000";

/// Both sides of one handshake run with the fixed keys above.
struct GoldenHandshake {
  keys::PrivateKey office = key_filled_with(office_static_byte);
  keys::PrivateKey vps = key_filled_with(vps_static_byte);
  keys::PresharedKey psk = key_filled_with<keys::PresharedKey>(psk_byte);
  Responder responder{vps};
  std::optional<Initiator> initiator;
  std::optional<Responder::Accepted> accepted;
  std::optional<TransportKeys> initiator_keys;

  GoldenHandshake() {
    responder.add_peer(office.public_key(), psk);
    auto started = Initiator::start(office, vps.public_key(), psk, fixed_timestamp(),
                                    key_filled_with(office_ephemeral_byte));
    if (!started) throw std::runtime_error("message 1: " + started.error().message());
    initiator.emplace(std::move(*started));
    auto response = responder.on_initiation(initiator->initiation(), std::nullopt, {}, key_filled_with(vps_ephemeral_byte));
    if (!response) throw std::runtime_error("message 2: " + response.error().message());
    accepted.emplace(std::move(*response));
    auto keys = initiator->on_response(accepted->response);
    if (!keys) throw std::runtime_error("message 2 refused: " + keys.error().message());
    initiator_keys.emplace(std::move(*keys));
  }
};

TEST(Golden, HandshakeMessagesMatchTheRecordedBytes) {
  GoldenHandshake hs;
  EXPECT_EQ(hex(hs.initiator->initiation()), golden_message_1);
  EXPECT_EQ(hex(hs.accepted->response), golden_message_2);
}

/// BLAKE2b-128 keyed by BLAKE2b-256("mac1----" ‖ receiver's static public key), computed with
/// libsodium directly rather than through tunnel/mac1.
ByteVector independent_mac1(const keys::PublicKey& receiver, const ByteVector& covered) {
  std::array<std::uint8_t, 32> key{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, key.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>("mac1----"), 8);
  crypto_generichash_update(&state, receiver.bytes().data(), receiver.bytes().size());
  crypto_generichash_final(&state, key.data(), key.size());
  ByteVector mac(16);
  crypto_generichash(mac.data(), mac.size(), covered.data(), covered.size(), key.data(), key.size());
  return mac;
}

/// X25519 public key of a private key filled with `byte`, with libsodium directly.
ByteVector independent_public_key(std::uint8_t byte) {
  std::array<std::uint8_t, 32> secret{};
  secret.fill(byte);
  ByteVector pub(32);
  EXPECT_EQ(crypto_scalarmult_base(pub.data(), secret.data()), 0);
  return pub;
}

/// Checks `u16 length | u8 type | 3 zero bytes | e | … | mac1` of a golden handshake message.
void expect_handshake_framing(const ByteVector& message, std::size_t body_len, std::uint8_t type,
                              std::uint8_t ephemeral_byte, const keys::PublicKey& receiver) {
  ASSERT_EQ(message.size(), 2 + body_len);
  EXPECT_EQ(std::size_t{message[0]} << 8 | message[1], body_len);
  EXPECT_EQ(message[2], type);
  EXPECT_EQ(message[3], 0);
  EXPECT_EQ(message[4], 0);
  EXPECT_EQ(message[5], 0);
  // The Noise message starts with the cleartext ephemeral public key.
  EXPECT_EQ(ByteVector(message.begin() + 6, message.begin() + 38), independent_public_key(ephemeral_byte));
  const ByteVector covered(message.begin() + 2, message.end() - 16);
  EXPECT_EQ(ByteVector(message.end() - 16, message.end()), independent_mac1(receiver, covered));
}

TEST(Golden, InitiationStructureCheckedIndependently) {
  GoldenHandshake hs;
  // 4 header bytes, e (32), encrypted s (32 + 16), encrypted TAI64N (12 + 16), mac1 (16) = 128.
  expect_handshake_framing(unhex(golden_message_1), 128, 1, office_ephemeral_byte, hs.vps.public_key());
}

TEST(Golden, ResponseStructureCheckedIndependently) {
  GoldenHandshake hs;
  // 4 header bytes, e (32), encrypted empty payload (16), mac1 (16) = 68.
  expect_handshake_framing(unhex(golden_message_2), 68, 2, vps_ephemeral_byte, hs.office.public_key());
}

// The golden messages are accepted as they stand: the recorded bytes are a handshake, not just bytes.
TEST(Golden, RecordedMessagesCompleteAHandshake) {
  GoldenHandshake hs;
  Responder fresh(hs.vps);
  fresh.add_peer(hs.office.public_key(), hs.psk);
  EXPECT_TRUE(fresh.on_initiation(unhex(golden_message_1)));
  auto initiator = Initiator::start(hs.office, hs.vps.public_key(), hs.psk, fixed_timestamp(),
                                    key_filled_with(office_ephemeral_byte));
  ASSERT_TRUE(initiator);
  EXPECT_TRUE(initiator->on_response(unhex(golden_message_2)));
}

// The first records each way, from the golden handshake's transport keys: the initiator's PING (the
// record that confirms the session), a REKEY and the first record under the new key; the responder's
// PONG and a WINDOW. Each is also opened by the other side.
TEST(Golden, FirstRecordsEachWayMatchTheRecordedBytes) {
  GoldenHandshake hs;
  RecordEncoder office_out(std::move(hs.initiator_keys->send));
  RecordDecoder vps_in(std::move(hs.accepted->keys.receive));
  RecordEncoder vps_out(std::move(hs.accepted->keys.send));
  RecordDecoder office_in(std::move(hs.initiator_keys->receive));

  auto seal = [](RecordEncoder& encoder, const ByteVector& plaintext) {
    ByteVector record;
    EXPECT_TRUE(encoder.seal(plaintext, record));
    return record;
  };
  auto open = [](RecordDecoder& decoder, const ByteVector& record) {
    decoder.feed(record);
    auto plaintext = decoder.next();
    EXPECT_TRUE(plaintext && *plaintext);
    return (plaintext && *plaintext) ? ByteVector((*plaintext)->begin(), (*plaintext)->end()) : ByteVector{};
  };

  ByteVector ping, rekey, data, pong, window;
  encode_ping(ping, FrameType::ping, 1);
  encode_rekey(rekey);
  encode_data(data, 1, ByteVector{'L', 'H', 'L', 'O'});
  encode_ping(pong, FrameType::pong, 1);
  encode_window(window, 1, 65536);

  const ByteVector office_0 = seal(office_out, ping);
  const ByteVector office_1 = seal(office_out, rekey);
  office_out.rekey();
  const ByteVector office_2 = seal(office_out, data);
  const ByteVector vps_0 = seal(vps_out, pong);
  const ByteVector vps_1 = seal(vps_out, window);

  EXPECT_EQ(hex(office_0), golden_office_record_0_ping);
  EXPECT_EQ(hex(office_1), golden_office_record_1_rekey);
  EXPECT_EQ(hex(office_2), golden_office_record_2_data_after_rekey);
  EXPECT_EQ(hex(vps_0), golden_vps_record_0_pong);
  EXPECT_EQ(hex(vps_1), golden_vps_record_1_window);

  EXPECT_EQ(open(vps_in, unhex(golden_office_record_0_ping)), ping);
  EXPECT_EQ(open(vps_in, unhex(golden_office_record_1_rekey)), rekey);
  vps_in.rekey();
  EXPECT_EQ(open(vps_in, unhex(golden_office_record_2_data_after_rekey)), data);
  EXPECT_EQ(open(office_in, unhex(golden_vps_record_0_pong)), pong);
  EXPECT_EQ(open(office_in, unhex(golden_vps_record_1_window)), window);
}

Address ipv4(std::array<std::uint8_t, 4> octets, std::uint16_t port) {
  Address a{.family = 4, .port = port};
  std::copy(octets.begin(), octets.end(), a.bytes.begin());
  return a;
}

Address ipv6(std::array<std::uint8_t, 16> octets, std::uint16_t port) {
  return Address{.family = 6, .bytes = octets, .port = port};
}

ByteVector encoded(auto encode) {
  ByteVector out;
  encode(out);
  return out;
}

/// The one frame in `golden`, checked for type and stream id; its payload for the decoders.
Frame only_frame(const ByteVector& golden, FrameType type, StreamId stream) {
  FrameReader reader(golden);
  auto frame = reader.next();
  EXPECT_TRUE(frame && *frame);
  if (!frame || !*frame) return Frame{};
  EXPECT_EQ((*frame)->type, type);
  EXPECT_EQ((*frame)->stream_id, stream);
  auto end = reader.next();
  EXPECT_TRUE(end && !*end) << "more than one frame";
  return **frame;
}

// Every frame type, encoded and compared with the recorded bytes, then the recorded bytes decoded:
// a change to either side of the frame format fails here.
TEST(Golden, OpenFramesOfEachFamily) {
  const OpenPayload unknown{.service = "lmtp", .source = Address{.port = 40000}, .destination = Address{.port = 24}};
  const OpenPayload v4{.service = "submission",
                       .source = ipv4({192, 0, 2, 10}, 51234),
                       .destination = ipv4({198, 51, 100, 1}, 587)};
  const OpenPayload v6{.service = "imap",
                       .source = ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}, 50000),
                       .destination = ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, 143)};
  const std::vector<std::pair<OpenPayload, std::string>> cases = {
      {unknown, golden_open_family_0}, {v4, golden_open_family_4}, {v6, golden_open_family_6}};
  StreamId id = 1;
  for (const auto& c : cases) {
    const OpenPayload& open = c.first;
    EXPECT_EQ(hex(encoded([&](ByteVector& out) { encode_open(out, id, open); })), c.second) << open.service;
    auto decoded = decode_open(only_frame(unhex(c.second), FrameType::open, id).payload);
    ASSERT_TRUE(decoded) << open.service;
    EXPECT_EQ(*decoded, open);
    id += 2;
  }
}

TEST(Golden, DataWindowFinFrames) {
  const ByteVector lhlo = {'L', 'H', 'L', 'O', ' ', 'o', 'f', 'f', 'i', 'c', 'e', '\r', '\n'};
  EXPECT_EQ(hex(encoded([&](ByteVector& out) { encode_data(out, 1, lhlo); })), golden_data);
  const ByteVector data = unhex(golden_data);
  const Frame frame = only_frame(data, FrameType::data, 1);
  EXPECT_EQ(ByteVector(frame.payload.begin(), frame.payload.end()), lhlo);

  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_data(out, 2, {}); })), golden_data_empty);
  EXPECT_TRUE(only_frame(unhex(golden_data_empty), FrameType::data, 2).payload.empty());

  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_window(out, 1, 262144); })), golden_window);
  EXPECT_EQ(decode_window(only_frame(unhex(golden_window), FrameType::window, 1).payload), 262144U);

  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_fin(out, 3); })), golden_fin);
  EXPECT_TRUE(decode_empty(only_frame(unhex(golden_fin), FrameType::fin, 3).payload));
}

TEST(Golden, RstFramesWithAndWithoutReason) {
  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_rst(out, 5, ResetCode::backend_unreachable); })),
            golden_rst_without_reason);
  auto bare = decode_rst(only_frame(unhex(golden_rst_without_reason), FrameType::rst, 5).payload);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->code, ResetCode::backend_unreachable);
  EXPECT_EQ(bare->reason, "");

  const std::string reason = "service lmtp is not allowed for this peer";
  EXPECT_EQ(hex(encoded([&](ByteVector& out) { encode_rst(out, 7, ResetCode::not_allowed, reason); })),
            golden_rst_with_reason);
  auto with_reason = decode_rst(only_frame(unhex(golden_rst_with_reason), FrameType::rst, 7).payload);
  ASSERT_TRUE(with_reason);
  EXPECT_EQ(with_reason->code, ResetCode::not_allowed);
  EXPECT_EQ(with_reason->reason, reason);
}

// The RST codes are numbered on the wire (docs/protocol.md): never renumber.
TEST(Golden, RstCodesKeepTheirNumbers) {
  const std::vector<std::pair<ResetCode, std::uint16_t>> codes = {
      {ResetCode::unknown_service, 1}, {ResetCode::not_allowed, 2},      {ResetCode::backend_unreachable, 3},
      {ResetCode::backend_refused, 4}, {ResetCode::flow_control, 5},     {ResetCode::too_many_streams, 6},
      {ResetCode::going_away, 7},      {ResetCode::protocol_error, 8},  {ResetCode::internal, 9}};
  for (const auto& c : codes) {
    const ByteVector frame = encoded([&](ByteVector& out) { encode_rst(out, 1, c.first); });
    ASSERT_EQ(frame.size(), frame_header_len + 2);
    EXPECT_EQ(frame[7] << 8 | frame[8], c.second) << to_string(c.first);
  }
}

TEST(Golden, ConnectionFrames) {
  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_ping(out, FrameType::ping, 0x0102030405060708); })),
            golden_ping);
  EXPECT_EQ(decode_ping(only_frame(unhex(golden_ping), FrameType::ping, 0).payload), 0x0102030405060708U);

  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_ping(out, FrameType::pong, 0x0102030405060708); })),
            golden_pong);
  EXPECT_EQ(decode_ping(only_frame(unhex(golden_pong), FrameType::pong, 0).payload), 0x0102030405060708U);

  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_rekey(out); })), golden_rekey);
  EXPECT_TRUE(decode_empty(only_frame(unhex(golden_rekey), FrameType::rekey, 0).payload));

  EXPECT_EQ(hex(encoded([](ByteVector& out) { encode_goaway(out, 41, 0); })), golden_goaway);
  auto goaway = decode_goaway(only_frame(unhex(golden_goaway), FrameType::goaway, 0).payload);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->last_stream_id, 41U);
  EXPECT_EQ(goaway->code, 0);
}

}  // namespace
}  // namespace mailtun::tunnel
