// The control socket's server. Flow: start() claims the path and binds; accept() takes a client,
// Client reads one request line, writes the answer and closes, all under one deadline, so a
// client that never sends or never reads costs a slot for at most client_timeout.

#include "cli/control_server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "cli/terminal_text.hpp"
#include "keys/file_descriptor.hpp"

namespace mailtun::cli {

namespace {

namespace net = boost::asio;
using local = net::local::stream_protocol;

constexpr std::size_t max_request_length = 256;
constexpr const char* socket_group = "mailtun";

std::string errno_text(int error) { return std::strerror(error); }

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw std::runtime_error("control socket " + path.string() + ": " + what);
}

/// True if an endpoint accepts connections on the socket at `path`.
bool answers(const std::filesystem::path& path) {
  // Non-blocking: a live endpoint whose backlog is full answers EAGAIN at once instead of stalling us.
  const keys::FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) fail(path, "cannot create a socket: " + errno_text(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool connected = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  const int error = errno;
  if (connected || error == EAGAIN) return true;
  if (error == ECONNREFUSED) return false;
  fail(path, "cannot tell whether it is in use: " + errno_text(error));
}

/// Makes `path` free to bind: its directory must exist, and whatever is there must be a socket
/// file that nothing answers on (left behind by an endpoint that died), which is removed.
void claim(const std::filesystem::path& path) {
  if (path.string().size() >= sizeof(sockaddr_un::sun_path)) {
    fail(path, "the path is longer than the " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                   " bytes a unix socket allows");
  }
  const std::filesystem::path directory = path.parent_path().empty() ? "." : path.parent_path();
  struct stat status {};
  if (::stat(directory.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) {
    fail(path, "directory " + directory.string() +
                   " does not exist; create it (the systemd unit does, with RuntimeDirectory=mailtun)");
  }
  if (::lstat(path.c_str(), &status) != 0) {
    if (errno == ENOENT) return;
    fail(path, errno_text(errno));
  }
  if (!S_ISSOCK(status.st_mode)) fail(path, "exists and is not a socket; refusing to replace it");
  if (answers(path)) {
    throw std::runtime_error("control socket " + path.string() + " is in use by another running mailtun");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    fail(path, "cannot remove the stale socket: " + errno_text(errno));
}

/// Gives the socket file to group `mailtun` if there is one; without the right to (an endpoint
/// running as a user outside that group), root alone may use the socket, which is still correct.
void give_to_group(const std::filesystem::path& path) {
  group entry{};
  group* found = nullptr;
  std::array<char, 4096> buffer{};
  if (::getgrnam_r(socket_group, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return;
  if (::chown(path.c_str(), static_cast<uid_t>(-1), found->gr_gid) != 0) {
    spdlog::debug("control socket {}: cannot give it to group {}: {}", path.string(), socket_group, errno_text(errno));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class ControlServer::Client : public std::enable_shared_from_this<Client> {
 public:
  Client(local::socket socket, std::weak_ptr<ControlServer> server)
      : socket_(std::move(socket)), deadline_(socket_.get_executor()), server_(std::move(server)) {}

  void start(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close();  // ends the read or write in progress with an error
    });
    net::async_read_until(socket_, net::dynamic_buffer(request_, max_request_length), '\n',
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t length) {
                            self->on_request(ec, length);
                          });
  }

  void close() {
    boost::system::error_code ignored;
    deadline_.cancel();
    socket_.close(ignored);
  }

 private:
  void on_request(const boost::system::error_code& ec, std::size_t length) {
    // A client may also end its request by closing its side instead of sending "\n".
    if (ec && !(ec == net::error::eof && !request_.empty())) return done();
    std::string_view line = std::string_view(request_).substr(0, ec ? request_.size() : length - 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const auto server = server_.lock();
    if (!server) return done();
    if (line == status_request) {
      reply_ = to_json(server->provider_()) + "\n";
    } else {
      reply_ = "error: unknown request \"" + escape_terminal(line) + "\"; expected \"" + std::string(status_request) +
               "\"\n";
    }
    net::async_write(socket_, net::buffer(reply_),
                     [self = shared_from_this()](const boost::system::error_code&, std::size_t) { self->done(); });
  }

  void done() {
    close();
    if (const auto server = server_.lock()) server->finished(shared_from_this());
  }

  local::socket socket_;
  net::steady_timer deadline_;
  std::weak_ptr<ControlServer> server_;
  std::string request_;
  std::string reply_;
};

// ---------------------------------------------------------------------------------------------

ControlServer::ControlServer(net::any_io_executor executor, std::filesystem::path path, Provider provider,
                             std::chrono::milliseconds client_timeout)
    : acceptor_(executor),
      pause_(executor),
      path_(std::move(path)),
      provider_(std::move(provider)),
      client_timeout_(client_timeout) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::start() {
  claim(path_);
  acceptor_.open();
  boost::system::error_code ec;
  {
    // The socket file is created by bind() with 0777 minus the umask: with this umask it is 0660
    // from its first instant, never wider, with no chmod after the fact to race against.
    const mode_t saved = ::umask(0117);
    acceptor_.bind(local::endpoint(path_.string()), ec);
    ::umask(saved);
  }
  if (ec) {
    acceptor_.close();
    fail(path_, "cannot bind: " + ec.message());
  }
  struct stat status {};
  if (::stat(path_.c_str(), &status) == 0) created_ = FileId{status.st_dev, status.st_ino};
  give_to_group(path_);
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    stop();
    fail(path_, "cannot listen: " + ec.message());
  }
  accept();
}

void ControlServer::stop() {
  boost::system::error_code ignored;
  pause_.cancel();
  acceptor_.close(ignored);
  for (const auto& client : std::set(clients_)) client->close();
  clients_.clear();
  if (!created_) return;
  // Remove the file only if it is still ours: a successor may have bound a fresh one in its place.
  struct stat status {};
  if (::stat(path_.c_str(), &status) == 0 && status.st_dev == created_->device && status.st_ino == created_->inode) {
    ::unlink(path_.c_str());
  }
  created_.reset();
}

void ControlServer::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec, local::socket socket) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      return self->pause_.after_error(ec, "control socket " + self->path_.string() + ": accept",
                                      [self] { self->accept(); });
    }
    self->pause_.succeeded();
    if (self->clients_.size() >= max_clients) {
      boost::system::error_code ignored;
      socket.close(ignored);  // busy: the client sees the connection closed without an answer
    } else {
      auto client = std::make_shared<Client>(std::move(socket), self);
      self->clients_.insert(client);
      client->start(self->client_timeout_);
    }
    self->accept();
  });
}

void ControlServer::finished(const std::shared_ptr<Client>& client) { clients_.erase(client); }

}  // namespace mailtun::cli
