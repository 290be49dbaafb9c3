#pragma once
// The control socket (`interface.control_socket`): a unix socket on which `mailtun status` asks a
// running endpoint for its status report. A tiny line protocol leaves room for more requests: the
// client sends one line, the server answers and closes.
//   "status\n"   -> the report as one line of JSON (status_report.hpp) and "\n"
//   anything else -> "error: unknown request …\n"
// The socket is mode 0660, group `mailtun` where that group exists and the endpoint may set it:
// root and members of the group may ask, nobody else.

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "cli/control_client.hpp"
#include "cli/status_report.hpp"
#include "tunnel/asio/accept_pause.hpp"

namespace mailtun::cli {

class ControlServer : public std::enable_shared_from_this<ControlServer> {
 public:
  using Provider = std::function<StatusReport()>;

  /// Clients served at once; more are closed unanswered until one finishes.
  static constexpr std::size_t max_clients = 8;
  /// A client must send its request and read the answer within this.
  static constexpr std::chrono::milliseconds default_client_timeout{5000};

  /// `provider` is called on the executor's loop, once per status request.
  ControlServer(boost::asio::any_io_executor executor, std::filesystem::path path, Provider provider,
                std::chrono::milliseconds client_timeout = default_client_timeout);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Creates the socket and starts serving. A stale socket file (nothing answers on it) is
  /// replaced. Throws std::runtime_error, naming the path, when the directory does not exist, the
  /// path is something other than a socket, another endpoint answers on it, or binding fails.
  void start();
  /// Stops serving, closes every client and removes the socket file if it is still the one this
  /// server created (a successor may have replaced it). Safe to call more than once.
  void stop();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  class Client;
  void accept();
  void finished(const std::shared_ptr<Client>& client);

  boost::asio::local::stream_protocol::acceptor acceptor_;
  tunnel::asio::AcceptPause pause_;
  std::filesystem::path path_;
  Provider provider_;
  std::chrono::milliseconds client_timeout_;
  std::set<std::shared_ptr<Client>> clients_;
  struct FileId {
    dev_t device;
    ino_t inode;
  };
  std::optional<FileId> created_;  // the socket file this server made, until removed
};

}  // namespace mailtun::cli
