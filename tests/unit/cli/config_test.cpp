// The configuration file of DESIGN §7: the example and its office mirror load with the right values,
// and every kind of mistake is reported as "FILE:LINE: KEY: …", all of them at once, without ever
// showing a secret.

#include "cli/config.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "keys/base64.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;
using forwarder::Protocol;

/// The 1-based number of the first line of `text` that contains `needle`, so that tests name the
/// line they mean by its content rather than by counting.
std::uint32_t line_with(std::string_view text, std::string_view needle) {
  const auto at = text.find(needle);
  EXPECT_NE(at, std::string_view::npos) << needle;
  return static_cast<std::uint32_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1);
}

/// Replaces every "{NAME}" in `text`.
std::string fill(std::string text, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [name, value] : values) {
    const std::string token = "{" + name + "}";
    for (auto at = text.find(token); at != std::string::npos; at = text.find(token, at + value.size())) {
      text.replace(at, token.size(), value);
    }
  }
  return text;
}

// Each test gets a directory holding fresh keys for both endpoints (files of mode 0600) and writes
// its configuration files there.
class ConfigTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    vps_private_ = keys::to_base64(vps_key_.bytes());
    office_private_ = keys::to_base64(office_key_.bytes());
    vps_public_ = keys::to_base64(vps_key_.public_key().bytes());
    office_public_ = keys::to_base64(office_key_.public_key().bytes());
    psk_text_ = keys::to_base64(psk_.bytes());
    keys::write_key_file(dir_ / "vps.key", vps_private_ + "\n");
    keys::write_key_file(dir_ / "office.key", office_private_ + "\n");
    keys::write_key_file(dir_ / "office.psk", psk_text_ + "\n");
  }

  [[nodiscard]] std::string filled(const std::string& text) const {
    return fill(text, {{"DIR", dir_.string()},
                       {"VPS_PUBLIC", vps_public_},
                       {"OFFICE_PUBLIC", office_public_},
                       {"VPS_PRIVATE", vps_private_},
                       {"PSK", psk_text_}});
  }

  /// The errors of loading `text` as `name`; fails the test if it loads.
  std::vector<std::string> errors(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const fs::path path = write_file(name, filled(text), mode);
    try {
      (void)load_config(path);
    } catch (const ConfigError& e) {
      return e.errors();
    }
    ADD_FAILURE() << name << " loaded, but should not have";
    return {};
  }

  /// Expects an error "FILE:LINE: KEY: …" that contains `fragment`, FILE being `name` in the test
  /// directory and LINE the line of `text` holding `line_text`.
  void expect_error(const std::vector<std::string>& list, const std::string& name, const std::string& text,
                    std::string_view line_text, const std::string& key, const std::string& fragment) {
    const std::string prefix =
        (dir_ / name).string() + ":" + std::to_string(line_with(filled(text), filled(std::string(line_text)))) + ": " + key + ": ";
    const bool found = std::ranges::any_of(list, [&](const std::string& error) {
      return error.starts_with(prefix) && error.find(fragment) != std::string::npos;
    });
    std::string all;
    for (const std::string& error : list) all += error + "\n";
    EXPECT_TRUE(found) << "no error starting " << prefix << " containing " << fragment << "; got:\n" << all;
  }

  Config load(const std::string& name, const std::string& text, mode_t mode = 0600) {
    return load_config(write_file(name, filled(text), mode));
  }

  keys::PrivateKey vps_key_ = keys::PrivateKey::generate();
  keys::PrivateKey office_key_ = keys::PrivateKey::generate();
  keys::PresharedKey psk_ = keys::PresharedKey::generate();
  std::string vps_private_;
  std::string office_private_;
  std::string vps_public_;
  std::string office_public_;
  std::string psk_text_;
};

// DESIGN §7, as printed there, with the key paths of the test directory.
const std::string vps_example = R"(# /etc/mailtun/vps.toml
[interface]
name = "vps"                                   # for logs and status
private_key_file = "{DIR}/vps.key"             # or private_key = "base64…"
listen = "0.0.0.0:7424"                        # accept tunnel connections (optional)
control_socket = "/run/mailtun/vps.sock"       # for `mailtun status` (optional)

[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
preshared_key_file = "{DIR}/office.psk" # optional
# endpoint = "host:port"                       # set on the side that dials
# keepalive = 15

[[forward]]                                    # local listener -> service at a peer
service = "lmtp"
listen = "127.0.0.1:24"
peer = "office"

[[forward]]
service = "dovecot-auth"
listen = "127.0.0.1:3659"
peer = "office"
# allow_public = false                         # needed to listen off loopback for lmtp, sasl, relay

[[forward]]                                    # IMAP users on the road reach the office's Dovecot
service = "imap"
listen = "0.0.0.0:143"                         # public: IMAP authenticates its users itself
peer = "office"

[[expose]]                                     # service a peer may open -> local target
service = "relay"
target = "127.0.0.1:10025"
peers = ["office"]
# proxy_protocol = "v2"
# allow_any_port = false
)";

// The office's mirror of it (DESIGN §7), with relative key paths, no name (so the file's stem) and
// the optional keys set.
const std::string office_example = R"([interface]
private_key_file = "office.key"

[[peer]]
name = "vps"
public_key = "{VPS_PUBLIC}"
preshared_key_file = "office.psk"
endpoint = "vps.example.org:7424"
keepalive = 25
max_streams = 64

[[expose]]
service = "lmtp"
target = "127.0.0.1:24"
peers = ["vps"]

[[expose]]
service = "dovecot-auth"
target = "localhost:3659"
peers = ["vps"]

[[expose]]
service = "submission"
target = "[::1]:587"
peers = ["vps"]
proxy_protocol = "v2"

