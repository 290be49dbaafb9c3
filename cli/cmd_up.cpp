// `mailtun up --config FILE`: runs the endpoint in the foreground until SIGTERM or SIGINT, then
// drains and exits 0 (DESIGN §8). SIGHUP reloads the configuration. Under systemd (Type=notify) it
// reports READY once every listener is bound, STATUS whenever a peer's state changes, STOPPING, and
// feeds the watchdog from the event loop, so a loop that hangs is restarted.

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/control_server.hpp"
#include "cli/descriptor_limit.hpp"
#include "cli/endpoint.hpp"
#include "cli/private_memory.hpp"
#include "cli/logging.hpp"
#include "cli/metrics_server.hpp"

namespace mailtun::cli {
namespace {

// systemd's STATUS= line at most this often (see run_up).
constexpr auto status_interval = std::chrono::seconds(1);

struct UpOptions {
  std::string config;
  std::string log_level = "info";
  int drain_seconds = 10;
};

/// Sends WATCHDOG=1 every third of WatchdogSec from the event loop itself: a loop stuck anywhere
/// stops the pings, and systemd restarts the service.
class Watchdog {
 public:
  explicit Watchdog(boost::asio::io_context& io) : timer_(io) {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
      // systemd wants a ping within WatchdogSec; every third of it leaves room for a busy loop.
      interval_ = std::chrono::microseconds(usec / 3);
      ping();
    }
  }
  void stop() { timer_.cancel(); }

 private:
  void ping() {
    sd_notify(0, "WATCHDOG=1");
    timer_.expires_after(interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ping();
    });
  }

  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
};

/// SIGHUP: the configuration is read again; a file with errors is refused, its errors logged, and
/// the running configuration stays.
void reload(Endpoint& endpoint, const std::string& path) {
  spdlog::info("signal SIGHUP: reloading {}", path);
  sd_notify(0, "RELOADING=1");
  try {
    endpoint.reload(load_config(path));
  } catch (const std::exception& e) {
    spdlog::error("reload refused, the running configuration stays:\n{}", e.what());
  }
  sd_notify(0, ("READY=1\nSTATUS=" + endpoint.peer_summary()).c_str());
}

/// The control socket's directory: /run/mailtun under systemd (RuntimeDirectory=), made here for
/// an endpoint started by hand, as closed as the unit makes it.
void ensure_socket_directory(const std::filesystem::path& socket) {
  const std::filesystem::path directory = socket.parent_path();
  std::error_code ec;
  if (directory.empty() || std::filesystem::exists(directory, ec)) return;
  if (std::filesystem::create_directory(directory, ec)) {
    std::filesystem::permissions(directory, std::filesystem::perms(0750), ec);
  }
}

void run_up(const UpOptions& options) {
  setup_logging(options.log_level);
  keep_memory_private();  // before any key is read
  Config config = load_config(options.config);  // ConfigError: exit 2
  std::signal(SIGPIPE, SIG_IGN);                 // a peer that vanishes mid-write is an error code, not a death
  if (const auto limit = raise_descriptor_limit(); limit && limit->now != limit->before) {
    spdlog::debug("open files: limit raised from {} to {}", limit->before, limit->now);
  }

  boost::asio::io_context io(1);
  // Before anything can take a while: a SIGHUP that arrives during start-up must not kill us.
  boost::asio::signal_set hangup(io, SIGHUP);
  // Each STATUS= line is built from every peer's state, and a VPS with 1000 offices sees thousands of
  // state changes while they reconnect: at most one line a second, the latest state always sent in the end.
  // Declared before the endpoint, which may report a change while it is destroyed.
  std::string last_status;
  boost::asio::steady_timer status_timer(io);
  std::chrono::steady_clock::time_point status_sent{};
  bool status_due = false;
  Endpoint endpoint(io, std::move(config));
  const auto send_status = [&] {
    status_sent = std::chrono::steady_clock::now();
    std::string status = "STATUS=" + endpoint.peer_summary();
    if (status == last_status) return;
    last_status = status;
    sd_notify(0, status.c_str());
  };
  endpoint.on_peer_state_change([&] {
    if (status_due) return;
    if (std::chrono::steady_clock::now() - status_sent >= status_interval) return send_status();
    status_due = true;
    status_timer.expires_at(status_sent + status_interval);
    status_timer.async_wait([&](const boost::system::error_code& ec) {
      status_due = false;
      if (!ec) send_status();
    });
  });
  endpoint.start();  // throws on a listener that cannot bind: exit 1
  const auto report = [&endpoint] { return endpoint.status_report(); };
  ensure_socket_directory(endpoint.config().interface.control_socket);
  auto control = std::make_shared<ControlServer>(io.get_executor(), endpoint.config().interface.control_socket, report);
  control->start();  // throws when another endpoint answers there: exit 1
  std::shared_ptr<MetricsServer> metrics;
  if (const auto& listen = endpoint.config().interface.metrics_listen) {
    metrics = std::make_shared<MetricsServer>(
        io.get_executor(), boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(listen->address), listen->port),
        report);
    metrics->start();
  }
  spdlog::info("interface {} up ({} peers, {} forwards, {} exposes)", endpoint.config().interface.name,
               endpoint.peer_count(), endpoint.config().forwards.size(), endpoint.config().exposes.size());
  last_status = "STATUS=" + endpoint.peer_summary();
  sd_notify(0, ("READY=1\n" + last_status).c_str());
  Watchdog watchdog(io);

  std::function<void()> await_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      reload(endpoint, options.config);
      await_hangup();
    });
  };
  await_hangup();

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: shutting down, draining streams for up to {} s", signal, options.drain_seconds);
    sd_notify(0, "STOPPING=1");
    hangup.cancel();
    control->stop();
    if (metrics) metrics->stop();
    endpoint.shutdown(std::chrono::seconds(options.drain_seconds), [&] {
      watchdog.stop();
      io.stop();
    });
  });
  io.run();
  spdlog::info("interface {} down", endpoint.config().interface.name);
}

}  // namespace

void register_up_command(CLI::App& app) {
  auto options = std::make_shared<UpOptions>();
  CLI::App* up = app.add_subcommand("up", "run the endpoint in the foreground");
  up->add_option("-c,--config", options->config, "configuration file")->required();
  up->add_option("--log-level", options->log_level, "trace, debug, info, warning, error, critical or off")
      ->check([](const std::string& name) -> std::string {
        return normalise_log_level(name) ? std::string() : "not a log level: " + name;
      });
  up->add_option("--drain-seconds", options->drain_seconds, "on SIGTERM, how long open streams may finish")
      ->check(CLI::Range(0, 3600));
  up->callback([options] { run_up(*options); });
}

}  // namespace mailtun::cli
