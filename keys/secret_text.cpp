#include "keys/secret_text.hpp"

#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <utility>

#include "keys/sodium.hpp"

namespace mailtun::keys {

namespace {
// One byte beyond `capacity` lets read_all tell "exactly full" from "too long" without a second
// buffer that would need wiping too.
constexpr std::size_t allocation = SecretText::capacity + 1;
}  // namespace

SecretText::SecretText() {
  ensure_sodium();
  data_ = static_cast<char*>(sodium_malloc(allocation));
  if (data_ == nullptr) throw std::bad_alloc();
}

SecretText::~SecretText() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before releasing
}

SecretText::SecretText(SecretText&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretText& SecretText::operator=(SecretText&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

tl::expected<void, std::error_code> SecretText::read_all(int fd) {
  while (size_ < allocation) {
    const ssize_t n = ::read(fd, data_ + size_, allocation - size_);
    if (n == 0) return {};
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::make_unexpected(std::error_code(errno, std::generic_category()));
    }
    size_ += static_cast<std::size_t>(n);
  }
  return tl::make_unexpected(std::make_error_code(std::errc::file_too_large));
}

std::string_view SecretText::view() const {
  return std::string_view(data_, size_ < capacity ? size_ : capacity);
}

}  // namespace mailtun::keys