[[forward]]
service = "relay"
listen = "127.0.0.1:2525"
peer = "vps"
)";

bool same_bytes(keys::KeySpan a, keys::KeySpan b) { return std::ranges::equal(a, b); }

TEST_F(ConfigTest, VpsExampleLoads) {
  const Config config = load("vps.toml", vps_example);
  EXPECT_EQ(config.path, dir_ / "vps.toml");
  EXPECT_EQ(config.interface.name, "vps");
  EXPECT_TRUE(same_bytes(config.interface.private_key.bytes(), vps_key_.bytes()));
  ASSERT_TRUE(config.interface.listen);
  EXPECT_EQ(config.interface.listen->to_string(), "0.0.0.0:7424");
  EXPECT_TRUE(config.interface.listen->is_wildcard());
  EXPECT_EQ(config.interface.control_socket, fs::path("/run/mailtun/vps.sock"));

  ASSERT_EQ(config.peers.size(), 1U);
  const Peer& office = config.peers[0];
  EXPECT_EQ(office.name, "office");
  EXPECT_EQ(office.public_key, office_key_.public_key());
  EXPECT_TRUE(same_bytes(office.psk.bytes(), psk_.bytes()));
  EXPECT_FALSE(office.endpoint);
  EXPECT_EQ(office.keepalive, std::chrono::seconds(15));
  EXPECT_EQ(office.max_streams, 1024U);
  EXPECT_EQ(config.find_peer("office"), &office);
  EXPECT_EQ(config.find_peer("vps"), nullptr);

  ASSERT_EQ(config.forwards.size(), 3U);
  EXPECT_EQ(config.forwards[0].service, "lmtp");
  EXPECT_EQ(config.forwards[0].listen.to_string(), "127.0.0.1:24");
  EXPECT_EQ(config.forwards[0].peers, std::vector<std::string>{"office"});
  EXPECT_EQ(config.forwards[0].protocol, Protocol::lmtp);
  EXPECT_EQ(config.forwards[1].service, "dovecot-auth");
  EXPECT_EQ(config.forwards[1].listen.port, 3659);
  EXPECT_EQ(config.forwards[1].protocol, Protocol::sasl);
  EXPECT_FALSE(config.forwards[1].allow_public);
  EXPECT_EQ(config.forwards[2].listen.to_string(), "0.0.0.0:143");
  EXPECT_EQ(config.forwards[2].protocol, Protocol::imap);
  EXPECT_FALSE(config.interface.metrics_listen);

  ASSERT_EQ(config.exposes.size(), 1U);
  const Expose& relay = config.exposes[0];
  EXPECT_EQ(relay.service, "relay");
  EXPECT_EQ(relay.target, (HostPort{"127.0.0.1", 10025}));
  EXPECT_EQ(relay.peers, std::vector<std::string>{"office"});
  EXPECT_EQ(relay.protocol, Protocol::smtp);
  EXPECT_EQ(relay.proxy_protocol, std::nullopt);
  EXPECT_FALSE(relay.allow_any_port);
}

TEST_F(ConfigTest, OfficeMirrorLoads) {
  const Config config = load("office.toml", office_example);
  EXPECT_EQ(config.interface.name, "office");  // the file's stem
  EXPECT_TRUE(same_bytes(config.interface.private_key.bytes(), office_key_.bytes()));
  EXPECT_FALSE(config.interface.listen);
  EXPECT_EQ(config.interface.control_socket, fs::path("/run/mailtun/office.sock"));  // the default

  ASSERT_EQ(config.peers.size(), 1U);
  const Peer& vps = config.peers[0];
  EXPECT_EQ(vps.name, "vps");
  EXPECT_EQ(vps.public_key, vps_key_.public_key());
  EXPECT_TRUE(same_bytes(vps.psk.bytes(), psk_.bytes()));
  ASSERT_TRUE(vps.endpoint);
  EXPECT_EQ(*vps.endpoint, (HostPort{"vps.example.org", 7424}));
  EXPECT_EQ(vps.keepalive, std::chrono::seconds(25));
  EXPECT_EQ(vps.max_streams, 64U);

  ASSERT_EQ(config.exposes.size(), 3U);
  EXPECT_EQ(config.exposes[0].service, "lmtp");
  EXPECT_EQ(config.exposes[0].protocol, Protocol::lmtp);
  EXPECT_EQ(config.exposes[1].target, (HostPort{"localhost", 3659}));
  EXPECT_EQ(config.exposes[1].protocol, Protocol::sasl);
  EXPECT_EQ(config.exposes[2].target.host, "::1");
  EXPECT_EQ(config.exposes[2].target.to_string(), "[::1]:587");
  EXPECT_EQ(config.exposes[2].proxy_protocol, forwarder::ProxyVersion::v2);

  ASSERT_EQ(config.forwards.size(), 1U);
  EXPECT_EQ(config.forwards[0].service, "relay");
  EXPECT_EQ(config.forwards[0].protocol, Protocol::smtp);
  EXPECT_EQ(config.forwards[0].peers, std::vector<std::string>{"vps"});
}

TEST_F(ConfigTest, NoPresharedKeyMeansAllZero) {
  std::string text = vps_example;
  text.erase(text.find("preshared_key_file"), text.find('\n', text.find("preshared_key_file")) - text.find("preshared_key_file"));
  const Config config = load("vps.toml", text);
  EXPECT_TRUE(std::ranges::all_of(config.peers[0].psk.bytes(), [](std::uint8_t b) { return b == 0; }));
}

