// What `mailtun init` writes and prints, checked without running it: each role's configuration
// loads with the project's own loader and wires the two situations of DESIGN §2; the placeholder
// form is refused with a message that says to paste the other side's key; and the Postfix and
// Dovecot lines name exactly the ports the configuration uses.

#include "cli/init_plan.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/config.hpp"
#include "keys/base64.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;
using forwarder::Protocol;

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

const Snippet& snippet(const InitPlan& plan, std::string_view title) {
  const auto it = std::ranges::find(plan.snippets, title, &Snippet::title);
  EXPECT_NE(it, plan.snippets.end()) << title;
  return *it;
}

const Forward& forward(const Config& config, std::string_view service) {
  const auto it = std::ranges::find(config.forwards, service, &Forward::service);
  EXPECT_NE(it, config.forwards.end()) << service;
  return *it;
}

const Expose& expose(const Config& config, std::string_view service) {
  const auto it = std::ranges::find(config.exposes, service, &Expose::service);
  EXPECT_NE(it, config.exposes.end()) << service;
  return *it;
}

std::string port_of(const SocketAddress& address) { return std::to_string(address.port); }
std::string port_of(const HostPort& address) { return std::to_string(address.port); }

// Each test gets a directory for the private keys the configurations name (the loader reads them).
class InitPlanTest : public testing::TempDirTest {
 protected:
  /// The plan for `options` (in this test's directory), with its private key written.
  InitPlan plan(InitOptions options, const keys::PrivateKey& key) {
    options.dir = dir_;
    auto result = plan_init(options);
    EXPECT_TRUE(result) << result.error();
    keys::write_key_file(result->key_path, keys::to_base64(key.bytes()) + "\n");
    return std::move(*result);
  }

  static InitOptions vps_options(std::optional<std::string> peer_key) {
    return InitOptions{.role = Role::vps, .peer_public_key = std::move(peer_key)};
  }
  static InitOptions office_options(std::optional<std::string> peer_key) {
    return InitOptions{.role = Role::office, .peer_public_key = std::move(peer_key), .endpoint = "vps.example.org:7424"};
  }

  keys::PrivateKey vps_key_ = keys::PrivateKey::generate();
  keys::PrivateKey office_key_ = keys::PrivateKey::generate();
  std::string vps_public_ = keys::to_base64(vps_key_.public_key().bytes());
  std::string office_public_ = keys::to_base64(office_key_.public_key().bytes());
};

TEST_F(InitPlanTest, VpsConfigurationLoadsAndWiresLmtpAuthAndRelay) {
  const InitPlan p = plan(vps_options(office_public_), vps_key_);
  EXPECT_EQ(p.key_path, dir_ / "vps.key");
  EXPECT_EQ(p.config_path, dir_ / "vps.toml");
  EXPECT_FALSE(p.placeholder_line);

  const Config config = parse_config(p.config_text, p.config_path);
  EXPECT_EQ(config.interface.name, "vps");
  EXPECT_EQ(config.interface.private_key.public_key(), vps_key_.public_key());
  ASSERT_TRUE(config.interface.listen);
  EXPECT_EQ(config.interface.listen->to_string(), "0.0.0.0:7424");
  ASSERT_EQ(config.peers.size(), 1u);
  EXPECT_EQ(config.peers[0].name, "office");
  EXPECT_EQ(config.peers[0].public_key, office_key_.public_key());
  EXPECT_FALSE(config.peers[0].endpoint) << "the VPS waits for the office to dial";

  ASSERT_EQ(config.forwards.size(), 2u);
  EXPECT_EQ(forward(config, "lmtp").listen.to_string(), "127.0.0.1:24");
  EXPECT_EQ(forward(config, "lmtp").protocol, Protocol::lmtp);
  EXPECT_EQ(forward(config, "dovecot-auth").listen.to_string(), "127.0.0.1:3659");
  EXPECT_EQ(forward(config, "dovecot-auth").protocol, Protocol::sasl);
  for (const Forward& f : config.forwards) EXPECT_EQ(f.peers, std::vector<std::string>{"office"});
  ASSERT_EQ(config.exposes.size(), 1u);
  EXPECT_EQ(expose(config, "relay").target.to_string(), "127.0.0.1:10025");
  EXPECT_EQ(expose(config, "relay").peers, std::vector<std::string>{"office"});
}

