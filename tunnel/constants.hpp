#pragma once
// Every number of the wire protocol (DESIGN §4), named as there. Nothing here is tunable at run time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mailtun::tunnel {

// §4.1 Handshake
inline constexpr std::string_view noise_protocol_name = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b";
inline constexpr std::string_view prologue = "mailtun/1";
inline constexpr std::string_view mac1_label = "mac1----";

inline constexpr std::uint8_t message_type_initiation = 1;
inline constexpr std::uint8_t message_type_response = 2;

inline constexpr std::size_t dh_len = 32;
inline constexpr std::size_t aead_tag_len = 16;
inline constexpr std::size_t tai64n_len = 12;
inline constexpr std::size_t mac1_len = 16;

/// u16 length: counts every byte after itself (type, reserved, noise message, mac1).
inline constexpr std::size_t length_field_len = 2;
/// u8 type | 3 zero bytes
inline constexpr std::size_t message_header_len = 4;

// e ‖ encrypted s ‖ encrypted TAI64N payload
inline constexpr std::size_t noise_initiation_len = dh_len + (dh_len + aead_tag_len) + (tai64n_len + aead_tag_len);
// e ‖ encrypted empty payload
inline constexpr std::size_t noise_response_len = dh_len + aead_tag_len;

inline constexpr std::size_t initiation_body_len = message_header_len + noise_initiation_len + mac1_len;
inline constexpr std::size_t response_body_len = message_header_len + noise_response_len + mac1_len;
inline constexpr std::size_t initiation_wire_len = length_field_len + initiation_body_len;
inline constexpr std::size_t response_wire_len = length_field_len + response_body_len;

/// How far a peer's message 1 timestamp may run ahead of the responder's clock. Bounds how long a
/// peer whose clock once jumped ahead stays locked out by the replay guard.
inline constexpr std::chrono::minutes max_clock_skew{10};

/// Rule 3: message 1 must be complete within this long after accept.
inline constexpr std::chrono::seconds initiation_deadline{5};

// §4.2 Records
inline constexpr std::size_t max_record_ciphertext = 65535;
inline constexpr std::size_t max_record_plaintext = max_record_ciphertext - aead_tag_len;  // 65519
inline constexpr std::chrono::seconds rekey_after_time{120};
inline constexpr std::uint64_t rekey_after_records = std::uint64_t{1} << 24;

}  // namespace mailtun::tunnel
