#include "keys/key_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "keys/base64.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::keys {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards whatever the test did to it.
class KeyFileTest : public testing::TempDirTest {
 protected:
  static std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  static mode_t mode_of(const fs::path& path) {
    struct stat status {};
    EXPECT_EQ(::lstat(path.c_str(), &status), 0);
    return status.st_mode & 07777;
  }

  // The message load_private_key_file throws for `path`; fails the test if it loads.
  static std::string refusal(const fs::path& path) {
    try {
      (void)load_private_key_file(path);
    } catch (const KeyFileError& e) {
      return e.what();
    }
    ADD_FAILURE() << path << " was loaded";
    return {};
  }

};

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(UnsafeKeyFileMode, AllowsOwnerOnlyModes) {
  for (const mode_t mode : {0600, 0400, 0700, S_IFREG | 0600}) {
    EXPECT_EQ(unsafe_key_file_mode(mode), std::nullopt) << std::oct << mode;
  }
}

TEST(UnsafeKeyFileMode, NamesTheWorstAccessGranted) {
  EXPECT_EQ(unsafe_key_file_mode(S_IFREG | 0644), "readable by group or others (mode 0644)");
  EXPECT_EQ(unsafe_key_file_mode(0666), "readable by group or others (mode 0666)");
  EXPECT_EQ(unsafe_key_file_mode(0620), "writable by group or others (mode 0620)");
  EXPECT_EQ(unsafe_key_file_mode(0602), "writable by group or others (mode 0602)");
  EXPECT_EQ(unsafe_key_file_mode(0610), "executable by group or others (mode 0610)");
}

TEST_F(KeyFileTest, LoadsAPrivateKeyFileOfMode0600) {
  const PrivateKey key = PrivateKey::generate();
  const auto path = write_file("vps.key", to_base64(key.bytes()) + "\n", 0600);
  const PrivateKey loaded = load_private_key_file(path);
  EXPECT_TRUE(std::equal(loaded.bytes().begin(), loaded.bytes().end(), key.bytes().begin()));
}

TEST_F(KeyFileTest, LoadsAPresharedKeyFile) {
  const PresharedKey key = PresharedKey::generate();
  const auto path = write_file("office.psk", to_base64(key.bytes()) + "\n", 0600);
  const PresharedKey loaded = load_preshared_key_file(path);
  EXPECT_TRUE(std::equal(loaded.bytes().begin(), loaded.bytes().end(), key.bytes().begin()));
}

TEST_F(KeyFileTest, OwnerOnlyModesOtherThan0600AreFine) {
  const std::string text = to_base64(PrivateKey::generate().bytes()) + "\n";
  EXPECT_NO_THROW((void)load_private_key_file(write_file("read-only.key", text, 0400)));
  EXPECT_NO_THROW((void)load_private_key_file(write_file("owner-rwx.key", text, 0700)));
}

TEST_F(KeyFileTest, RefusesGroupReadable) {
  const auto path = write_file("vps.key", to_base64(PrivateKey::generate().bytes()) + "\n", 0640);
  EXPECT_EQ(refusal(path), path.string() +
                               " is readable by group or others (mode 0640); run: chmod 600 " +
                               path.string());
}

TEST_F(KeyFileTest, RefusesWorldReadable) {
  const auto path = write_file("vps.key", to_base64(PrivateKey::generate().bytes()) + "\n", 0604);
  EXPECT_EQ(refusal(path), path.string() +
                               " is readable by group or others (mode 0604); run: chmod 600 " +
                               path.string());
  EXPECT_THROW((void)load_preshared_key_file(path), KeyFileError);
}

TEST_F(KeyFileTest, RefusesAnyOtherGroupOrOtherBitToo) {
  const std::string text = to_base64(PrivateKey::generate().bytes()) + "\n";
  const auto writable = write_file("w.key", text, 0620);
  EXPECT_EQ(refusal(writable), writable.string() +
                                   " is writable by group or others (mode 0620); run: chmod 600 " +
                                   writable.string());
  const auto executable = write_file("x.key", text, 0601);
  EXPECT_TRUE(contains(refusal(executable), "is executable by group or others (mode 0601)"));
}

TEST_F(KeyFileTest, SuggestedFixIsQuotedForTheShell) {
  const auto path = write_file("my key", to_base64(PrivateKey::generate().bytes()), 0644);
  EXPECT_TRUE(contains(refusal(path), "run: chmod 600 '" + path.string() + "'"));
}