TEST_F(ConfigTest, InlineKeysLoadFromAPrivateFile) {
  const std::string text = R"([interface]
private_key = "{VPS_PRIVATE}"
listen = "[::]:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
preshared_key = "{PSK}"
)";
  const Config config = load("vps.toml", text);
  EXPECT_TRUE(same_bytes(config.interface.private_key.bytes(), vps_key_.bytes()));
  EXPECT_TRUE(same_bytes(config.peers[0].psk.bytes(), psk_.bytes()));
  EXPECT_EQ(config.interface.listen->to_string(), "[::]:7424");
}

TEST_F(ConfigTest, InlinePrivateKeyInAFileOthersCanReadIsRefused) {
  const std::string text = R"([interface]
private_key = "{VPS_PRIVATE}"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
)";
  const auto list = errors("vps.toml", text, 0644);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", text, "private_key =", "interface.private_key", "chmod 600");
  EXPECT_EQ(list[0].find(vps_private_), std::string::npos);
}

TEST_F(ConfigTest, KeyFileOthersCanReadIsRefusedWithChmod600) {
  ASSERT_EQ(::chmod((dir_ / "vps.key").c_str(), 0644), 0);
  const auto list = errors("vps.toml", vps_example);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", vps_example, "private_key_file", "interface.private_key_file",
               "chmod 600 " + (dir_ / "vps.key").string());
  EXPECT_NE(list[0].find("mode 0644"), std::string::npos) << list[0];
}

// Review finding "a 0666 configuration passes check": any local user could add a peer and an expose.
TEST_F(ConfigTest, ConfigurationWritableByGroupOrOthersIsRefusedWithTheChmodFix) {
  for (const mode_t mode : {0666, 0620, 0602}) {
    const auto list = errors("vps.toml", vps_example, mode);
    ASSERT_EQ(list.size(), 1U) << std::oct << mode;
    EXPECT_TRUE(list[0].starts_with((dir_ / "vps.toml").string() + ": is writable by group or others (mode 0")) << list[0];
    EXPECT_NE(list[0].find("; run: chmod go-w " + (dir_ / "vps.toml").string()), std::string::npos) << list[0];
  }
}

// The Debian package installs configurations root:mailtun 0640.
TEST_F(ConfigTest, ConfigurationReadableByGroupIsFine) {
  (void)write_file("vps.toml", filled(vps_example), 0640);
  EXPECT_NO_THROW((void)load_config(dir_ / "vps.toml"));
}

// Review finding "local files": a file another user owns can be rewritten by them at any time.
TEST_F(ConfigTest, ConfigurationOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: giving a file to another user needs root";
  const fs::path path = write_file("vps.toml", filled(vps_example), 0600);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0) << std::strerror(errno);
  try {
    (void)load_config(path);
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors().size(), 1U);
    EXPECT_TRUE(e.errors()[0].starts_with(path.string() + ": is owned by user 65534")) << e.errors()[0];
  }
}

TEST_F(ConfigTest, KeyFileOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: giving a file to another user needs root";
  ASSERT_EQ(::chown((dir_ / "vps.key").c_str(), 65534, 65534), 0) << std::strerror(errno);
  const auto list = errors("vps.toml", vps_example);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", vps_example, "private_key_file", "interface.private_key_file",
               "is owned by user 65534");
}

// Review finding "the peer chooses the client address in the PROXY header": proxy_sources.
TEST_F(ConfigTest, ProxySourcesDefaultToAnyAddressAndAreReadAsPrefixes) {
  Config config = load("office.toml", office_example);
  EXPECT_EQ(config.exposes[2].proxy_sources, forwarder::default_proxy_sources());
  std::string text = office_example;
  text.replace(text.find("proxy_protocol = \"v2\""), 22,
               "proxy_protocol = \"v2\"\nproxy_sources = [\"192.0.2.0/24\", \"127.0.0.1\", \"2001:db8::/32\"]");
  config = load("office.toml", text);
  const auto& sources = config.exposes[2].proxy_sources;
  ASSERT_EQ(sources.size(), 3U);
  EXPECT_EQ(sources[0], *forwarder::parse_address_prefix("192.0.2.0/24"));
  EXPECT_EQ(sources[1].length, 32U);
  EXPECT_EQ(sources[2].family, 6);
}

TEST_F(ConfigTest, BadProxySourcesAreNamedByElementAndLine) {
  std::string text = office_example;
  text.replace(text.find("proxy_protocol = \"v2\""), 22,
               "proxy_protocol = \"v2\"\nproxy_sources = [\"192.0.2.0/24\",\n  \"10.0.0.1/8\",\n  \"office.lan\"]");
  const auto list = errors("office.toml", text);
  ASSERT_EQ(list.size(), 2U);
  expect_error(list, "office.toml", text, "\"10.0.0.1/8\"", "expose[2].proxy_sources[1]",
               "\"10.0.0.1/8\" has bits set past the prefix length");
  expect_error(list, "office.toml", text, "\"office.lan\"", "expose[2].proxy_sources[2]",
               "\"office.lan\" is not an address prefix; expected");
}

TEST_F(ConfigTest, EmptyProxySourcesAreRefused) {
  std::string text = office_example;
  text.replace(text.find("proxy_protocol = \"v2\""), 22, "proxy_protocol = \"v2\"\nproxy_sources = []");
  const auto list = errors("office.toml", text);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "office.toml", text, "proxy_sources", "expose[2].proxy_sources", "empty, so every stream");
}

TEST_F(ConfigTest, MissingKeyFileSaysHowToCreateIt) {
  std::string text = vps_example;
  text.replace(text.find("vps.key"), 7, "nonexistent.key");
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "private_key_file", "interface.private_key_file", "mailtun genkey");
}

