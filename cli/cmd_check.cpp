// `mailtun check --config FILE [--peer-config FILE] [--probe]` (DESIGN §8): validates a
// configuration as `mailtun up` would load it and prints what it would do. --peer-config
// cross-checks it with the other endpoint's file (cli/pair_check). --probe binds every listener
// of this endpoint (cli/bind_probe) and asks every expose target for its greeting, which catches
// the commonest mistakes of all: a port already taken, two targets swapped, or a server not
// listening where the file says.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/bind_probe.hpp"
#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/pair_check.hpp"
#include "cli/write_all.hpp"
#include "forwarder/proxy_header.hpp"
#include "keys/base64.hpp"

namespace mailtun::cli {

namespace {

using Clock = std::chrono::steady_clock;

/// How long a probe waits for the connection, and then again for the greeting. Local mail servers
/// answer in milliseconds; one that takes seconds would make Postfix time out too.
constexpr std::chrono::seconds probe_timeout{3};

/// The longest greeting line printed; the rest is cut.
constexpr std::size_t max_greeting_shown = 200;

struct Options {
  std::string config;
  std::string peer_config;
  bool probe = false;
};

/// strerror's text in lowercase, to read as part of a sentence ("connection refused").
std::string errno_text(int error) {
  std::string text = std::generic_category().message(error);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

// -----------------------------------------------------------------------------------------------
// The summary

std::string peer_role(const Config& config, const Peer& peer) {
  std::string role;
  if (peer.endpoint) role = "dials " + peer.endpoint->to_string();
  if (config.interface.listen) role += role.empty() ? "accepts" : " and accepts";
  return role;
}

std::string summary(const Config& config) {
  const Interface& interface = config.interface;
  std::string out = config.path.string() + ": ok\n";
  out += "interface " + interface.name + ": public key " + keys::to_base64(interface.private_key.public_key().bytes());
  out += interface.listen ? ", listens on " + interface.listen->to_string() : std::string(", does not listen");
  out += ", control socket " + interface.control_socket.string();
  if (interface.metrics_listen) out += ", metrics on " + interface.metrics_listen->to_string();
  out += '\n';
  for (const Peer& peer : config.peers) {
    const bool has_psk = sodium_is_zero(peer.psk.bytes().data(), peer.psk.bytes().size()) == 0;
    out += "peer " + peer.name + ": " + peer_role(config, peer) + "; public key " +
           keys::to_base64(peer.public_key.bytes()) + (has_psk ? ", preshared key" : ", no preshared key") +
           ", keepalive " + std::to_string(peer.keepalive.count()) + " s, up to " +
           std::to_string(peer.max_streams) + " streams\n";
  }
  for (const Forward& forward : config.forwards) {
    std::string peers;
    for (const std::string& name : forward.peers) peers += (peers.empty() ? "" : ", ") + name;
    out += "forward " + forward.service + ": " + forward.listen.to_string() + " -> " +
           (forward.peers.size() == 1 ? "peer " : "peers (in order) ") + peers + " (" +
           std::string(forwarder::to_string(forward.protocol)) + (forward.allow_public ? ", allow_public" : "") +
           ")\n";
  }
  for (const Expose& expose : config.exposes) {
    std::string peers;
    for (const std::string& name : expose.peers) peers += (peers.empty() ? "" : ", ") + name;
    out += "expose " + expose.service + ": peer " + peers + " -> " + expose.target.to_string() + " (" +
           std::string(forwarder::to_string(expose.protocol));
    if (expose.proxy_protocol) out += ", PROXY " + std::string(forwarder::to_string(*expose.proxy_protocol));
    if (expose.allow_any_port) out += ", allow_any_port";
    out += ")\n";
  }
  return out;
}

/// What the admin should know although the file is valid, one line each.
std::vector<std::string> warnings(const Config& config) {
  std::vector<std::string> lines;
  if (const auto& metrics = config.interface.metrics_listen; metrics && !metrics->is_loopback()) {
    lines.push_back("warning: interface.metrics_listen " + metrics->to_string() +
                    " is not a loopback address: anyone who can reach it reads the counters (peer names, "
                    "endpoints, traffic); listen on 127.0.0.1 unless a firewall keeps the network out");
  }
  return lines;
}

// -----------------------------------------------------------------------------------------------
// The probe

/// Owns a socket descriptor.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

/// poll() on one descriptor until `deadline`; returns poll's result (0 on timeout), retrying
/// after signals.
int poll_until(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd entry{.fd = fd, .events = events, .revents = 0};
    const int n = ::poll(&entry, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

/// Connects to one resolved address within probe_timeout; returns the socket or what went wrong.
tl::expected<Socket, std::string> connect_to(const addrinfo& address) {
  Socket socket(::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.ai_protocol));
  if (socket.get() < 0) return tl::unexpected("cannot create a socket: " + errno_text(errno));
  if (::connect(socket.get(), address.ai_addr, address.ai_addrlen) == 0) return socket;
  if (errno != EINPROGRESS) return tl::unexpected(errno_text(errno));
  const int ready = poll_until(socket.get(), POLLOUT, Clock::now() + probe_timeout);
  if (ready == 0) {
    return tl::unexpected("timeout: no answer to the connection attempt within " +
                          std::to_string(probe_timeout.count()) + " s");
  }
  if (ready < 0) return tl::unexpected("poll: " + errno_text(errno));
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return tl::unexpected(errno_text(error));
  return socket;
}

/// One end of a connected socket in the form a PROXY header is built from.
std::optional<tunnel::Address> socket_end(int fd, bool peer) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  if ((peer ? ::getpeername(fd, raw, &length) : ::getsockname(fd, raw, &length)) != 0) return std::nullopt;
  tunnel::Address end;
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    end.family = 4;
    std::memcpy(end.bytes.data(), &in->sin_addr, 4);
    end.port = ntohs(in->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    end.family = 6;
    std::memcpy(end.bytes.data(), &in6->sin6_addr, 16);
    end.port = ntohs(in6->sin6_port);
  } else {
    return std::nullopt;
  }
  return end;
}

/// The PROXY header a probe sends first to a target that expects one: without it Postfix and
/// Dovecot wait for a header and never greet. v2 has a command for exactly this, LOCAL ("not a
/// relayed client: use the connection's own addresses"), which is what unknown addresses give;
/// v1's equivalent, "PROXY UNKNOWN", is refused by Postfix, so a v1 probe describes its own
/// connection instead, which is the truth.
std::vector<std::uint8_t> probe_proxy_header(forwarder::ProxyVersion version, int fd) {
  if (version == forwarder::ProxyVersion::v2) return forwarder::proxy_header_v2({}, {});
  const auto source = socket_end(fd, false);
  const auto destination = socket_end(fd, true);
  if (!source || !destination) return {};
  return forwarder::proxy_header_v1(*source, *destination);
}

/// What a probe read: the first line, or nothing because the server stayed silent or hung up.
struct Greeting {
  enum class Kind { line, silent, closed } kind = Kind::line;
  std::string line;
};

/// Reads up to the first newline within probe_timeout. Servers that send more (Dovecot's auth
/// handshake is several lines) are not waited for: the first line says who answered.
tl::expected<Greeting, std::string> read_greeting(int fd) {
  const Clock::time_point deadline = Clock::now() + probe_timeout;
  std::string data;
  constexpr std::size_t max_read = 1024;
  while (data.find('\n') == std::string::npos && data.size() < max_read) {
    const int ready = poll_until(fd, POLLIN, deadline);
    if (ready < 0) return tl::unexpected("poll: " + errno_text(errno));
    if (ready == 0) {
      if (data.empty()) return Greeting{.kind = Greeting::Kind::silent};
      break;  // a line without its newline: show what came
    }
    std::array<char, 512> buffer{};
    const ssize_t n = ::recv(fd, buffer.data(), std::min(buffer.size(), max_read - data.size()), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return tl::unexpected(errno_text(errno));
    }
    if (n == 0) {
      if (data.empty()) return Greeting{.kind = Greeting::Kind::closed};
      break;
    }
    data.append(buffer.data(), static_cast<std::size_t>(n));
  }
  data.resize(std::min(data.find('\n'), data.size()));
  if (!data.empty() && data.back() == '\r') data.pop_back();
  return Greeting{.kind = Greeting::Kind::line, .line = std::move(data)};
}

/// The line as it may be shown on a terminal: tabs (Dovecot's auth protocol separates fields with
/// them) become spaces, every other control or non-ASCII byte a '?', so a server cannot send
/// escape sequences to the admin's terminal.
std::string sanitised(std::string_view line) {
  std::string out;
  for (const char c : line.substr(0, max_greeting_shown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\t') {
      out += ' ';
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (line.size() > max_greeting_shown) out += "...";
  return out;
}

/// How a protocol's server greets: a line starting with one of `prefixes` (an empty prefix is
/// unused), described for a message.
struct ExpectedGreeting {
  std::array<std::string_view, 2> prefixes;
  std::string_view description;
};

/// What each protocol's server says first, so that a target answering in another protocol (two
/// ports swapped) is caught; nullopt where there is nothing to expect.
std::optional<ExpectedGreeting> expected_greeting(forwarder::Protocol protocol) {
  using forwarder::Protocol;
  switch (protocol) {
    case Protocol::lmtp: return ExpectedGreeting{{"220"}, "an LMTP greeting \"220 …\""};
    case Protocol::smtp: return ExpectedGreeting{{"220"}, "an SMTP greeting \"220 …\""};
    case Protocol::imap: return ExpectedGreeting{{"* OK", "* PREAUTH"}, "an IMAP greeting \"* OK …\""};
    case Protocol::pop3: return ExpectedGreeting{{"+OK"}, "a POP3 greeting \"+OK …\""};
    case Protocol::managesieve:
      return ExpectedGreeting{{"\""}, "a ManageSieve capability line such as \"IMPLEMENTATION\" …"};
    case Protocol::sasl: return ExpectedGreeting{{"VERSION\t"}, "a Dovecot auth handshake \"VERSION 1 …\""};
    case Protocol::tcp: break;
  }
  return std::nullopt;
}

/// One probe line, and whether it counts as a failure.
struct ProbeResult {
  bool ok = false;
  std::string text;
};

ProbeResult probe(const Expose& expose) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(expose.target.port);
  if (const int error = ::getaddrinfo(expose.target.host.c_str(), port.c_str(), &hints, &found); error != 0) {
    return {false, "cannot resolve " + expose.target.host + ": " + ::gai_strerror(error)};
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);

  // Like any client: try each address in the resolver's order until one connects.
  tl::expected<Socket, std::string> connection = tl::unexpected(std::string("no address"));
  for (const addrinfo* address = addresses.get(); address != nullptr; address = address->ai_next) {
    connection = connect_to(*address);
    if (connection) break;
  }
  if (!connection) return {false, connection.error()};

  if (expose.proxy_protocol) {
    const auto header = probe_proxy_header(*expose.proxy_protocol, connection->get());
    if (header.empty()) return {false, "cannot describe the connection in a PROXY header: " + errno_text(errno)};
    if (::send(connection->get(), header.data(), header.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(header.size())) {
      return {false, "cannot send the PROXY header: " + errno_text(errno)};
    }
  }

  const auto greeting = read_greeting(connection->get());
  if (!greeting) return {false, "connected, then " + greeting.error()};
  const auto expected = expected_greeting(expose.protocol);
  switch (greeting->kind) {
    case Greeting::Kind::silent:
      if (!expected) {
        // A protocol mailtun does not know may well wait for the client to speak first.
        return {true, "connected; no greeting within " + std::to_string(probe_timeout.count()) + " s"};
      }
      return {false, "connected, but no greeting within " + std::to_string(probe_timeout.count()) +
                         " s; expected " + std::string(expected->description)};
    case Greeting::Kind::closed:
      return {false, "connected, but the server closed the connection without a greeting"};
    case Greeting::Kind::line: break;
  }
  std::string text = sanitised(greeting->line);
  if (!expected) return {true, text};
  for (const std::string_view prefix : expected->prefixes) {
    if (!prefix.empty() && greeting->line.starts_with(prefix)) return {true, text};
  }
  return {false, text + " (expected " + std::string(expected->description) + ": is this the right port?)"};
}

/// Every address this endpoint listens on, with what listens there, in the order of the file.
std::vector<std::pair<SocketAddress, std::string>> listeners(const Config& config) {
  std::vector<std::pair<SocketAddress, std::string>> out;
  if (config.interface.listen) out.emplace_back(*config.interface.listen, "interface");
  if (config.interface.metrics_listen) out.emplace_back(*config.interface.metrics_listen, "metrics");
  for (const Forward& forward : config.forwards) out.emplace_back(forward.listen, "forward " + forward.service);
  return out;
}

/// Binds every listener and asks every expose target for its greeting, one line each; returns the
/// failures in words, or an empty string.
std::string run_probe(const Io& io, const Config& config) {
  std::vector<std::string> failures;
  const auto addresses = listeners(config);
  std::size_t bind_failed = 0;
  for (const auto& [address, owner] : addresses) {
    const auto problem = try_bind(address);
    if (problem) ++bind_failed;
    write_output(io.out, "listen " + address.to_string() + " (" + owner + "): " + problem.value_or("free") + "\n",
                 "check");
  }
  if (bind_failed > 0) {
    failures.push_back(std::to_string(bind_failed) + " of " + std::to_string(addresses.size()) +
                       " listen addresses cannot be bound");
  }
  std::size_t failed = 0;
  for (const Expose& expose : config.exposes) {
    const ProbeResult result = probe(expose);
    if (!result.ok) ++failed;
    write_output(io.out, "expose " + expose.service + " -> " + expose.target.to_string() + ": " + result.text + "\n",
                 "check");
  }
  if (failed > 0) {
    failures.push_back(std::to_string(failed) + " of " + std::to_string(config.exposes.size()) +
                       " expose targets failed the probe");
  }
  std::string text;
  for (const std::string& failure : failures) text += (text.empty() ? "" : "; ") + failure;
  return text;
}

void check(const Io& io, const Options& options) {
  const Config config = load_config(options.config);  // ConfigError: every error, exit 2
  write_output(io.out, summary(config), "check");
  for (const std::string& line : warnings(config)) write_output(io.err, line + "\n", "check", "to stderr");

  std::size_t mismatches = 0;
  if (!options.peer_config.empty()) {
    const PeerSideConfig theirs = load_peer_side_config(options.peer_config);  // ConfigError: exit 2
    for (const PairFinding& finding : check_pair(config, theirs)) {
      if (finding.kind == PairFinding::Kind::mismatch) ++mismatches;
      write_output(io.out, to_string(finding) + "\n", "check");
    }
  }
  const std::string probe_failures = options.probe ? run_probe(io, config) : std::string();

  // A mismatch is a configuration error (exit 2) and outranks what the probe found (exit 1).
  if (mismatches > 0) {
    throw CommandError(ExitCode::usage, "mailtun check: " + std::to_string(mismatches) + " mismatch" +
                                            (mismatches == 1 ? "" : "es") + " between " + options.config + " and " +
                                            options.peer_config);
  }
  if (!probe_failures.empty()) throw CommandError(ExitCode::failure, "mailtun check: " + probe_failures);
}

}  // namespace

void register_check_command(CLI::App& app, Io io) {
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "check", "Validate a configuration file; --peer-config cross-checks a pair; --probe binds every listener "
               "and connects to every expose target");
  command->add_option("-c,--config", options->config, "The configuration file (TOML)")->required();
  command->add_option("--peer-config", options->peer_config,
                      "The other endpoint's configuration file, to cross-check the pair (keys, services, ports)");
  command->add_flag("--probe", options->probe,
                    "Bind every listen address, connect to every expose target and print its greeting "
                    "(3 s timeout each)");
  command->callback([io, options] { check(io, *options); });
}

}  // namespace mailtun::cli
