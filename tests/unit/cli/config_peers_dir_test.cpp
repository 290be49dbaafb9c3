// interface.peers_dir (docs/configuration.md): one file per office, read in name order as if its
// tables were written in the main file; every error names the file and line it is in, and a clash
// between two files names both.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/config.hpp"
#include "keys/base64.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;

class PeersDirTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    keys::write_key_file(dir_ / "vps.key", keys::to_base64(vps_key_.bytes()) + "\n");
    ASSERT_TRUE(fs::create_directory(dir_ / "vps.d"));
    fs::permissions(dir_ / "vps.d", fs::perms(0750));
  }

  /// The main file: this endpoint and `rest` (more tables), with peers_dir = "vps.d".
  fs::path write_main(const std::string& rest = "") {
    return write_file("vps.toml", "[interface]\nprivate_key_file = \"vps.key\"\nlisten = \"127.0.0.1:7424\"\n"
                                  "peers_dir = \"vps.d\"\n" + rest);
  }

  /// An office's file: its [[peer]] (a fresh key) and an lmtp [[forward]] on 127.0.0.1:PORT.
  static std::string office(const std::string& name, int port) {
    return "[[peer]]\nname = \"" + name + "\"\npublic_key = \"" +
           keys::to_base64(keys::PrivateKey::generate().public_key().bytes()) +
           "\"\n\n[[forward]]\nservice = \"lmtp\"\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\npeer = \"" +
           name + "\"\n";
  }

  fs::path write_office(const std::string& file, const std::string& text, mode_t mode = 0640) {
    return write_file("vps.d/" + file, text, mode);
  }

  std::vector<std::string> errors() {
    try {
      (void)load_config(dir_ / "vps.toml");
    } catch (const ConfigError& e) {
      return e.errors();
    }
    ADD_FAILURE() << "the configuration loaded, but should not have";
    return {};
  }

  static std::string all(const std::vector<std::string>& list) {
    std::string text;
    for (const std::string& line : list) text += line + "\n";
    return text;
  }

  keys::PrivateKey vps_key_ = keys::PrivateKey::generate();
};

std::vector<std::string> names_of(const Config& config) {
  std::vector<std::string> names;
  for (const Peer& peer : config.peers) names.push_back(peer.name);
  return names;
}

TEST_F(PeersDirTest, FilesAreMergedAfterTheMainFileInNameOrder) {
  write_main(office("hq", 2400));
  write_office("b-office.toml", office("b", 2402));
  write_office("a-office.toml", office("a", 2401) + R"(
[[expose]]
service = "relay"
target = "127.0.0.1:10025"
peers = ["a", "b"]
)");
  write_office("README", "not toml at all [");
  write_office(".a-office.toml.swp", "not toml at all [");
  write_office(".hidden.toml", "not toml at all [");

  const Config config = load_config(dir_ / "vps.toml");
  EXPECT_EQ(names_of(config), (std::vector<std::string>{"hq", "a", "b"}));
  ASSERT_EQ(config.forwards.size(), 3U);
  EXPECT_EQ(config.forwards[1].listen.to_string(), "127.0.0.1:2401");
  EXPECT_EQ(config.forwards[1].peers, std::vector<std::string>{"a"});
  EXPECT_EQ(config.forwards[1].protocol, forwarder::Protocol::lmtp);
  EXPECT_EQ(config.forwards[2].peers, std::vector<std::string>{"b"});
  ASSERT_EQ(config.exposes.size(), 1U);
  // A file may name a peer of another file, as the main file may.
  EXPECT_EQ(config.exposes[0].peers, (std::vector<std::string>{"a", "b"}));
}

// A hosting provider sets up the VPS before its first office.
TEST_F(PeersDirTest, AnEmptyDirectoryIsFineAndNeedsNoPeer) {
  write_main();
  const Config config = load_config(dir_ / "vps.toml");
  EXPECT_TRUE(config.peers.empty());
  EXPECT_TRUE(config.forwards.empty());
}

TEST_F(PeersDirTest, AMissingDirectoryIsNamedWithTheFix) {
  write_file("vps.toml", "[interface]\nprivate_key_file = \"vps.key\"\nlisten = \"127.0.0.1:7424\"\n"
                         "peers_dir = \"offices.d\"\n");
  const auto list = errors();
  ASSERT_EQ(list.size(), 1U) << all(list);
  const std::string missing = (dir_ / "offices.d").string();
  EXPECT_TRUE(list[0].starts_with((dir_ / "vps.toml").string() + ":4: interface.peers_dir: " + missing +
                                  " does not exist"))
      << list[0];
  EXPECT_NE(list[0].find("mkdir -m 0750 " + missing), std::string::npos) << list[0];
}