TEST_F(ConfigTest, BadPublicKeyIsQuotedWithWhatIsExpected) {
  std::string text = vps_example;
  text.replace(text.find("{OFFICE_PUBLIC}"), 15, "abc");
  const auto list = errors("vps.toml", text);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", text, "public_key", "peer[0].public_key",
               "\"abc\" is not a public key; expected 44 base64 characters as printed by `mailtun pubkey`");
}

TEST_F(ConfigTest, UnknownKeysAndTablesAreRejectedWithSuggestions) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
control_sokcet = "/run/x"
endpoint = "x.example:1"

[[peer]]
name = "office"
PublicKey = "{OFFICE_PUBLIC}"
public_key = "{OFFICE_PUBLIC}"
PersistentKeepalive = 25
color = "blue"

[[forwards]]
service = "lmtp"

[logging]
level = "debug"
)";
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "control_sokcet", "interface.control_sokcet",
               "unknown key; did you mean `control_socket`?");
  expect_error(list, "vps.toml", text, "endpoint", "interface.endpoint", "it belongs in [[peer]]");
  expect_error(list, "vps.toml", text, "PublicKey", "peer[0].PublicKey", "did you mean `public_key`?");
  expect_error(list, "vps.toml", text, "PersistentKeepalive", "peer[0].PersistentKeepalive",
               "did you mean `keepalive`?");
  expect_error(list, "vps.toml", text, "color", "peer[0].color", "unknown key; expected one of name, public_key");
  expect_error(list, "vps.toml", text, "[[forwards]]", "forwards", "did you mean `[[forward]]`?");
  expect_error(list, "vps.toml", text, "[logging]", "logging", "unknown table");
  EXPECT_EQ(list.size(), 7U);
}

TEST_F(ConfigTest, SingleBracketPeerTableIsExplained) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[peer]
name = "office"
public_key = "{OFFICE_PUBLIC}"
)";
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "[peer]", "peer", "expected [[peer]] with double brackets");
}

TEST_F(ConfigTest, WrongTypesSayWhatIsExpected) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
listen = 7424
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
keepalive = "15"
max_streams = 10.5
[[expose]]
service = "relay"
target = "127.0.0.1:10025"
peers = "office"
allow_any_port = "yes"
)";
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "listen = 7424", "interface.listen", "got an integer; expected an IP address");
  expect_error(list, "vps.toml", text, "keepalive", "peer[0].keepalive", "got a string; expected an integer from 1 to 3600");
  expect_error(list, "vps.toml", text, "max_streams", "peer[0].max_streams",
               "got a floating-point number; expected an integer");
  expect_error(list, "vps.toml", text, "peers =", "expose[0].peers", "got a string; expected the names of the peers");
  expect_error(list, "vps.toml", text, "allow_any_port", "expose[0].allow_any_port",
               "got a string; expected true or false");
}

TEST_F(ConfigTest, SyntaxErrorGivesLineAndColumn) {
  const std::string text = "[interface]\nprivate_key_file = \"vps.key\"\nlisten = 0.0.0.0:7424\n";
  const auto list = errors("vps.toml", text);
  ASSERT_EQ(list.size(), 1U);
  EXPECT_TRUE(list[0].starts_with((dir_ / "vps.toml").string() + ":3:13: invalid TOML: ")) << list[0];
}

TEST_F(ConfigTest, UnreadableFileIsOneError) {
  try {
    (void)load_config(dir_ / "missing.toml");
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors().size(), 1U);
    EXPECT_EQ(e.errors()[0], (dir_ / "missing.toml").string() +
                                 ": cannot open: No such file or directory; expected a readable TOML file");
  }
}

TEST_F(ConfigTest, AllErrorsAreReportedAtOnceInFileOrder) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:99999"

[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
keepalive = 0
max_streams = 100000

[[forward]]
service = "LMTP"
listen = "localhost:24"
peer = "ofice"

[[expose]]
service = "web"
protocol = "tcp"
target = "127.0.0.1:8080"
peers = ["office"]
)";
  const auto list = errors("vps.toml", text);
  ASSERT_EQ(list.size(), 7U);
  expect_error(list, "vps.toml", text, "99999", "interface.listen", "not a number from 1 to 65535");
  expect_error(list, "vps.toml", text, "keepalive", "peer[0].keepalive", "0 is out of range; expected 1 to 3600");
  expect_error(list, "vps.toml", text, "max_streams", "peer[0].max_streams",
               "100000 is out of range; expected 1 to 65536");
  expect_error(list, "vps.toml", text, "LMTP", "forward[0].service",
               "\"LMTP\" is not a service name; expected 1 to 32 characters of a-z, 0-9 and \"-\"");
  expect_error(list, "vps.toml", text, "localhost", "forward[0].listen", "\"localhost\" is not an IP address");
  expect_error(list, "vps.toml", text, "ofice", "forward[0].peer", "did you mean \"office\"?");
  expect_error(list, "vps.toml", text, "8080", "expose[0].target", "port 8080 is not a mail port");
  // In the order of the file.
  EXPECT_TRUE(std::ranges::is_sorted(list, {}, [](const std::string& error) {
    const auto after_file = error.find(".toml:") + 6;
    return std::stoi(error.substr(after_file));
  }));
  // what() is the same lines, one per line.
  try {
    (void)load_config(dir_ / "vps.toml");
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::count(std::string_view(e.what()).begin(), std::string_view(e.what()).end(), '\n'), 6);
  }
}

