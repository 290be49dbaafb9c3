// `genkey`, `pubkey`, `genpsk` run in-process, with pipes for stdin, stdout and stderr. The same
// commands run as the real binary against `wg` in tests/cli/wg_interop.sh.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>
#include <string>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "keys/base64.hpp"
#include "tests/support/command_runner.hpp"

namespace mailtun::cli {
namespace {

// RFC 7748 §6.1 Alice's key pair in base64; the public key is what `wg pubkey` prints for the
// private one.
constexpr const char* alice_private = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
constexpr const char* alice_public = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

const std::regex key_line("^[A-Za-z0-9+/]{43}=\n$");

using Result = testing::CommandResult;

// Runs `mailtun ARGS` with `input` on stdin. `out_fd`, if given, replaces the stdout pipe.
Result run(const std::string& args, const std::string& input = {}, int out_fd = -1) {
  return testing::run_command(register_keys_commands, args, {.stdin_text = input, .out_fd = out_fd});
}

// genkey and genpsk change the umask, as `wg` does; put it back for the other tests.
class KeysCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_umask_ = ::umask(022); }
  void TearDown() override { ::umask(saved_umask_); }
  static mode_t current_umask() {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mask;
  }

 private:
  mode_t saved_umask_ = 022;
};

TEST_F(KeysCommandTest, GenkeyPrintsOneClampedKeyLine) {
  const Result r = run("genkey");
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_TRUE(std::regex_match(r.out, key_line)) << r.out;
  EXPECT_EQ(r.err, "");
  auto key = keys::decode_base64_key(r.out);
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(key->bytes()[0] & 0x07, 0);
  EXPECT_EQ(key->bytes()[31] & 0xc0, 0x40);
}

TEST_F(KeysCommandTest, GenkeySetsUmask077) {
  (void)run("genkey");
  EXPECT_EQ(current_umask(), 077U);
}

TEST_F(KeysCommandTest, GenpskPrintsOneKeyLineAndSetsUmask077) {
  const Result a = run("genpsk");
  const Result b = run("genpsk");
  EXPECT_TRUE(std::regex_match(a.out, key_line)) << a.out;
  EXPECT_NE(a.out, b.out);
  EXPECT_EQ(current_umask(), 077U);
}

TEST_F(KeysCommandTest, GeneratedKeysDiffer) { EXPECT_NE(run("genkey").out, run("genkey").out); }

TEST_F(KeysCommandTest, PubkeyOfRfc7748Alice) {
  const Result r = run("pubkey", std::string(alice_private) + "\n");
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(r.out, std::string(alice_public) + "\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(KeysCommandTest, PubkeyMatchesGenkey) {
  const std::string private_line = run("genkey").out;
  auto key = keys::parse_private_key(private_line);
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(run("pubkey", private_line).out, keys::to_base64(key->public_key().bytes()) + "\n");
}

TEST_F(KeysCommandTest, PubkeyRefusesGarbageAsAUsageError) {
  const Result r = run("pubkey", "this is not a key\n");
  ASSERT_EQ(r.failure, ExitCode::usage);
  EXPECT_EQ(r.message,
            "mailtun pubkey: stdin: expected a base64 private key of 44 characters (as printed by "
            "`mailtun genkey`), got a space at position 5 (a key is one unbroken line)");
  EXPECT_EQ(r.out, "");
}

TEST_F(KeysCommandTest, PubkeyRefusesEmptyInput) {
  const Result r = run("pubkey", "");
  ASSERT_EQ(r.failure, ExitCode::usage);
  EXPECT_NE(r.message.find("got nothing"), std::string::npos) << r.message;
  EXPECT_EQ(r.out, "");
}

TEST_F(KeysCommandTest, PubkeyRefusesHugeInput) {
  const Result r = run("pubkey", std::string(10000, 'A'));
  ASSERT_EQ(r.failure, ExitCode::usage);
  EXPECT_NE(r.message.find("got more than 4096 bytes"), std::string::npos) << r.message;
}

TEST_F(KeysCommandTest, PubkeyDoesNotEchoAMistypedKey) {
  const std::string typo = std::string(alice_private).substr(0, 43) + "\n";
  const Result r = run("pubkey", typo);
  ASSERT_EQ(r.failure, ExitCode::usage);
  EXPECT_EQ(r.message.find(typo.substr(0, 8)), std::string::npos) << r.message;
}

TEST_F(KeysCommandTest, GenkeyWarnsWhenStdoutIsAFileOthersCanRead) {
  std::string pattern = (std::filesystem::temp_directory_path() / "mailtun-genkey-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::fchmod(fd, 0644), 0);
  const Result shared = run("genkey", "", fd);
  EXPECT_NE(shared.err.find("mailtun genkey: warning: writing a secret key to a file that is "
                            "readable by group or others (mode 0644)"),
            std::string::npos)
      << shared.err;

  ASSERT_EQ(::fchmod(fd, 0600), 0);
  EXPECT_EQ(run("genkey", "", fd).err, "");
  ::close(fd);
  ::unlink(pattern.c_str());
}

}  // namespace
}  // namespace mailtun::cli
