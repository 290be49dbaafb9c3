// `mailtun init` run in-process into a temporary directory: the files it writes and their modes,
// the public key it prints, refusing to overwrite, --force, and a VPS and an office that, once
// their keys are exchanged as the printed steps say, load as a matching pair.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "keys/base64.hpp"
#include "keys/key_file.hpp"
#include "tests/support/command_runner.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;

using Result = testing::CommandResult;

Result run(const std::vector<std::string>& args) { return testing::run_command(register_init_command, args); }

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::trunc) << text; }

mode_t mode_of(const fs::path& path) {
  struct stat status {};
  EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
  return status.st_mode & 07777;
}

/// The key printed on the line "public key of NAME: KEY".
std::string printed_key(const std::string& out, const std::string& name) {
  std::smatch match;
  const std::regex line("\npublic key of " + name + ": ([A-Za-z0-9+/]{43}=)\n");
  EXPECT_TRUE(std::regex_search(out, match, line)) << out;
  return match.size() > 1 ? match[1].str() : std::string();
}

/// What a user does with the printed step: the placeholder's line becomes the real key.
void paste_key(const fs::path& config, const std::string& key) {
  std::string text = read_file(config);
  const std::regex placeholder("public_key = \"paste the public key of [a-z]+ here\"");
  ASSERT_TRUE(std::regex_search(text, placeholder)) << text;
  write_file(config, std::regex_replace(text, placeholder, "public_key = \"" + key + "\""));
}

class InitCommandTest : public testing::TempDirTest {};

TEST_F(InitCommandTest, WritesAPrivateKeyAndAConfigurationAndPrintsThePublicKey) {
  const Result r = run({"init", "--role", "vps", "--dir", dir_.string()});
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(mode_of(dir_ / "vps.key"), 0600u);
  EXPECT_EQ(mode_of(dir_ / "vps.toml"), 0640u);
  const keys::PrivateKey key = keys::load_private_key_file(dir_ / "vps.key");
  EXPECT_EQ(printed_key(r.out, "vps"), keys::to_base64(key.public_key().bytes()));
  EXPECT_NE(r.out.find("wrote " + (dir_ / "vps.toml").string()), std::string::npos) << r.out;
  // Written, but not runnable until the office's key is in: check refuses it.
  EXPECT_THROW((void)load_config(dir_ / "vps.toml"), ConfigError);
}

TEST_F(InitCommandTest, TwoSidesLoadAsAPairOnceTheKeysAreExchanged) {
  const Result vps = run({"init", "--role", "vps", "--dir", (dir_ / "vps").string()});
  ASSERT_FALSE(vps.failure) << vps.message;
  const std::string vps_public = printed_key(vps.out, "vps");
  const Result office = run({"init", "--role", "office", "--dir", (dir_ / "office").string(), "--endpoint",
                             "vps.example.org:7424", "--peer-public-key", vps_public});
  ASSERT_FALSE(office.failure) << office.message;
  paste_key(dir_ / "vps" / "vps.toml", printed_key(office.out, "office"));

  const Config vps_config = load_config(dir_ / "vps" / "vps.toml");
  const Config office_config = load_config(dir_ / "office" / "office.toml");
  EXPECT_EQ(vps_config.peers[0].public_key, office_config.interface.private_key.public_key());
  EXPECT_EQ(office_config.peers[0].public_key, vps_config.interface.private_key.public_key());
  EXPECT_EQ(mode_of(dir_ / "vps"), 0750u) << "a directory init creates is the package's /etc/mailtun";
}

TEST_F(InitCommandTest, RefusesAnExistingFileWithExitCode2AndWritesNothing) {
  write_file(dir_ / "office.toml", "# the admin's own\n");
  const Result r = run({"init", "--role", "office", "--dir", dir_.string(), "--endpoint", "vps.example.org:7424"});
  ASSERT_EQ(r.failure, ExitCode::usage);
  EXPECT_NE(r.message.find((dir_ / "office.toml").string() + " already exists"), std::string::npos) << r.message;
  EXPECT_FALSE(fs::exists(dir_ / "office.key")) << "nothing is written when anything is refused";
  EXPECT_EQ(read_file(dir_ / "office.toml"), "# the admin's own\n");
}

TEST_F(InitCommandTest, ForceReplacesTheKeyAndSaysSo) {
  const Result first = run({"init", "--role", "vps", "--dir", dir_.string()});
  ASSERT_FALSE(first.failure) << first.message;
  const Result refused = run({"init", "--role", "vps", "--dir", dir_.string()});
  EXPECT_EQ(refused.failure, ExitCode::usage);
  const Result forced = run({"init", "--role", "vps", "--dir", dir_.string(), "--force"});
  ASSERT_FALSE(forced.failure) << forced.message;
  EXPECT_NE(printed_key(forced.out, "vps"), printed_key(first.out, "vps"));
  EXPECT_NE(forced.err.find("the other side needs the new public key"), std::string::npos) << forced.err;
  EXPECT_EQ(mode_of(dir_ / "vps.key"), 0600u);
}

TEST_F(InitCommandTest, BadFlagsAreUsageErrorsAndWriteNothing) {
  const Result r = run({"init", "--role", "office", "--dir", dir_.string()});
  ASSERT_EQ(r.failure, ExitCode::usage);
  EXPECT_NE(r.message.find("--endpoint"), std::string::npos) << r.message;
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace mailtun::cli