TEST_F(ConfigTest, MissingRequiredKeysPointAtTheirTable) {
  const std::string text = R"([interface]
listen = "0.0.0.0:7424"

[[peer]]
keepalive = 10

[[forward]]
service = "lmtp"

[[expose]]
service = "relay"
)";
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "[interface]", "interface.private_key_file", "missing; expected");
  expect_error(list, "vps.toml", text, "[[peer]]", "peer[0].name", "missing; expected");
  expect_error(list, "vps.toml", text, "[[peer]]", "peer[0].public_key", "missing; expected");
  expect_error(list, "vps.toml", text, "[[forward]]", "forward[0].listen", "missing; expected");
  expect_error(list, "vps.toml", text, "[[forward]]", "forward[0].peer", "missing; expected");
  expect_error(list, "vps.toml", text, "[[expose]]", "expose[0].target", "missing; expected");
  expect_error(list, "vps.toml", text, "[[expose]]", "expose[0].peers", "missing; expected");
  EXPECT_EQ(list.size(), 7U);
}

TEST_F(ConfigTest, EmptyFileNeedsInterfaceAndPeer) {
  const auto list = errors("vps.toml", "");
  ASSERT_EQ(list.size(), 2U);
  EXPECT_NE(list[0].find(":1: interface: missing"), std::string::npos) << list[0];
  EXPECT_NE(list[1].find(":1: peer: no [[peer]] table"), std::string::npos) << list[1];
}

TEST_F(ConfigTest, PrivateKeyExactlyOncePresharedKeyAtMostOnce) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
private_key = "{VPS_PRIVATE}"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
preshared_key_file = "office.psk"
preshared_key = "{PSK}"
)";
  const auto list = errors("vps.toml", text);
  ASSERT_EQ(list.size(), 2U);
  expect_error(list, "vps.toml", text, "private_key =", "interface.private_key", "expected only one of the two");
  expect_error(list, "vps.toml", text, "preshared_key =", "peer[0].preshared_key", "expected at most one");
}

TEST_F(ConfigTest, PeerCrossChecks) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
[[peer]]
name = "me"
public_key = "{VPS_PUBLIC}"
[[peer]]
name = "pasted"
public_key = "{VPS_PRIVATE}"
[[peer]]
name = "bad name"
public_key = "{OFFICE_PUBLIC}x"
)";
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "name = \"office\"\npublic_key = \"{OFFICE_PUBLIC}\"\n[[peer]]\nname = \"me\"",
               "peer[1].name", "is also the name of peer[0] (line 5)");
  expect_error(list, "vps.toml", text, "public_key = \"{OFFICE_PUBLIC}\"\n[[peer]]\nname = \"me\"",
               "peer[1].public_key", "the same key as peer[0] (line 6)");
  expect_error(list, "vps.toml", text, "public_key = \"{VPS_PUBLIC}\"", "peer[2].public_key",
               "this endpoint's own public key");
  expect_error(list, "vps.toml", text, "public_key = \"{VPS_PRIVATE}\"", "peer[3].public_key",
               "this endpoint's private key");
  expect_error(list, "vps.toml", text, "bad name", "peer[4].name", "\"bad name\" is not a valid name");
  expect_error(list, "vps.toml", text, "{OFFICE_PUBLIC}x\"", "peer[4].public_key", "is not a public key");
  EXPECT_EQ(list.size(), 6U);
}

TEST_F(ConfigTest, ForwardAndExposeCrossChecks) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
[[forward]]
service = "lmtp"
listen = "127.0.0.1:24"
peer = "office"
[[forward]]
service = "lmtp"
listen = "127.0.0.1:24"
peer = "office"
[[forward]]
service = "smtp"
listen = "127.0.0.1:7424"
peer = "office"
[[forward]]
service = "submission"
listen = "[::]:587"
peer = "office"
[[forward]]
service = "submission"
listen = "127.0.0.2:587"
peer = "office"
[[expose]]
service = "relay"
target = "127.0.0.1:10025"
peers = ["office"]
[[expose]]
service = "relay"
target = "127.0.0.1:10026"
peers = ["office", "home"]
)";
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "listen = \"127.0.0.1:24\"\npeer = \"office\"\n[[forward]]\nservice = \"smtp\"",
               "forward[1].listen", "clashes with 127.0.0.1:24 of forward[0].listen (line 9)");
  expect_error(list, "vps.toml", text, "127.0.0.1:7424", "forward[2].listen", "clashes with 0.0.0.0:7424 of interface.listen");
  expect_error(list, "vps.toml", text, "127.0.0.2:587", "forward[4].listen", "clashes with [::]:587 of forward[3].listen");
  expect_error(list, "vps.toml", text, "service = \"relay\"\ntarget = \"127.0.0.1:10026\"", "expose[1].service",
               "\"relay\" is already exposed by expose[0]");
  expect_error(list, "vps.toml", text, "\"home\"", "expose[1].peers[1]", "\"home\" is not the name of any [[peer]]");
  EXPECT_EQ(list.size(), 5U);
}

// docs/design.md "Failover": a forward may list several peers, tried in order for each new stream.
TEST_F(ConfigTest, ForwardPeersListsFailoverPeersInOrder) {
  const std::string text = R"([interface]
private_key_file = "office.key"
[[peer]]
name = "vps1"
public_key = "{VPS_PUBLIC}"
endpoint = "vps1.example.org:7424"
[[peer]]
name = "vps2"
public_key = "{VPS2_PUBLIC}"
endpoint = "vps2.example.org:7424"
[[forward]]
service = "relay"
listen = "127.0.0.1:2525"
peers = ["vps2", "vps1"]
)";
  const std::string vps2_public = keys::to_base64(keys::PrivateKey::generate().public_key().bytes());
  const Config config = load("office.toml", fill(text, {{"VPS2_PUBLIC", vps2_public}}));
  ASSERT_EQ(config.forwards.size(), 1U);
  EXPECT_EQ(config.forwards[0].peers, (std::vector<std::string>{"vps2", "vps1"}));
}