TEST_F(InitPlanTest, OfficeConfigurationLoadsAndMirrorsTheVps) {
  const InitPlan p = plan(office_options(vps_public_), office_key_);
  const Config config = parse_config(p.config_text, p.config_path);
  EXPECT_EQ(config.interface.name, "office");
  EXPECT_FALSE(config.interface.listen) << "the office has no inbound port at all";
  ASSERT_EQ(config.peers.size(), 1u);
  EXPECT_EQ(config.peers[0].name, "vps");
  EXPECT_EQ(config.peers[0].public_key, vps_key_.public_key());
  ASSERT_TRUE(config.peers[0].endpoint);
  EXPECT_EQ(config.peers[0].endpoint->to_string(), "vps.example.org:7424");

  ASSERT_EQ(config.exposes.size(), 2u);
  EXPECT_EQ(expose(config, "lmtp").target.to_string(), "127.0.0.1:24");
  EXPECT_EQ(expose(config, "dovecot-auth").target.to_string(), "127.0.0.1:3659");
  for (const Expose& e : config.exposes) EXPECT_EQ(e.peers, std::vector<std::string>{"vps"});
  ASSERT_EQ(config.forwards.size(), 1u);
  EXPECT_EQ(forward(config, "relay").listen.to_string(), "127.0.0.1:2525");
  EXPECT_EQ(forward(config, "relay").peers, std::vector<std::string>{"vps"});
  EXPECT_EQ(forward(config, "relay").protocol, Protocol::smtp);
}

TEST_F(InitPlanTest, EachForwardHasAnExposeOfTheSameServiceOnTheOtherSide) {
  const Config vps = parse_config(plan(vps_options(office_public_), vps_key_).config_text, dir_ / "vps.toml");
  const Config office = parse_config(plan(office_options(vps_public_), office_key_).config_text, dir_ / "office.toml");
  for (const Forward& f : vps.forwards) EXPECT_EQ(expose(office, f.service).service, f.service);
  for (const Forward& f : office.forwards) EXPECT_EQ(expose(vps, f.service).service, f.service);
  EXPECT_EQ(office.peers[0].endpoint->port, vps.interface.listen->port);
}

TEST_F(InitPlanTest, NamesFlagsAndListenAreHonoured) {
  InitOptions options = vps_options(office_public_);
  options.name = "mx1";
  options.peer_name = "hq";
  options.listen = "192.0.2.7:443";
  const InitPlan p = plan(options, vps_key_);
  EXPECT_EQ(p.config_path, dir_ / "mx1.toml");
  EXPECT_EQ(p.key_path, dir_ / "mx1.key");
  const Config config = parse_config(p.config_text, p.config_path);
  EXPECT_EQ(config.interface.name, "mx1");
  EXPECT_EQ(config.interface.listen->to_string(), "192.0.2.7:443");
  EXPECT_EQ(config.peers[0].name, "hq");
  for (const Forward& f : config.forwards) EXPECT_EQ(f.peers, std::vector<std::string>{"hq"});
  // A listener on one address tells the office exactly where to dial.
  options.peer_public_key.reset();
  const auto waiting = plan_init(options);
  ASSERT_TRUE(waiting);
  EXPECT_NE(init_report(*waiting, vps_public_, "mode 0640").find("--endpoint 192.0.2.7:443 "), std::string::npos);
}

