// mailtun-offices: many offices in one process against one VPS endpoint, for the 50-office test
// (tests/integration/test_offices.py) and the 1000-office benchmark (bench/offices.py).
//
//   mailtun-offices generate --dir DIR --count N --vps-port P --forward-port-base B
//     writes the VPS side: DIR/vps.key, DIR/vps.toml (listen 127.0.0.1:P, peers_dir DIR/vps.d) and
//     DIR/vps.d/office-NNNN.toml, one per office: its [[peer]] and an lmtp [[forward]] on
//     127.0.0.1:(B+i); and the offices' side: DIR/offices.keys (a name and a private key a line).
//   mailtun-offices run --dir DIR --vps 127.0.0.1:P --sink 127.0.0.1:S
//     runs every office of DIR/offices.keys, each a cli::Endpoint that dials the VPS from a
//     loopback address of its own (127.0.0.0/8 is all loopback on Linux) and exposes "lmtp" to the
//     LMTP server at S. Prints one JSON object a line on stdout: "all_up" each time every office is
//     up (the first time with the seconds since start, later with the seconds since the first
//     office went down), "down" when one goes down after all were up. Runs until SIGTERM or SIGINT.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/address.hpp"
#include "cli/config.hpp"
#include "cli/descriptor_limit.hpp"
#include "cli/endpoint.hpp"
#include "cli/logging.hpp"
#include "keys/base64.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mailtun;

// ---- the plan: pure ---------------------------------------------------------------------------

/// Office i (from 0) dials from 127.10.(i / 250).(i % 250 + 1): never 127.0.0.1, where the VPS
/// and the sink are, nor a .0 that reads like a network address. 64000 offices fit.
std::string source_address(std::size_t i) {
  return "127.10." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

std::string office_name(std::size_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "office-%04zu", i + 1);
  return name;
}

/// The file of office i in the VPS's peers_dir.
std::string office_file(const std::string& name, const std::string& public_key, std::uint16_t forward_port) {
  return "# " + name + ": its key, and the port Postfix delivers its mail to\n[[peer]]\nname = \"" + name +
         "\"\npublic_key = \"" + public_key + "\"\n\n[[forward]]\nservice = \"lmtp\"\nlisten = \"127.0.0.1:" +
         std::to_string(forward_port) + "\"\npeer = \"" + name + "\"\n";
}

/// An office's configuration, as `mailtun up` would load it from its own file.
cli::Config office_config(const std::string& name, keys::PrivateKey key, const keys::PublicKey& vps,
                          const cli::HostPort& vps_endpoint, const cli::HostPort& sink) {
  cli::Config config{.path = name + ".toml",
                     .interface = {.name = name, .private_key = std::move(key), .control_socket = name + ".sock"}};
  config.peers.push_back({.name = "vps", .public_key = vps, .endpoint = vps_endpoint});
  config.exposes.push_back({.service = "lmtp",
                            .target = sink,
                            .peers = {"vps"},
                            .protocol = forwarder::Protocol::lmtp,
                            .allow_any_port = true});
  return config;
}

// ---- the shell --------------------------------------------------------------------------------

void write_file(const fs::path& path, const std::string& text, fs::perms mode) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
  fs::permissions(path, mode);
}

cli::HostPort host_port(const std::string& text) {
  auto parsed = cli::parse_host_port(text);
  if (!parsed) throw std::runtime_error(text + ": " + parsed.error());
  return *parsed;
}

int generate(const fs::path& dir, std::size_t count, std::uint16_t vps_port, std::uint16_t forward_base) {
  if (forward_base + count > 65536) throw std::runtime_error("forward ports beyond 65535; expected a lower base");
  fs::create_directories(dir / "vps.d");
  fs::permissions(dir, fs::perms(0700));
  fs::permissions(dir / "vps.d", fs::perms(0750));
  for (const auto& entry : fs::directory_iterator(dir / "vps.d")) fs::remove(entry.path());
  const keys::PrivateKey vps = keys::PrivateKey::generate();
  keys::write_key_file(dir / "vps.key", keys::to_base64(vps.bytes()) + "\n");
  write_file(dir / "vps.pub", keys::to_base64(vps.public_key().bytes()) + "\n", fs::perms(0644));
  write_file(dir / "vps.toml",
             "[interface]\nname = \"vps\"\nprivate_key_file = \"vps.key\"\nlisten = \"127.0.0.1:" +
                 std::to_string(vps_port) + "\"\ncontrol_socket = \"vps.sock\"\npeers_dir = \"vps.d\"\n",
             fs::perms(0600));
  std::string office_keys;
  for (std::size_t i = 0; i < count; ++i) {
    const keys::PrivateKey key = keys::PrivateKey::generate();
    const std::string name = office_name(i);
    write_file(dir / "vps.d" / (name + ".toml"),
               office_file(name, keys::to_base64(key.public_key().bytes()), static_cast<std::uint16_t>(forward_base + i)),
               fs::perms(0640));
    office_keys += name + " " + keys::to_base64(key.bytes()) + "\n";
  }
  write_file(dir / "offices.keys", office_keys, fs::perms(0600));
  std::cout << R"({"event": "generated", "offices": )" << count << R"(, "vps_port": )" << vps_port
            << R"(, "forward_ports": [)" << forward_base << ", " << forward_base + count - 1 << "]}" << std::endl;
  return 0;
}