TEST_F(ConfigTest, ForwardPeersAreCheckedLikePeer) {
  const std::string text = R"([interface]
private_key_file = "office.key"
[[peer]]
name = "vps1"
public_key = "{VPS_PUBLIC}"
endpoint = "vps1.example.org:7424"
[[forward]]
service = "relay"
listen = "127.0.0.1:2525"
peers = ["vps1", "vps3"]
[[forward]]
service = "lmtp"
listen = "127.0.0.1:2526"
peer = "vps1"
peers = ["vps1"]
[[forward]]
service = "smtp"
listen = "127.0.0.1:2527"
peers = []
[[forward]]
service = "submission"
listen = "127.0.0.1:2528"
peers = ["vps1", "vps1"]
[[forward]]
service = "imap"
listen = "127.0.0.1:2529"
)";
  const auto list = errors("office.toml", text);
  expect_error(list, "office.toml", text, "\"vps3\"", "forward[0].peers[1]", "\"vps3\" is not the name of any [[peer]]");
  expect_error(list, "office.toml", text, "peers = [\"vps1\"]", "forward[1].peers", "not both");
  expect_error(list, "office.toml", text, "peers = []", "forward[2].peers", "empty; expected the names of [[peer]]s");
  expect_error(list, "office.toml", text, "peers = [\"vps1\", \"vps1\"]", "forward[3].peers[1]", "listed twice");
  expect_error(list, "office.toml", text, "[[forward]]\nservice = \"imap\"", "forward[4].peer",
               "or peers = [\"vps1\", \"vps2\"] for failover");
  EXPECT_EQ(list.size(), 5U);
}

TEST_F(ConfigTest, NothingCanConnectWithoutListenOrEndpoint) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
)";
  const auto list = errors("vps.toml", text);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", text, "[[peer]]", "peer[0].endpoint",
               "nothing would ever connect to this peer; expected endpoint = \"host:port\"");
  EXPECT_NE(list[0].find("listen = \"0.0.0.0:7424\""), std::string::npos);
}

TEST_F(ConfigTest, MailPortGuard) {
  const std::string refused = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
[[expose]]
service = "imap"
target = "127.0.0.1:8143"
peers = ["office"]
)";
  const auto list = errors("vps.toml", refused);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", refused, "8143", "expose[0].target", "port 8143 is not a mail port");
  EXPECT_NE(list[0].find("allow_any_port = true"), std::string::npos);

  const Config allowed = load("vps.toml", refused + "allow_any_port = true\n");
  EXPECT_TRUE(allowed.exposes[0].allow_any_port);
  EXPECT_EQ(allowed.exposes[0].target.port, 8143);
}

TEST_F(ConfigTest, DovecotAuthPortOnlyForTheAuthServiceNames) {
  const std::string head = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
)";
  const std::string allowed = head + R"([[expose]]
service = "dovecot-auth"
target = "127.0.0.1:3659"
peers = ["office"]
[[expose]]
service = "sasl"
target = "[::1]:3659"
peers = ["office"]
)";
  const Config config = load("vps.toml", allowed);
  ASSERT_EQ(config.exposes.size(), 2U);
  EXPECT_EQ(config.exposes[0].protocol, Protocol::sasl);
  EXPECT_EQ(config.exposes[1].protocol, Protocol::sasl);

  // DESIGN §6: an explicit protocol never widens the guard, and the name earns 3659 only.
  const std::string refused = head + R"([[expose]]
service = "postgres"
protocol = "sasl"
target = "127.0.0.1:5432"
peers = ["office"]
[[expose]]
service = "auth"
protocol = "sasl"
target = "127.0.0.1:3659"
peers = ["office"]
[[expose]]
service = "sasl"
target = "127.0.0.1:12345"
peers = ["office"]
)";
  const auto list = errors("vps.toml", refused);
  expect_error(list, "vps.toml", refused, "5432", "expose[0].target", "port 5432 is not a mail port");
  expect_error(list, "vps.toml", refused, "127.0.0.1:3659", "expose[1].target",
               "port 3659 is not a mail port");
  expect_error(list, "vps.toml", refused, "12345", "expose[2].target", "port 12345 is not a mail port");
  EXPECT_EQ(list.size(), 3U);
}

// DESIGN §6: a forward of a protocol without authentication of its own stays on loopback.
const std::string exposure_head = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
)";

TEST_F(ConfigTest, UnauthenticatedForwardOffLoopbackIsRefusedWithTheReason) {
  const std::string text = exposure_head + R"([[forward]]
service = "dovecot-auth"
listen = "0.0.0.0:3659"
peer = "office"
[[forward]]
service = "lmtp"
listen = "[::]:24"
peer = "office"
[[forward]]
service = "relay"
listen = "192.0.2.7:2525"
peer = "office"
[[forward]]
service = "spamd"
protocol = "tcp"
listen = "0.0.0.0:10024"
peer = "office"
[[forward]]
service = "lmtp-backup"
protocol = "lmtp"
listen = "0.0.0.0:10025"
peer = "office"
)";
  const auto list = errors("vps.toml", text);
  expect_error(list, "vps.toml", text, "0.0.0.0:3659", "forward[0].listen",
               "0.0.0.0:3659 is not a loopback address, and Dovecot's auth protocol trusts its client: anyone on "
               "the network could query Dovecot's passwords; expected a loopback address such as "
               "\"127.0.0.1:3659\", or allow_public = true in this [[forward]] if a firewall keeps the network out");
  expect_error(list, "vps.toml", text, "[::]:24", "forward[1].listen", "deliver straight into the peer's mailboxes");
  expect_error(list, "vps.toml", text, "192.0.2.7:2525", "forward[2].listen", "open relay");
  expect_error(list, "vps.toml", text, "0.0.0.0:10024", "forward[3].listen", "protocol tcp gives no guarantee");
  expect_error(list, "vps.toml", text, "0.0.0.0:10025", "forward[4].listen", "mailboxes");
  EXPECT_EQ(list.size(), 5U);
}

