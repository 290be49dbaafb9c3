#pragma once
// A file descriptor that closes itself, so every early return and throw leaves none behind. Used
// wherever secrets are read from files: key files and configuration files with inline keys.

#include <unistd.h>

#include <utility>

namespace mailtun::keys {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  /// Closes now and reports close()'s result, which matters after writing (NFS reports late errors).
  int close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

}  // namespace mailtun::keys
