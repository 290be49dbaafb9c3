// `mailtun up --config FILE`: runs the endpoint in the foreground until SIGTERM or SIGINT, then
// drains and exits 0 (DESIGN §8). Under systemd (Type=notify) it reports READY and STOPPING.

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <memory>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/endpoint.hpp"
#include "cli/logging.hpp"

namespace mailtun::cli {
namespace {

struct UpOptions {
  std::string config;
  std::string log_level = "info";
  int drain_seconds = 10;
};

void run_up(const UpOptions& options) {
  setup_logging(options.log_level);
  Config config = load_config(options.config);  // ConfigError: exit 2
  std::signal(SIGPIPE, SIG_IGN);                 // a peer that vanishes mid-write is an error code, not a death

  boost::asio::io_context io(1);
  Endpoint endpoint(io, std::move(config));
  endpoint.start();  // throws on a listener that cannot bind: exit 1
  spdlog::info("interface {} up ({} peers, {} forwards, {} exposes)", endpoint.config().interface.name,
               endpoint.config().peers.size(), endpoint.config().forwards.size(), endpoint.config().exposes.size());
  sd_notify(0, "READY=1");

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: shutting down, draining streams for up to {} s", signal, options.drain_seconds);
    sd_notify(0, "STOPPING=1");
    endpoint.shutdown(std::chrono::seconds(options.drain_seconds), [&io] { io.stop(); });
  });
  io.run();
  spdlog::info("interface {} down", endpoint.config().interface.name);
}

}  // namespace

void register_up_command(CLI::App& app) {
  auto options = std::make_shared<UpOptions>();
  CLI::App* up = app.add_subcommand("up", "run the endpoint in the foreground");
  up->add_option("-c,--config", options->config, "configuration file")->required();
  up->add_option("--log-level", options->log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  up->add_option("--drain-seconds", options->drain_seconds, "on SIGTERM, how long open streams may finish")
      ->check(CLI::Range(0, 3600));
  up->callback([options] { run_up(*options); });
}

}  // namespace mailtun::cli
