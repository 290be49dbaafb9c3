#pragma once
// The base64 text of a secret key on its way in (a key file, `mailtun pubkey`'s stdin). It lives in
// libsodium guarded memory like the decoded key, so the text is not left behind in freed heap
// memory or in a stdio buffer once the key has been parsed.

#include <cstddef>
#include <string_view>
#include <system_error>
#include <tl/expected.hpp>

namespace mailtun::keys {

/// A bounded text buffer in guarded memory (mlocked, wiped on destruction). Move-only.
class SecretText {
 public:
  /// Far more than one key line (44 characters and a newline) with any comment a user might add;
  /// anything longer is not a key file.
  static constexpr std::size_t capacity = 4096;

  SecretText();  // empty; throws std::bad_alloc if guarded memory is exhausted
  ~SecretText();
  SecretText(SecretText&& other) noexcept;
  SecretText& operator=(SecretText&& other) noexcept;
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;

  /// Reads `fd` until end of file, appending to the text (retries on EINTR). Fails with read()'s
  /// errno, or with std::errc::file_too_large once the text would exceed `capacity` bytes (read(2)
  /// never reports EFBIG itself, so the two cannot be confused); the text read so far stays in the
  /// buffer and is wiped with it. Does not close `fd`.
  tl::expected<void, std::error_code> read_all(int fd);

  /// The text read so far; valid while this object lives and is not read into again.
  [[nodiscard]] std::string_view view() const;

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mailtun::keys