TEST_F(KeyFileTest, MissingFileSaysHowToCreateOne) {
  const auto path = dir_ / "absent.key";
  EXPECT_EQ(refusal(path), path.string() +
                               ": no such file; create it with: (umask 077; mailtun genkey > " +
                               path.string() + ")");
  try {
    (void)load_preshared_key_file(path);
    ADD_FAILURE();
  } catch (const KeyFileError& e) {
    EXPECT_TRUE(contains(e.what(), "mailtun genpsk > " + path.string()));
  }
}

TEST_F(KeyFileTest, RefusesADirectory) {
  fs::create_directory(dir_ / "keys");
  EXPECT_EQ(refusal(dir_ / "keys"),
            (dir_ / "keys").string() + " is a directory; expected a file holding one base64 key");
}

TEST_F(KeyFileTest, RefusesANamedPipeWithoutBlocking) {
  const auto path = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_TRUE(contains(refusal(path), path.string() + " is a named pipe"));
}

// Review finding "local files: symlinks are followed" (policy in key_file.hpp).
TEST_F(KeyFileTest, RefusesASymbolicLinkEvenToAGoodKeyFile) {
  const auto target = write_file("real.key", to_base64(PrivateKey::generate().bytes()) + "\n", 0600);
  fs::create_symlink(target, dir_ / "link.key");
  EXPECT_EQ(refusal(dir_ / "link.key"), (dir_ / "link.key").string() +
                                            " is a symbolic link; expected the key file itself (configure "
                                            "the path it points to)");
}

TEST(UnsafeFileOwner, AllowsTheEffectiveUserAndRootOnly) {
  EXPECT_EQ(unsafe_file_owner(1000, 1000), std::nullopt);
  EXPECT_EQ(unsafe_file_owner(0, 1000), std::nullopt);
  EXPECT_EQ(unsafe_file_owner(0, 0), std::nullopt);
  EXPECT_EQ(unsafe_file_owner(1001, 1000),
            "owned by user 1001, who could replace it; expected it to be owned by user 1000 (this process) or root");
  EXPECT_NE(unsafe_file_owner(65534, 0), std::nullopt);
}

// Review finding "key files owned by another user are accepted when running as root".
TEST_F(KeyFileTest, RefusesAKeyFileOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: giving a file to another user needs root";
  const auto path = write_file("vps.key", to_base64(PrivateKey::generate().bytes()) + "\n", 0600);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0) << std::strerror(errno);
  EXPECT_EQ(refusal(path), path.string() + " is owned by user 65534, who could replace it; expected it to be owned by user 0 "
                                           "(this process) or root; run: chown 0 " + path.string());
}

TEST_F(KeyFileTest, MalformedContentNamesTheFile) {
  const auto path = write_file("vps.key", "not a key\n", 0600);
  EXPECT_EQ(refusal(path),
            path.string() +
                ": expected a base64 private key of 44 characters (as printed by "
                "`mailtun genkey`), got a space at position 4 (a key is one unbroken "
                "line)");
  EXPECT_EQ(
      refusal(write_file("empty.key", "", 0600)),
      (dir_ / "empty.key").string() +
          ": expected a base64 private key of 44 characters (as printed by `mailtun genkey`), "
          "got nothing");
}

TEST_F(KeyFileTest, MalformedContentIsNotQuoted) {
  const std::string key = to_base64(PrivateKey::generate().bytes());
  const auto path = write_file("typo.key", key.substr(0, 43) + "\n", 0600);
  const std::string message = refusal(path);
  EXPECT_TRUE(contains(message, "got 43 characters"));
  EXPECT_FALSE(contains(message, key.substr(0, 8)));
}

TEST_F(KeyFileTest, RefusesAFileTooLargeToBeAKey) {
  const auto path = write_file("huge.key", std::string(5000, 'A'), 0600);
  EXPECT_EQ(refusal(path),
            path.string() + " is 5000 bytes; expected one base64 key of 44 characters");
}

TEST_F(KeyFileTest, WriteCreatesMode0600WhateverTheUmask) {
  const mode_t saved = ::umask(0);
  const auto path = dir_ / "new.key";
  const std::string text = to_base64(PrivateKey::generate().bytes()) + "\n";
  write_key_file(path, text);
  ::umask(saved);
  EXPECT_EQ(mode_of(path), 0600U);
  EXPECT_EQ(read_file(path), text);
  EXPECT_NO_THROW((void)load_private_key_file(path));
}