TEST_F(InitPlanTest, PlaceholderIsRefusedByTheLoaderWithWhatToPaste) {
  for (const Role role : {Role::vps, Role::office}) {
    SCOPED_TRACE(std::string(to_string(role)));
    const InitPlan p = role == Role::vps ? plan(vps_options(std::nullopt), vps_key_)
                                         : plan(office_options(std::nullopt), office_key_);
    ASSERT_TRUE(p.placeholder_line);
    const std::string peer = role == Role::vps ? "office" : "vps";
    try {
      (void)parse_config(p.config_text, p.config_path);
      ADD_FAILURE() << "a configuration with the placeholder loaded";
    } catch (const ConfigError& e) {
      ASSERT_EQ(e.errors().size(), 1u) << e.what();
      const std::string expected_start =
          p.config_path.string() + ":" + std::to_string(*p.placeholder_line) + ": peer[0].public_key: ";
      EXPECT_EQ(e.errors()[0].rfind(expected_start, 0), 0u) << e.what();
      EXPECT_NE(e.errors()[0].find("\"paste the public key of " + peer + " here\""), std::string::npos) << e.what();
    }
    // The line the report names is the line to change.
    const std::string report = init_report(p, "KEY", "mode 0640");
    EXPECT_NE(report.find(p.config_path.string() + " line " + std::to_string(*p.placeholder_line)), std::string::npos)
        << report;
  }
}

TEST_F(InitPlanTest, VpsPostfixLinesUseThePortsOfTheConfiguration) {
  const InitPlan p = plan(vps_options(office_public_), vps_key_);
  const Config config = parse_config(p.config_text, p.config_path);
  const std::string& main_cf = snippet(p, "postfix main.cf (vps)").body;
  const std::string& master_cf = snippet(p, "postfix master.cf (vps)").body;

  EXPECT_NE(main_cf.find("virtual_transport = lmtp:inet:127.0.0.1:" + port_of(forward(config, "lmtp").listen) + "\n"),
            std::string::npos);
  EXPECT_NE(main_cf.find("smtpd_sasl_type = dovecot\n"), std::string::npos);
  EXPECT_NE(main_cf.find("smtpd_sasl_path = inet:127.0.0.1:" + port_of(forward(config, "dovecot-auth").listen) + "\n"),
            std::string::npos);
  EXPECT_NE(main_cf.find("reject_unverified_recipient"), std::string::npos);
  EXPECT_NE(master_cf.find("\n127.0.0.1:" + port_of(expose(config, "relay").target) + " inet "), std::string::npos)
      << "the relay-only smtpd listens where the expose points";
  EXPECT_NE(master_cf.find("-o smtpd_sasl_auth_enable=yes"), std::string::npos);
  EXPECT_NE(master_cf.find("-o smtpd_tls_security_level=encrypt"), std::string::npos) << "AUTH only after STARTTLS";
  EXPECT_EQ(p.snippets.size(), 2u) << "the VPS has no Dovecot";
}

TEST_F(InitPlanTest, OfficeDovecotAndPostfixLinesUseThePortsOfTheConfiguration) {
  const InitPlan p = plan(office_options(vps_public_), office_key_);
  const Config config = parse_config(p.config_text, p.config_path);
  const std::string& dovecot = snippet(p, "dovecot conf.d/99-mailtun.conf (office)").body;
  const std::string& main_cf = snippet(p, "postfix main.cf (office)").body;

  const auto service_block = [&dovecot](std::string_view service) {
    const auto at = dovecot.find("service " + std::string(service) + " {");
    EXPECT_NE(at, std::string::npos) << service;
    return dovecot.substr(at, dovecot.find("\n}\n", at) - at);
  };
  for (const auto& [service, expose_name] : {std::pair{"lmtp", "lmtp"}, std::pair{"auth", "dovecot-auth"}}) {
    const std::string block = service_block(service);
    EXPECT_NE(block.find("address = 127.0.0.1\n"), std::string::npos) << "loopback only: " << block;
    EXPECT_NE(block.find("port = " + port_of(expose(config, expose_name).target) + "\n"), std::string::npos) << block;
  }
  EXPECT_EQ(count(dovecot, "address = "), 2u) << "no listener but the two loopback ones";
  EXPECT_NE(main_cf.find("relayhost = [127.0.0.1]:" + port_of(forward(config, "relay").listen) + "\n"),
            std::string::npos);
}