/// Office i is up or not; reports when all are, and when that ends.
class UpCounter {
 public:
  explicit UpCounter(std::size_t count) : up_(count, false), start_(now()) {}

  void set(std::size_t i, bool up) {
    if (up_[i] == up) return;
    up_[i] = up;
    count_ += up ? 1 : -1;
    if (count_ == up_.size()) {
      const double seconds = std::chrono::duration<double>(now() - start_).count();
      std::cout << R"({"event": "all_up", "offices": )" << count_ << R"(, "seconds": )" << seconds
                << R"(, "times": )" << ++times_ << "}" << std::endl;
    } else if (!up && count_ + 1 == up_.size()) {
      start_ = now();
      std::cout << R"({"event": "down", "up": )" << count_ << "}" << std::endl;
    }
  }

 private:
  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

  std::vector<bool> up_;
  std::size_t count_ = 0;
  std::size_t times_ = 0;
  std::chrono::steady_clock::time_point start_;
};

int run(const fs::path& dir, const std::string& vps_text, const std::string& sink_text, const std::string& log_level) {
  cli::setup_logging(log_level);
  std::signal(SIGPIPE, SIG_IGN);
  (void)cli::raise_descriptor_limit();  // a socket per office
  std::ifstream pub(dir / "vps.pub");
  std::string vps_public_text;
  pub >> vps_public_text;
  const auto vps_public = keys::parse_public_key(vps_public_text);
  if (!vps_public) throw std::runtime_error((dir / "vps.pub").string() + ": " + vps_public.error());
  const cli::HostPort vps = host_port(vps_text);
  const cli::HostPort sink = host_port(sink_text);

  boost::asio::io_context io(1);
  std::vector<std::unique_ptr<cli::Endpoint>> offices;
  std::ifstream lines(dir / "offices.keys");
  std::string name;
  std::string key_text;
  while (lines >> name >> key_text) {
    auto key = keys::parse_private_key(key_text);
    if (!key) throw std::runtime_error((dir / "offices.keys").string() + ": " + name + ": " + key.error());
    offices.push_back(std::make_unique<cli::Endpoint>(io, office_config(name, std::move(*key), *vps_public, vps, sink)));
  }
  if (offices.empty()) throw std::runtime_error((dir / "offices.keys").string() + ": no offices");

  UpCounter counter(offices.size());
  for (std::size_t i = 0; i < offices.size(); ++i) {
    cli::Endpoint& office = *offices[i];
    office.set_dial_source(boost::asio::ip::make_address(source_address(i)));
    office.on_peer_state_change([&counter, &office, i] {
      const auto current = office.current_connection("vps");
      counter.set(i, current && !current->closed() && current->session().ready());
    });
  }
  std::cout << R"({"event": "started", "offices": )" << offices.size() << "}" << std::endl;
  for (auto& office : offices) office->start();

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mailtun-offices: many offices in one process against one VPS endpoint"};
  app.require_subcommand(1);
  fs::path dir;
  std::size_t count = 50;
  std::uint16_t vps_port = 0;
  std::uint16_t forward_base = 0;
  auto* gen = app.add_subcommand("generate", "write the VPS's configuration and the offices' keys");
  gen->add_option("--dir", dir, "where to write them")->required();
  gen->add_option("--count", count, "offices")->check(CLI::Range(1, 64000));
  gen->add_option("--vps-port", vps_port, "the VPS's tunnel port on 127.0.0.1")->required();
  gen->add_option("--forward-port-base", forward_base, "office i's lmtp forward listens on 127.0.0.1:(BASE+i)")
      ->required();
  std::string vps;
  std::string sink;
  std::string log_level = "warn";
  auto* run_command = app.add_subcommand("run", "run the offices of --dir until SIGTERM");
  run_command->add_option("--dir", dir, "as given to generate")->required();
  run_command->add_option("--vps", vps, "the VPS's tunnel address, 127.0.0.1:PORT")->required();
  run_command->add_option("--sink", sink, "the LMTP server each office exposes as lmtp, 127.0.0.1:PORT")->required();
  run_command->add_option("--log-level", log_level, "the offices' log level");
  CLI11_PARSE(app, argc, argv);
  try {
    if (*gen) return generate(dir, count, vps_port, forward_base);
    return run(dir, vps, sink, log_level);
  } catch (const std::exception& e) {
    std::cerr << "mailtun-offices: " << e.what() << '\n';
    return 1;
  }
}
