// `mailtun check` run in-process, with pipes for its output: the summary of a valid configuration,
// exit code 2 with every error for an invalid one, and --probe against loopback servers started
// here that greet (or do not) the way Postfix and Dovecot do.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "keys/base64.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"
#include "tests/support/command_runner.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;

using Result = testing::CommandResult;

Result run(const std::vector<std::string>& args) { return testing::run_command(register_check_command, args); }

/// A TCP server on 127.0.0.1 (port chosen by the kernel) for one connection: it reads `expect`
/// bytes if asked to, or a line if `expect_line` (a PROXY header), records them, writes `greeting`
/// and waits for the client to hang up. Every wait is bounded, so a test that never connects still
/// ends.
class GreetingServer {
 public:
  explicit GreetingServer(std::string greeting, std::size_t expect = 0, bool expect_line = false)
      : greeting_(std::move(greeting)), expect_(expect_line ? 108 : expect), expect_line_(expect_line) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~GreetingServer() {
    thread_.join();
    ::close(fd_);
  }
  GreetingServer(const GreetingServer&) = delete;
  GreetingServer& operator=(const GreetingServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// What the client sent before the greeting; read only after the command has run.
  [[nodiscard]] const std::string& received() const { return received_; }

 private:
  static bool wait(int fd, int timeout_ms) {
    pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
    return ::poll(&entry, 1, timeout_ms) == 1;
  }

  void serve() {
    if (!wait(fd_, 10'000)) return;
    const int client = ::accept(fd_, nullptr, nullptr);
    if (client < 0) return;
    while (received_.size() < expect_ && !(expect_line_ && received_.ends_with('\n')) && wait(client, 5'000)) {
      std::array<char, 1> buffer{};  // a byte at a time, so as not to read past a line
      const ssize_t n = ::recv(client, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      received_.append(buffer.data(), static_cast<std::size_t>(n));
    }
    if (!greeting_.empty()) (void)::send(client, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
    // Until the probe hangs up (it reads one line at most, then closes).
    std::array<char, 64> buffer{};
    while (wait(client, 10'000) && ::recv(client, buffer.data(), buffer.size(), 0) > 0) {
    }
    ::close(client);
  }

  std::string greeting_;
  std::size_t expect_;  // 108: the longest PROXY v1 line
  bool expect_line_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string received_;
  std::thread thread_;
};

/// A socket bound to 127.0.0.1 on a port the kernel chose, listening if asked: a port to use that
/// no other test takes meanwhile, or one that is taken.
class BoundPort {
 public:
  explicit BoundPort(bool listening) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
    if (listening) {
      EXPECT_EQ(::listen(fd_, 1), 0);
    }
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
  }
  ~BoundPort() { release(); }
  BoundPort(const BoundPort&) = delete;
  BoundPort& operator=(const BoundPort&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  void release() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

/// A port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port() { return BoundPort(false).port(); }

class CheckCommandTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    keys::write_key_file(dir_ / "vps.key", keys::to_base64(vps_key_.bytes()) + "\n");
    office_public_ = keys::to_base64(office_key_.public_key().bytes());
  }

  /// Writes a configuration of the VPS with `exposes` appended and returns its path. Its listeners
  /// take tunnel_port_ and lmtp_port_, free ports, so that --probe can bind them.
  std::string config(const std::string& exposes) {
    const std::string text = "[interface]\nname = \"vps\"\nprivate_key_file = \"vps.key\"\nlisten = \"0.0.0.0:" +
                             std::to_string(tunnel_port_) + "\"\n[[peer]]\nname = \"office\"\npublic_key = \"" +
                             office_public_ + "\"\n[[forward]]\nservice = \"lmtp\"\nlisten = \"127.0.0.1:" +
                             std::to_string(lmtp_port_) + "\"\npeer = \"office\"\n" + exposes;
    return write("vps.toml", text);
  }

  /// Writes `text` to `name` in the test directory (mode 0600) and returns its path.
  std::string write(const std::string& name, const std::string& text) {
    return write_file(name, text).string();
  }

  static std::string expose(const std::string& service, std::uint16_t port, const std::string& extra = "") {
    return "[[expose]]\nservice = \"" + service + "\"\ntarget = \"127.0.0.1:" + std::to_string(port) +
           "\"\npeers = [\"office\"]\nallow_any_port = true\n" + extra;
  }

  keys::PrivateKey vps_key_ = keys::PrivateKey::generate();
  keys::PrivateKey office_key_ = keys::PrivateKey::generate();
  std::string office_public_;
  std::uint16_t tunnel_port_ = free_port();
  std::uint16_t lmtp_port_ = free_port();
};

TEST_F(CheckCommandTest, ValidConfigurationPrintsASummary) {
  const Result r = run({"check", "--config", config(expose("relay", 10025))});
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("interface vps: public key " + keys::to_base64(vps_key_.public_key().bytes()) +
                       ", listens on 0.0.0.0:" + std::to_string(tunnel_port_) +
                       ", control socket /run/mailtun/vps.sock\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("peer office: accepts; public key " + office_public_ + ", no preshared key"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("forward lmtp: 127.0.0.1:" + std::to_string(lmtp_port_) + " -> peer office (lmtp)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("expose relay: peer office -> 127.0.0.1:10025 (smtp, allow_any_port)"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find(keys::to_base64(vps_key_.bytes())), std::string::npos);  // never the private key
}

TEST_F(CheckCommandTest, DialingPeerShowsItsEndpoint) {
  const std::string text = "[interface]\nprivate_key_file = \"vps.key\"\n[[peer]]\nname = \"vps\"\npublic_key = \"" +
                           office_public_ + "\"\nendpoint = \"vps.example.org:7424\"\n";
  const Result r = run({"check", "--config", write("office.toml", text)});
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_NE(r.out.find("interface office: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", does not listen"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peer vps: dials vps.example.org:7424;"), std::string::npos) << r.out;
}

TEST_F(CheckCommandTest, InvalidConfigurationExitsTwoWithEveryError) {
  const std::string path = config(
      "[[expose]]\nservice = \"web\"\nprotocol = \"tcp\"\ntarget = \"127.0.0.1:8080\"\npeers = [\"ofice\"]\n");
  const Result r = run({"check", "--config", path});
  ASSERT_EQ(r.failure, ExitCode::usage);
  EXPECT_NE(r.message.find(path + ":15: expose[0].target: port 8080 is not a mail port"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(path + ":16: expose[0].peers[0]: \"ofice\" is not the name of any [[peer]]"),
            std::string::npos)
      << r.message;
  EXPECT_EQ(r.out, "");
}

TEST_F(CheckCommandTest, MissingConfigOptionIsAUsageError) {
  CLI::App app{"mailtun", "mailtun"};
  register_check_command(app, Io{});
  EXPECT_THROW(app.parse(std::vector<std::string>{"check"}), CLI::RequiredError);
}

TEST_F(CheckCommandTest, ProbePrintsTheGreeting) {
  GreetingServer relay("220 office.example ESMTP Postfix\r\n");
  const Result r = run({"check", "--config", config(expose("relay", relay.port())), "--probe"});
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_NE(r.out.find("expose relay -> 127.0.0.1:" + std::to_string(relay.port()) +
                       ": 220 office.example ESMTP Postfix\n"),
            std::string::npos)
      << r.out;
}

TEST_F(CheckCommandTest, ProbeShowsOnlyTheFirstLineOfADovecotAuthHandshake) {
  GreetingServer auth("VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t4242\nCUID\t7\n"
                      "COOKIE\t0123456789abcdef0123456789abcdef\nDONE\n");
  const Result r = run({"check", "--config", config(expose("dovecot-auth", auth.port())), "--probe"});
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_NE(r.out.find("expose dovecot-auth -> 127.0.0.1:" + std::to_string(auth.port()) + ": VERSION 1 2\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("MECH"), std::string::npos) << r.out;
}

TEST_F(CheckCommandTest, ProbeSanitisesControlCharacters) {
  GreetingServer relay("220 evil\x1b[2J\x07 \xc3\xa9\r\n");
  const Result r = run({"check", "--config", config(expose("relay", relay.port())), "--probe"});
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_NE(r.out.find(": 220 evil?[2J? ??\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST_F(CheckCommandTest, ProbeCatchesATargetSpeakingAnotherProtocol) {
  GreetingServer auth("VERSION\t1\t2\nDONE\n");  // Dovecot auth where LMTP was meant
  const Result r = run({"check", "--config", config(expose("lmtp", auth.port())), "--probe"});
  ASSERT_EQ(r.failure, ExitCode::failure);
  EXPECT_NE(r.out.find(": VERSION 1 2 (expected an LMTP greeting"), std::string::npos) << r.out;
  EXPECT_NE(r.message.find("1 of 1 expose targets failed"), std::string::npos) << r.message;
}

TEST_F(CheckCommandTest, ProbeSendsAProxyHealthCheckHeaderFirst) {
  constexpr std::string_view v2_local("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
  GreetingServer imap("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", v2_local.size());
  const Result r = run({"check", "--config", config(expose("imap", imap.port(), "proxy_protocol = \"v2\"\n")), "--probe"});
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(imap.received(), v2_local);
  EXPECT_NE(r.out.find(": * OK [CAPABILITY IMAP4rev1] Dovecot ready.\n"), std::string::npos) << r.out;
}

TEST_F(CheckCommandTest, ProbeSendsAProxyV1LineDescribingItsOwnConnection) {
  GreetingServer smtp("220 office.example ESMTP\r\n", 0, true);
  const Result r = run({"check", "--config", config(expose("submission", smtp.port(), "proxy_protocol = \"v1\"\n")), "--probe"});
  ASSERT_FALSE(r.failure) << r.message;
  // Postfix refuses "PROXY UNKNOWN", so the line names real addresses.
  const std::string prefix = "PROXY TCP4 127.0.0.1 127.0.0.1 ";
  EXPECT_TRUE(smtp.received().starts_with(prefix)) << smtp.received();
  EXPECT_TRUE(smtp.received().ends_with(" " + std::to_string(smtp.port()) + "\r\n")) << smtp.received();
  EXPECT_NE(r.out.find(": 220 office.example ESMTP\n"), std::string::npos) << r.out;
}

TEST_F(CheckCommandTest, ProbeReportsConnectionRefused) {
  // A bound socket that does not listen: connections to its port are refused, and no other test
  // can take the port meanwhile.
  const BoundPort refusing(false);
  const std::uint16_t port = refusing.port();

  GreetingServer relay("220 ok\r\n");
  const Result r = run({"check", "--config", config(expose("lmtp", port) + expose("relay", relay.port())), "--probe"});
  ASSERT_EQ(r.failure, ExitCode::failure);
  EXPECT_NE(r.out.find("expose lmtp -> 127.0.0.1:" + std::to_string(port) + ": connection refused\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("expose relay -> 127.0.0.1:" + std::to_string(relay.port()) + ": 220 ok\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.message.find("1 of 2 expose targets failed"), std::string::npos) << r.message;
}

TEST_F(CheckCommandTest, ProbeReportsASilentServerAfterTheTimeout) {
  GreetingServer silent("");
  const auto start = std::chrono::steady_clock::now();
  const Result r = run({"check", "--config", config(expose("relay", silent.port())), "--probe"});
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.failure, ExitCode::failure);
  EXPECT_NE(r.out.find(": connected, but no greeting within 3 s"), std::string::npos) << r.out;
  EXPECT_GE(waited, std::chrono::milliseconds(2900));
  EXPECT_LT(waited, std::chrono::seconds(6));
}

TEST_F(CheckCommandTest, SummaryShowsAllowPublicAndMetricsAndWarnsWhenMetricsArePublic) {
  const std::string path = config("[[forward]]\nservice = \"dovecot-auth\"\nlisten = \"0.0.0.0:3659\"\npeer = \"office\"\n"
                                  "allow_public = true\n");
  const Result quiet = run({"check", "--config", path});
  ASSERT_FALSE(quiet.failure) << quiet.message;
  EXPECT_NE(quiet.out.find("forward dovecot-auth: 0.0.0.0:3659 -> peer office (sasl, allow_public)\n"), std::string::npos)
      << quiet.out;
  EXPECT_EQ(quiet.err, "");

  std::string text = "[interface]\nprivate_key_file = \"vps.key\"\nlisten = \"0.0.0.0:7424\"\n"
                     "metrics_listen = \"0.0.0.0:9424\"\n[[peer]]\nname = \"office\"\npublic_key = \"" +
                     office_public_ + "\"\n";
  const Result warned = run({"check", "--config", write("vps.toml", text)});
  ASSERT_FALSE(warned.failure) << warned.message;
  EXPECT_NE(warned.out.find(", metrics on 0.0.0.0:9424\n"), std::string::npos) << warned.out;
  EXPECT_EQ(warned.err,
            "warning: interface.metrics_listen 0.0.0.0:9424 is not a loopback address: anyone who can reach it reads "
            "the counters (peer names, endpoints, traffic); listen on 127.0.0.1 unless a firewall keeps the network "
            "out\n");

  text.replace(text.find("0.0.0.0:9424"), 12, "127.0.0.1:9424");
  EXPECT_EQ(run({"check", "--config", write("vps.toml", text)}).err, "");
}

TEST_F(CheckCommandTest, ProbeBindsEveryListenerAndReportsOneInUse) {
  GreetingServer relay("220 ok\r\n");
  const BoundPort taken(true);  // as if Dovecot's own LMTP listened where the forward should
  lmtp_port_ = taken.port();
  const Result r = run({"check", "--config", config(expose("relay", relay.port())), "--probe"});
  ASSERT_EQ(r.failure, ExitCode::failure);
  EXPECT_NE(r.out.find("listen 0.0.0.0:" + std::to_string(tunnel_port_) + " (interface): free\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("listen 127.0.0.1:" + std::to_string(taken.port()) +
                       " (forward lmtp): address in use; is another program (Dovecot's or Postfix's own listener? "
                       "another mailtun?) listening there?\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.message, "mailtun check: 1 of 2 listen addresses cannot be bound");
}

TEST_F(CheckCommandTest, ProbeReleasesWhatItBinds) {
  GreetingServer relay("220 ok\r\n");
  const Result r = run({"check", "--config", config(expose("relay", relay.port())), "--probe"});
  ASSERT_FALSE(r.failure) << r.message << r.out;
  EXPECT_NE(r.out.find("(forward lmtp): free\n"), std::string::npos) << r.out;
  // Nothing of the probe holds the port afterwards: it can be taken at once.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(lmtp_port_);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  ::close(fd);
}

TEST_F(CheckCommandTest, PeerConfigOfAMatchingPairExitsZero) {
  keys::write_key_file(dir_ / "office.key", keys::to_base64(office_key_.bytes()) + "\n");
  const std::string vps = config("");
  const std::string office = write("office.toml", "[interface]\nprivate_key_file = \"office.key\"\n[[peer]]\nname = "
                                                  "\"vps\"\npublic_key = \"" +
                                                      keys::to_base64(vps_key_.public_key().bytes()) +
                                                      "\"\nendpoint = \"vps.example.org:" +
                                                      std::to_string(tunnel_port_) +
                                                      "\"\n[[expose]]\nservice = \"lmtp\"\ntarget = "
                                                      "\"127.0.0.1:24\"\npeers = [\"vps\"]\n");
  const Result r = run({"check", "--config", vps, "--peer-config", office});
  ASSERT_FALSE(r.failure) << r.message << r.out;
  EXPECT_NE(r.out.find("ok: " + vps + ": [[peer]] \"office\" has the public key of " + office + "\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("ok: " + office + " dials " + vps + " at vps.example.org:" + std::to_string(tunnel_port_)),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("mismatch"), std::string::npos) << r.out;
}

TEST_F(CheckCommandTest, PeerConfigMismatchIsAConfigurationError) {
  // The office's file names a key that is not the VPS's, and its private key is not on this machine.
  const std::string vps = config("");
  const std::string office = write("office.toml", "[interface]\nprivate_key_file = \"/nonexistent/office.key\"\n"
                                                  "[[peer]]\nname = \"vps\"\npublic_key = \"" +
                                                      office_public_ + "\"\nendpoint = \"vps.example.org:7425\"\n");
  const Result r = run({"check", "--config", vps, "--peer-config", office});
  ASSERT_EQ(r.failure, ExitCode::usage) << r.out;
  EXPECT_NE(r.out.find("not checked: " + vps + ": whether a [[peer]] has the public key of " + office +
                       ", whose private key cannot be read here: /nonexistent/office.key: no such file"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("mismatch: " + office + ": no [[peer]] has the public key of " + vps), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mismatch: " + vps + ": forward lmtp (127.0.0.1:" + std::to_string(lmtp_port_) + "): " + office +
                       " exposes no service \"lmtp\""),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.message, "mailtun check: 3 mismatches between " + vps + " and " + office);
}

}  // namespace
}  // namespace mailtun::cli
