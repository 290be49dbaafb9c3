#pragma once
// DESIGN §4.2 records: `u16 length | ciphertext` over the TCP byte stream, each ciphertext the
// ChaCha20-Poly1305 seal of one plaintext under the direction's Noise CipherState (empty AD, nonce =
// record counter). Frames inside the plaintext and the decision *when* to rekey belong to the
// session; this layer only seals, opens and switches keys when told.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "tunnel/constants.hpp"
#include "tunnel/noise/cipher_state.hpp"

namespace mailtun::tunnel {

/// Seals plaintexts into records for one direction.
class RecordEncoder {
 public:
  explicit RecordEncoder(noise::CipherState cipher) : cipher_(std::move(cipher)) {}

  /// Appends the record for `plaintext` (1 to max_record_plaintext bytes, else record_too_short or
  /// record_too_long) to `out`. Fails with nonce_exhausted after 2^64-1 records: the connection must end.
  Result<void> seal(Bytes plaintext, std::vector<std::uint8_t>& out) { return seal({}, plaintext, out); }
  /// The same for the plaintext `head ‖ body` in two pieces: a frame header and the payload where
  /// it lies, with no copy of their own.
  Result<void> seal(Bytes head, Bytes body, std::vector<std::uint8_t>& out);

  /// Switches to Rekey(k) for every record sealed from now on. Call right after sealing the record
  /// that carried the REKEY frame.
  void rekey() { cipher_.rekey(); }

  /// Records sealed so far (the next nonce), for the rekey schedule.
  [[nodiscard]] std::uint64_t records_sealed() const { return cipher_.nonce(); }

 private:
  noise::CipherState cipher_;
};

/// Opens records from a byte stream that arrives in fragments of any size. Buffering is bounded by
/// one maximal record plus whatever the caller feeds before pulling.
class RecordDecoder {
 public:
  explicit RecordDecoder(noise::CipherState cipher);

  /// Appends received bytes.
  void feed(Bytes bytes);
  /// Room for at least `at_least` more bytes, at the end of what is buffered, for a socket to read
  /// into directly; commit() what it wrote. Invalidates the plaintext next() returned last.
  MutableBytes prepare(std::size_t at_least);
  void commit(std::size_t n);

  /// Opens the next complete record and returns its plaintext, valid until the next call to feed()
  /// or next(); std::nullopt when no complete record is buffered yet. A record that fails to
  /// decrypt, or a zero-length one, is an error and the decoder stays failed: DESIGN §4.2 says
  /// such a record ends the connection. One record per call, so that a REKEY frame found in one
  /// record can switch keys (rekey()) before the next one is opened.
  Result<std::optional<Bytes>> next();

  /// Switches to Rekey(k) for every record opened from now on.
  void rekey() { cipher_.rekey(); }

  [[nodiscard]] std::uint64_t records_opened() const { return cipher_.nonce(); }
  /// Bytes received but not yet returned as plaintext.
  [[nodiscard]] std::size_t buffered() const { return end_ - start_; }

 private:
  noise::CipherState cipher_;
  // Not a vector: growing it would zero-fill what a read is about to overwrite. Allocated on the
  // first prepare() and never touched beyond what was received, so an idle connection's pages stay
  // unallocated.
  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t start_ = 0;  // first unconsumed byte in buffer_
  std::size_t end_ = 0;    // one past the last received byte
  std::optional<std::error_code> failed_;
};

}  // namespace mailtun::tunnel