TEST_F(KeyFileTest, WriteThenLoadGivesTheSameKey) {
  const PresharedKey key = PresharedKey::generate();
  write_key_file(dir_ / "office.psk", to_base64(key.bytes()) + "\n");
  const PresharedKey loaded = load_preshared_key_file(dir_ / "office.psk");
  EXPECT_TRUE(std::equal(loaded.bytes().begin(), loaded.bytes().end(), key.bytes().begin()));
}

TEST_F(KeyFileTest, WriteRefusesToOverwrite) {
  const auto path = write_file("vps.key", "old\n", 0600);
  try {
    write_key_file(path, "new\n");
    ADD_FAILURE() << "overwrote " << path;
  } catch (const KeyFileError& e) {
    EXPECT_TRUE(contains(e.what(), path.string() + " already exists"));
  }
  EXPECT_EQ(read_file(path), "old\n");
}

TEST_F(KeyFileTest, WriteDoesNotFollowASymbolicLink) {
  const auto target = dir_ / "elsewhere";
  fs::create_symlink(target, dir_ / "vps.key");
  EXPECT_THROW(write_key_file(dir_ / "vps.key", "secret\n"), KeyFileError);
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(KeyFileTest, WriteIntoAMissingDirectoryNamesThePath) {
  const auto path = dir_ / "missing" / "vps.key";
  try {
    write_key_file(path, "x\n");
    ADD_FAILURE();
  } catch (const KeyFileError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot create " + path.string() + ": No such file or directory");
  }
}

// systemd credentials (LoadCredential=): the service reads the copy in $CREDENTIALS_DIRECTORY
// that has the configured file's name, and the root-only original is never opened.

TEST_F(KeyFileTest, ACredentialOfTheSameNameIsReadInsteadOfThePath) {
  const PrivateKey key = PrivateKey::generate();
  fs::create_directory(dir_ / "credentials");
  write_file("credentials/vps.key", to_base64(key.bytes()) + "\n", 0400);
  const fs::path configured = dir_ / "etc" / "vps.key";  // does not exist: only the credential can be read

  const KeyFileSource source = locate_key_file(configured, (dir_ / "credentials").string());
  EXPECT_EQ(source.path, dir_ / "credentials" / "vps.key");
  const PrivateKey loaded = load_private_key_file(source);
  EXPECT_EQ(loaded.public_key(), key.public_key());
}

TEST_F(KeyFileTest, WithoutAMatchingCredentialThePathIsRead) {
  fs::create_directory(dir_ / "credentials");
  write_file("credentials/other.key", "x\n", 0400);
  const fs::path configured = dir_ / "vps.key";
  EXPECT_EQ(locate_key_file(configured, (dir_ / "credentials").string()).path, configured);
  EXPECT_EQ(locate_key_file(configured, "").path, configured);
  EXPECT_EQ(locate_key_file(configured, "").name, configured.string());
}

TEST_F(KeyFileTest, ACredentialAsSystemdMakesItIsAcceptedWithItsAclGroupBits) {
  // systemd: mode 0400 plus an ACL for the service user, which stat() reports as 0440.
  fs::create_directory(dir_ / "credentials");
  const PresharedKey psk = PresharedKey::generate();
  write_file("credentials/office.psk", to_base64(psk.bytes()) + "\n", 0440);
  const PresharedKey loaded = load_preshared_key_file(locate_key_file("/etc/mailtun/office.psk", (dir_ / "credentials").string()));
  EXPECT_EQ(to_base64(loaded.bytes()), to_base64(psk.bytes()));
}

TEST_F(KeyFileTest, ACredentialOpenToOthersIsRefusedAndNamedWithThePath) {
  fs::create_directory(dir_ / "credentials");
  const auto credential = write_file("credentials/office.psk", to_base64(PresharedKey::generate().bytes()) + "\n", 0644);
  const fs::path configured = "/etc/mailtun/office.psk";
  try {
    (void)load_preshared_key_file(locate_key_file(configured, (dir_ / "credentials").string()));
    ADD_FAILURE() << "a credential readable by others was loaded";
  } catch (const KeyFileError& e) {
    EXPECT_EQ(std::string(e.what()), "credential office.psk (" + credential.string() +
                                         ", in place of /etc/mailtun/office.psk) is open to others (mode 0644); "
                                         "systemd's credentials never are: is CREDENTIALS_DIRECTORY set by hand?");
  }
}

}  // namespace
}  // namespace mailtun::keys