TEST_F(ConfigTest, AllowPublicLetsAnUnauthenticatedForwardListenOffLoopback) {
  const std::string text = exposure_head + R"([[forward]]
service = "dovecot-auth"
listen = "0.0.0.0:3659"
peer = "office"
allow_public = true
[[forward]]
service = "lmtp"
listen = "127.0.0.2:24"
peer = "office"
[[forward]]
service = "imap"
listen = "0.0.0.0:143"
peer = "office"
[[forward]]
service = "submission"
listen = "[::]:587"
peer = "office"
)";
  const Config config = load("vps.toml", text);
  ASSERT_EQ(config.forwards.size(), 4U);
  EXPECT_TRUE(config.forwards[0].allow_public);
  EXPECT_FALSE(config.forwards[1].allow_public);  // loopback needs no opt-in
  EXPECT_FALSE(config.forwards[2].allow_public);  // IMAP authenticates its users itself

  const std::string wrong_type = exposure_head + "[[forward]]\nservice = \"lmtp\"\nlisten = \"0.0.0.0:24\"\n"
                                                 "peer = \"office\"\nallow_public = \"yes\"\n";
  const auto list = errors("vps.toml", wrong_type);
  expect_error(list, "vps.toml", wrong_type, "\"yes\"", "forward[0].allow_public", "expected true or false");
  // A value that is not true does not opt in.
  expect_error(list, "vps.toml", wrong_type, "0.0.0.0:24", "forward[0].listen", "is not a loopback address");
}

TEST_F(ConfigTest, MetricsListenIsAListenerLikeTheOthers) {
  const std::string text = exposure_head + "metrics_listen = \"127.0.0.1:9424\"\n";
  // exposure_head ends inside [[peer]]: put the key in [interface] instead.
  std::string in_interface = exposure_head;
  in_interface.insert(in_interface.find("[[peer]]"), "metrics_listen = \"127.0.0.1:9424\"\n");
  const Config config = load("vps.toml", in_interface);
  ASSERT_TRUE(config.interface.metrics_listen);
  EXPECT_EQ(config.interface.metrics_listen->to_string(), "127.0.0.1:9424");

  const auto misplaced = errors("vps.toml", text);
  expect_error(misplaced, "vps.toml", text, "9424", "peer[0].metrics_listen", "it belongs in [interface]");

  std::string clashing = exposure_head;
  clashing.insert(clashing.find("[[peer]]"), "metrics_listen = \"127.0.0.1:7424\"\n");
  clashing += "[[forward]]\nservice = \"lmtp\"\nlisten = \"127.0.0.1:24\"\npeer = \"office\"\n"
              "[[forward]]\nservice = \"imap\"\nlisten = \"0.0.0.0:7424\"\npeer = \"office\"\n";
  const auto list = errors("vps.toml", clashing);
  expect_error(list, "vps.toml", clashing, "127.0.0.1:7424", "interface.metrics_listen",
               "127.0.0.1:7424 clashes with 0.0.0.0:7424 of interface.listen (line 3)");
  expect_error(list, "vps.toml", clashing, "listen = \"0.0.0.0:7424\"\npeer", "forward[1].listen",
               "clashes with 0.0.0.0:7424 of interface.listen");

  std::string bad = exposure_head;
  bad.insert(bad.find("[[peer]]"), "metrics_listen = \"localhost:9424\"\n");
  expect_error(errors("vps.toml", bad), "vps.toml", bad, "localhost", "interface.metrics_listen",
               "\"localhost\" is not an IP address");
}

TEST_F(ConfigTest, ControlSocketDefaultsToRunMailtunAndRelativePathsFollowTheFile) {
  EXPECT_EQ(load("edge.toml", exposure_head).interface.control_socket, fs::path("/run/mailtun/edge.sock"));
  std::string named = exposure_head;
  named.insert(named.find("private_key_file"), "name = \"vps2\"\n");
  EXPECT_EQ(load("vps.toml", named).interface.control_socket, fs::path("/run/mailtun/vps2.sock"));
  std::string relative = exposure_head;
  relative.insert(relative.find("[[peer]]"), "control_socket = \"run/vps.sock\"\n");
  EXPECT_EQ(load("vps.toml", relative).interface.control_socket, dir_ / "run" / "vps.sock");
}

/// Sets CREDENTIALS_DIRECTORY for one test, as systemd does for a unit with LoadCredential=.
class CredentialsDirectory {
 public:
  explicit CredentialsDirectory(const fs::path& dir) { ::setenv("CREDENTIALS_DIRECTORY", dir.c_str(), 1); }
  ~CredentialsDirectory() { ::unsetenv("CREDENTIALS_DIRECTORY"); }
  CredentialsDirectory(const CredentialsDirectory&) = delete;
  CredentialsDirectory& operator=(const CredentialsDirectory&) = delete;
};