TEST_F(PeersDirTest, APeerNameInTwoFilesNamesBothFilesAndLines) {
  write_main();
  write_office("a.toml", office("office", 2401));
  write_office("b.toml", "# the same office again\n" + office("office", 2402));
  const auto list = errors();
  ASSERT_EQ(list.size(), 1U) << all(list);
  EXPECT_EQ(list[0], (dir_ / "vps.d/b.toml").string() + ":3: peer[0].name: \"office\" is also the name of peer[0] (line 2 of " +
                         (dir_ / "vps.d/a.toml").string() + "); expected a different name for each peer");
}

TEST_F(PeersDirTest, AForwardAddressInTwoFilesNamesBothFilesAndLines) {
  write_main(office("hq", 2400));
  write_office("a.toml", office("a", 2400));
  const auto list = errors();
  ASSERT_EQ(list.size(), 1U) << all(list);
  EXPECT_TRUE(list[0].starts_with((dir_ / "vps.d/a.toml").string() + ":7: forward[0].listen: 127.0.0.1:2400 clashes with "
                                  "127.0.0.1:2400 of forward[0].listen (line 11 of " +
                                  (dir_ / "vps.toml").string() + ")"))
      << list[0];
}

TEST_F(PeersDirTest, ErrorsInsideAFileNameThatFileAndLine) {
  write_main();
  write_office("a.toml", "[[peer]]\nname = \"a\"\npublickey = \"x\"\n");
  write_office("b.toml", "[interface]\nname = \"b\"\n");
  write_office("c.toml", "[[peer]\n");
  const auto list = errors();
  const std::string a = (dir_ / "vps.d/a.toml").string();
  const std::string b = (dir_ / "vps.d/b.toml").string();
  const std::string c = (dir_ / "vps.d/c.toml").string();
  ASSERT_GE(list.size(), 4U) << all(list);
  // In the order of the files: a, then b, then c.
  EXPECT_TRUE(list[0].starts_with(a + ":1: peer[0].public_key: missing")) << all(list);
  EXPECT_TRUE(list[1].starts_with(a + ":3: peer[0].publickey: unknown key; did you mean `public_key`?")) << all(list);
  EXPECT_TRUE(list[2].starts_with(b + ":1: interface: not allowed in a file of peers_dir")) << all(list);
  EXPECT_NE(list[2].find("[interface] in " + (dir_ / "vps.toml").string()), std::string::npos) << list[2];
  EXPECT_TRUE(list[3].starts_with(c + ":1:")) << all(list);
  EXPECT_NE(list[3].find("invalid TOML"), std::string::npos) << list[3];
}

// Whoever can write an office's file or the directory can add a peer and an expose.
TEST_F(PeersDirTest, AFileOrDirectoryOthersCanWriteIsRefused) {
  write_main();
  write_office("a.toml", office("a", 2401), 0664);
  auto list = errors();
  ASSERT_EQ(list.size(), 1U) << all(list);
  EXPECT_EQ(list[0], (dir_ / "vps.d/a.toml").string() +
                         ": is writable by group or others (mode 0664), who could add a peer and an expose; run: "
                         "chmod go-w " + (dir_ / "vps.d/a.toml").string());

  fs::permissions(dir_ / "vps.d/a.toml", fs::perms(0640));
  fs::permissions(dir_ / "vps.d", fs::perms(0770));
  list = errors();
  ASSERT_EQ(list.size(), 1U) << all(list);
  EXPECT_TRUE(list[0].starts_with((dir_ / "vps.toml").string() + ":4: interface.peers_dir: ")) << list[0];
  EXPECT_NE(list[0].find("chmod go-w " + (dir_ / "vps.d").string()), std::string::npos) << list[0];
}

// A fragment's relative paths are relative to the fragment, as the main file's are to it.
TEST_F(PeersDirTest, RelativeKeyFilesInAFileAreRelativeToIt) {
  write_main();
  const auto psk = keys::PresharedKey::generate();
  keys::write_key_file(dir_ / "vps.d/a.psk", keys::to_base64(psk.bytes()) + "\n");
  write_office("a.toml", office("a", 2401) + "\n[[peer]]\nname = \"a2\"\npublic_key = \"" +
                             keys::to_base64(keys::PrivateKey::generate().public_key().bytes()) +
                             "\"\npreshared_key_file = \"a.psk\"\n");
  const Config config = load_config(dir_ / "vps.toml");
  ASSERT_EQ(config.peers.size(), 2U);
  EXPECT_TRUE(std::ranges::equal(config.peers[1].psk.bytes(), psk.bytes()));
}

}  // namespace
}  // namespace mailtun::cli