TEST_F(InitPlanTest, ReportLabelsTheKeyOnceAndEverySectionUnderAHeader) {
  const InitPlan p = plan(vps_options(std::nullopt), vps_key_);
  const std::string report = init_report(p, vps_public_, "mode 0640");
  EXPECT_EQ(count(report, "\npublic key of vps: " + vps_public_ + "\n"), 1u) << report;
  for (const std::string header : {"# --- public key (vps) ---", "# --- next steps (vps) ---",
                                   "# --- postfix main.cf (vps) ---", "# --- postfix master.cf (vps) ---"}) {
    EXPECT_EQ(count(report, "\n" + header + "\n"), 1u) << header;
  }
  // Each snippet follows its header verbatim, so a script can cut it out.
  for (const Snippet& s : p.snippets) EXPECT_NE(report.find(s.header() + "\n" + s.body), std::string::npos);
  EXPECT_NE(report.find("mailtun init --role office --endpoint VPS_ADDRESS:7424 --peer-public-key " + vps_public_),
            std::string::npos);
  EXPECT_NE(report.find("systemctl enable --now mailtun@vps\n"), std::string::npos);
  EXPECT_NE(report.find("mailtun check --config " + p.config_path.string() + "\n"), std::string::npos);
}

TEST_F(InitPlanTest, OfficeReportSaysWhereItsKeyGoesOnTheVps) {
  const InitPlan p = plan(office_options(vps_public_), office_key_);
  const std::string report = init_report(p, office_public_, "mode 0640");
  EXPECT_EQ(count(report, "\npublic key of office: " + office_public_ + "\n"), 1u) << report;
  // The VPS's placeholder, word for word, and the command for a VPS not yet set up.
  EXPECT_NE(report.find("\"" + peer_key_placeholder("office") + "\""), std::string::npos) << report;
  EXPECT_NE(report.find("mailtun init --role vps --peer-public-key " + office_public_ + "\n"), std::string::npos);
  EXPECT_NE(report.find("\n# --- dovecot conf.d/99-mailtun.conf (office) ---\n"), std::string::npos);
  EXPECT_NE(report.find("\n# --- postfix main.cf (office) ---\n"), std::string::npos);
  EXPECT_NE(report.find("systemctl enable --now mailtun@office\n"), std::string::npos);
  EXPECT_EQ(report.find("line "), std::string::npos) << "no placeholder to fill in here: " << report;
}

TEST_F(InitPlanTest, BadOptionsNameTheFlag) {
  const auto error = [](InitOptions options) {
    const auto result = plan_init(options);
    EXPECT_FALSE(result);
    return result ? std::string() : result.error();
  };
  EXPECT_EQ(error({.role = Role::office}).rfind("--role office needs --endpoint", 0), 0u);
  EXPECT_EQ(error({.role = Role::office, .endpoint = "vps.example.org"}).rfind("--endpoint: ", 0), 0u);
  EXPECT_EQ(error({.role = Role::office, .endpoint = "a:1", .listen = "0.0.0.0:1"}).rfind("--listen is for --role vps", 0), 0u);
  EXPECT_EQ(error({.role = Role::vps, .endpoint = "a:1"}).rfind("--endpoint is for --role office", 0), 0u);
  EXPECT_EQ(error({.role = Role::vps, .listen = "vps.example.org:7424"}).rfind("--listen: ", 0), 0u);
  EXPECT_EQ(error({.role = Role::vps, .peer_public_key = "not a key"}).rfind("--peer-public-key: ", 0), 0u);
  EXPECT_EQ(error({.role = Role::vps, .name = "../etc"}).rfind("--name \"../etc\": expected ", 0), 0u);
  EXPECT_EQ(error({.role = Role::vps, .peer_name = "a b"}).rfind("--peer-name ", 0), 0u);
  EXPECT_EQ(error({.role = Role::vps, .name = "office"}).rfind("--name and --peer-name are both", 0), 0u);
}

}  // namespace
}  // namespace mailtun::cli
