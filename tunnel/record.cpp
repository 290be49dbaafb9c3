#include "tunnel/record.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace mailtun::tunnel {

Result<void> RecordEncoder::seal(Bytes head, Bytes body, std::vector<std::uint8_t>& out) {
  const std::size_t plaintext_len = head.size() + body.size();
  if (plaintext_len > max_record_plaintext) return fail(errc::record_too_long);
  if (plaintext_len == 0) return fail(errc::record_too_short);  // a record carries at least one frame
  const std::size_t ciphertext_len = plaintext_len + aead_tag_len;
  const std::size_t start = out.size();
  out.resize(start + length_field_len + ciphertext_len);
  out[start] = static_cast<std::uint8_t>(ciphertext_len >> 8);
  out[start + 1] = static_cast<std::uint8_t>(ciphertext_len);
  const MutableBytes ciphertext(out.data() + start + length_field_len, ciphertext_len);
  if (auto r = cipher_.encrypt_with_ad({}, head, body, ciphertext); !r) {
    out.resize(start);
    return r;
  }
  return {};
}

RecordDecoder::RecordDecoder(noise::CipherState cipher) : cipher_(std::move(cipher)) {}

void RecordDecoder::feed(Bytes bytes) {
  if (bytes.empty()) return;
  const MutableBytes room = prepare(bytes.size());
  std::copy(bytes.begin(), bytes.end(), room.begin());
  commit(bytes.size());
}

MutableBytes RecordDecoder::prepare(std::size_t at_least) {
  if (capacity_ - end_ < at_least) {
    // Move the unconsumed tail (less than one record, as a rule) to the front before growing, so
    // the buffer stays near one read plus one record in size.
    if (start_ > 0) {
      std::memmove(buffer_.get(), buffer_.get() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    if (capacity_ - end_ < at_least) {
      const std::size_t capacity = std::max(end_ + at_least, 2 * (length_field_len + max_record_ciphertext));
      auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
      if (end_ > 0) std::memcpy(grown.get(), buffer_.get(), end_);
      buffer_ = std::move(grown);
      capacity_ = capacity;
    }
  }
  return {buffer_.get() + end_, capacity_ - end_};
}

void RecordDecoder::commit(std::size_t n) {
  assert(n <= capacity_ - end_);
  end_ += n;
}

Result<std::optional<Bytes>> RecordDecoder::next() {
  if (failed_) return tl::unexpected(*failed_);
  const std::size_t available = end_ - start_;
  if (available < length_field_len) return std::nullopt;
  const std::size_t ciphertext_len = (std::size_t{buffer_[start_]} << 8) | buffer_[start_ + 1];
  // A record always carries at least one frame; an empty or tag-only length is malformed.
  if (ciphertext_len <= aead_tag_len) {
    failed_ = make_error_code(errc::record_too_short);
    return tl::unexpected(*failed_);
  }
  if (available < length_field_len + ciphertext_len) return std::nullopt;

  std::uint8_t* ciphertext = buffer_.get() + start_ + length_field_len;
  const MutableBytes plaintext(ciphertext, ciphertext_len - aead_tag_len);  // opened in place
  if (auto r = cipher_.decrypt_with_ad({}, Bytes(ciphertext, ciphertext_len), plaintext); !r) {
    failed_ = r.error();
    return tl::unexpected(*failed_);
  }
  start_ += length_field_len + ciphertext_len;
  if (start_ == end_) start_ = end_ = 0;  // all consumed: the next read starts at the front
  return Bytes(plaintext);
}

}  // namespace mailtun::tunnel
