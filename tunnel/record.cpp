#include "tunnel/record.hpp"

namespace mailtun::tunnel {

Result<void> RecordEncoder::seal(Bytes plaintext, std::vector<std::uint8_t>& out) {
  if (plaintext.size() > max_record_plaintext) return fail(errc::record_too_long);
  if (plaintext.empty()) return fail(errc::record_too_short);  // a record carries at least one frame
  const std::size_t ciphertext_len = plaintext.size() + aead_tag_len;
  const std::size_t start = out.size();
  out.resize(start + length_field_len + ciphertext_len);
  out[start] = static_cast<std::uint8_t>(ciphertext_len >> 8);
  out[start + 1] = static_cast<std::uint8_t>(ciphertext_len);
  const MutableBytes ciphertext(out.data() + start + length_field_len, ciphertext_len);
  if (auto r = cipher_.encrypt_with_ad({}, plaintext, ciphertext); !r) {
    out.resize(start);
    return r;
  }
  return {};
}

RecordDecoder::RecordDecoder(noise::CipherState cipher) : cipher_(std::move(cipher)) {
  buffer_.reserve(2 * (length_field_len + max_record_ciphertext));
}

void RecordDecoder::feed(Bytes bytes) {
  // Drop what has been consumed before growing, so the buffer stays near one record in size.
  if (start_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<Bytes>> RecordDecoder::next() {
  if (failed_) return tl::unexpected(*failed_);
  const std::size_t available = buffer_.size() - start_;
  if (available < length_field_len) return std::nullopt;
  const std::size_t ciphertext_len = (std::size_t{buffer_[start_]} << 8) | buffer_[start_ + 1];
  // A record always carries at least one frame; an empty or tag-only length is malformed.
  if (ciphertext_len <= aead_tag_len) {
    failed_ = make_error_code(errc::record_too_short);
    return tl::unexpected(*failed_);
  }
  if (available < length_field_len + ciphertext_len) return std::nullopt;

  std::uint8_t* ciphertext = buffer_.data() + start_ + length_field_len;
  const MutableBytes plaintext(ciphertext, ciphertext_len - aead_tag_len);  // opened in place
  if (auto r = cipher_.decrypt_with_ad({}, Bytes(ciphertext, ciphertext_len), plaintext); !r) {
    failed_ = r.error();
    return tl::unexpected(*failed_);
  }
  start_ += length_field_len + ciphertext_len;
  return Bytes(plaintext);
}

}  // namespace mailtun::tunnel