TEST_F(ConfigTest, KeyFilesAreReadFromSystemdCredentialsOfTheSameName) {
  // The configured paths do not exist here: only the credentials can be read.
  fs::create_directory(dir_ / "credentials");
  fs::copy_file(dir_ / "vps.key", dir_ / "credentials" / "vps.key");
  fs::copy_file(dir_ / "office.psk", dir_ / "credentials" / "office.psk");
  const std::string text = R"([interface]
private_key_file = "/nonexistent/mailtun/vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
preshared_key_file = "/nonexistent/mailtun/office.psk"
)";
  const CredentialsDirectory credentials(dir_ / "credentials");
  const Config config = load("vps.toml", text);
  EXPECT_TRUE(same_bytes(config.interface.private_key.bytes(), vps_key_.bytes()));
  EXPECT_TRUE(same_bytes(config.peers[0].psk.bytes(), psk_.bytes()));

  // systemd's ACL for the service user shows as group bits: accepted. Open to others: refused, and
  // named with both the credential and the configured path.
  fs::permissions(dir_ / "credentials" / "vps.key", fs::perms::group_read, fs::perm_options::add);
  EXPECT_NO_THROW((void)load("vps.toml", text));
  fs::permissions(dir_ / "credentials" / "vps.key", fs::perms::others_read, fs::perm_options::add);
  const auto list = errors("vps.toml", text);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", text, "vps.key", "interface.private_key_file",
               "credential vps.key (" + (dir_ / "credentials" / "vps.key").string() +
                   ", in place of /nonexistent/mailtun/vps.key) is open to others (mode 0644)");
}

TEST_F(ConfigTest, PeerSideConfigToleratesKeyFilesThatAreNotHere) {
  const std::string text = R"([interface]
private_key_file = "elsewhere/office.key"
[[peer]]
name = "vps"
public_key = "{VPS_PUBLIC}"
preshared_key_file = "elsewhere/office.psk"
endpoint = "vps.example.org:7424"
)";
  const PeerSideConfig loaded = load_peer_side_config(write_file("office.toml", filled(text)));
  ASSERT_TRUE(loaded.private_key_unread);
  EXPECT_NE(loaded.private_key_unread->find("elsewhere/office.key: no such file"), std::string::npos)
      << *loaded.private_key_unread;
  EXPECT_EQ(loaded.psk_unread, std::vector<std::string>{"vps"});
  EXPECT_EQ(loaded.config.peers[0].public_key, vps_key_.public_key());
  // The same file is an error for the endpoint itself.
  EXPECT_EQ(errors("office.toml", text).size(), 2U);

  // Every other problem is still an error.
  EXPECT_THROW((void)load_peer_side_config(write_file("bad.toml", filled(text + "[[forward]]\nservice = \"lmtp\"\n"))),
               ConfigError);
}

TEST_F(ConfigTest, ServiceWithoutDefaultProtocolNeedsOne) {
  const std::string text = R"([interface]
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
[[forward]]
service = "spamd"
listen = "127.0.0.1:10024"
peer = "office"
)";
  const auto list = errors("vps.toml", text);
  ASSERT_EQ(list.size(), 1U);
  expect_error(list, "vps.toml", text, "spamd", "forward[0].protocol",
               "service \"spamd\" has no default protocol; expected protocol = ");

  const Config config = load("vps.toml", text + "protocol = \"smtp\"\n");
  EXPECT_EQ(config.forwards[0].protocol, Protocol::smtp);

  const auto bad = errors("vps.toml", text + "protocol = \"http\"\n");
  expect_error(bad, "vps.toml", text + "protocol = \"http\"\n", "http", "forward[0].protocol",
               "\"http\" is not a protocol; expected one of lmtp, smtp");
}

TEST_F(ConfigTest, ProxyProtocolValues) {
  std::string text = vps_example;
  text.replace(text.find("# proxy_protocol = \"v2\""), 23, "proxy_protocol = \"v1\"");
  EXPECT_EQ(load("vps.toml", text).exposes[0].proxy_protocol, forwarder::ProxyVersion::v1);
  text.replace(text.find("\"v1\""), 4, "\"v3\"");
  expect_error(errors("vps.toml", text), "vps.toml", text, "v3", "expose[0].proxy_protocol",
               "\"v3\" is not a PROXY protocol version; expected \"v1\", \"v2\" or \"none\"");
}

TEST_F(ConfigTest, InterfaceNameDefaultsToAValidStemOnly) {
  std::string text = vps_example;
  text.erase(text.find("name = \"vps\""), 12);
  EXPECT_EQ(load("edge-1.toml", text).interface.name, "edge-1");
  const auto list = errors("my vps.toml", text);
  expect_error(list, "my vps.toml", text, "[interface]", "interface.name", "\"my vps\" cannot serve as the default");
}

TEST_F(ConfigTest, PrivateKeyNeverAppearsInErrors) {
  // The private key in every place a careless edit could put it, among other mistakes.
  const std::string text = R"([interface]
private_key = "{VPS_PRIVATE}"
listen = "0.0.0.0:7424"
privatekey = "{VPS_PRIVATE}"
[[peer]]
name = "office"
public_key = "{VPS_PRIVATE}"
preshared_key = "{VPS_PRIVATE}x"
private_key = "{VPS_PRIVATE}"
endpoint = "{VPS_PRIVATE}"
[[expose]]
service = "{VPS_PRIVATE}"
target = "127.0.0.1:8080"
peers = ["office"]
)";
  const auto list = errors("vps.toml", text, 0640);
  EXPECT_GE(list.size(), 6U);
  const std::string fragment = vps_private_.substr(4, 20);
  for (const std::string& error : list) EXPECT_EQ(error.find(fragment), std::string::npos) << error;

  // A syntax error on the key's own line (the quotes forgotten), and a key cut short.
  const std::string unquoted = "[interface]\nprivate_key = {VPS_PRIVATE}\n";
  for (const std::string& error : errors("vps.toml", unquoted)) {
    EXPECT_EQ(error.find(fragment), std::string::npos) << error;
  }
  const std::string shortened = "[interface]\nprivate_key = \"" + vps_private_.substr(0, 43) + "\"\n";
  for (const std::string& error : errors("vps.toml", shortened)) {
    EXPECT_EQ(error.find(fragment), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace mailtun::cli
