#include "tunnel/error.hpp"

#include <string>

namespace mailtun::tunnel {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mailtun.tunnel"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::bad_length: return "message has the wrong length";
      case errc::bad_type: return "message has the wrong type";
      case errc::bad_mac1: return "mac1 does not verify";
      case errc::decrypt_failed: return "decryption failed";
      case errc::unknown_peer: return "initiator is not a configured peer";
      case errc::replayed_timestamp: return "handshake timestamp is not newer than the last one";
      case errc::timestamp_in_future:
        return "handshake timestamp is too far ahead of this clock (is the peer's clock wrong?)";
      case errc::weak_public_key: return "Diffie-Hellman result is all zero";
      case errc::rate_limited: return "too many handshakes from this source";
      case errc::record_too_long: return "record is too long";
      case errc::record_too_short: return "record is too short";
      case errc::nonce_exhausted: return "nonce space exhausted";
      case errc::malformed_frame: return "malformed frame";
      case errc::bad_stream_id: return "invalid stream id";
      case errc::frame_after_fin: return "data after the end of the stream";
      case errc::stream_limit: return "too many streams";
      case errc::invalid_state: return "operation not valid in this state";
    }
    return "unknown tunnel error";
  }
};

}  // namespace

const std::error_category& tunnel_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), tunnel_category()}; }

}  // namespace mailtun::tunnel
