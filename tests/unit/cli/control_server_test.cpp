// The control socket on a real unix socket in a directory of the test's own: what it answers,
// the file it creates (mode, stale and live predecessors, removal) and clients that misbehave.

#include "cli/control_server.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <system_error>

#include "cli/control_client.hpp"
#include "keys/file_descriptor.hpp"
#include "tests/support/client_socket.hpp"
#include "tests/support/io_thread.hpp"
#include "tests/support/status_sample.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto ask_timeout = 5s;

using testing::read_to_end;
using testing::Socket;

class ControlServerTest : public testing::TempDirTest {
 protected:
  void TearDown() override {
    if (server_) io_.run([this] { server_->stop(); });
  }

  /// Starts a server at `path` on the loop; rethrows what start() throws.
  std::shared_ptr<ControlServer> start(const fs::path& path, ControlServer::Provider provider = testing::sample_status,
                                       std::chrono::milliseconds timeout = ControlServer::default_client_timeout) {
    return io_.run([&] {
      auto server = std::make_shared<ControlServer>(io_.executor(), path, std::move(provider), timeout);
      server->start();
      return server;
    });
  }

  testing::IoThread io_;
  const fs::path path_ = dir_ / "vps.sock";
  std::shared_ptr<ControlServer> server_;
};

TEST_F(ControlServerTest, AnswersStatusWithTheReportAsJson) {
  server_ = start(path_);
  const std::string answer = ask_control_socket(path_, "status", ask_timeout);
  EXPECT_EQ(answer, to_json(testing::sample_status()) + "\n");
  EXPECT_EQ(status_from_json(answer).peers.at(0).name, "office");
}

TEST_F(ControlServerTest, AsksTheProviderAfreshEachTime) {
  int calls = 0;
  server_ = start(path_, [&calls] {
    StatusReport report;
    report.interface = "call " + std::to_string(++calls);
    return report;
  });
  EXPECT_EQ(status_from_json(ask_control_socket(path_, "status", ask_timeout)).interface, "call 1");
  EXPECT_EQ(status_from_json(ask_control_socket(path_, "status", ask_timeout)).interface, "call 2");
}

TEST_F(ControlServerTest, AnUnknownRequestGetsAnErrorLine) {
  server_ = start(path_);
  EXPECT_EQ(ask_control_socket(path_, "reload\x1b", ask_timeout),
            "error: unknown request \"reload\\x1b\"; expected \"status\"\n");
}

TEST_F(ControlServerTest, ARequestMayEndWithCrLfOrTheClientsClose) {
  server_ = start(path_);
  EXPECT_EQ(ask_control_socket(path_, "status\r", ask_timeout), to_json(testing::sample_status()) + "\n");
  const auto fd = testing::connect_unix(path_);
  ASSERT_EQ(::send(fd->get(), "status", 6, MSG_NOSIGNAL), 6);
  ::shutdown(fd->get(), SHUT_WR);
  EXPECT_EQ(read_to_end(fd->get(), 5s), to_json(testing::sample_status()) + "\n");
}

TEST_F(ControlServerTest, TheSocketIsMode0660WhateverTheUmask) {
  const mode_t saved = ::umask(0);
  server_ = start(path_);
  ::umask(saved);
  struct stat status {};
  ASSERT_EQ(::stat(path_.c_str(), &status), 0);
  EXPECT_TRUE(S_ISSOCK(status.st_mode));
  EXPECT_EQ(status.st_mode & 07777, 0660U);
}

TEST_F(ControlServerTest, OtherUsersAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  server_ = start(path_);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // mkdtemp made it 0700: let "nobody" reach the socket itself
  // A child that becomes nobody:nogroup and tries to connect; only system calls after fork().
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(100);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.c_str(), path_.string().size());
    const int result = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    ::_exit(result == 0 ? 0 : errno);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), EACCES);
}

TEST_F(ControlServerTest, AStaleSocketIsReplaced) {
  {
    // A socket file whose endpoint has gone: bound, never unlinked, closed.
    keys::FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  }
  ASSERT_TRUE(fs::is_socket(path_));
  server_ = start(path_);
  EXPECT_EQ(ask_control_socket(path_, "status", ask_timeout), to_json(testing::sample_status()) + "\n");
}

TEST_F(ControlServerTest, ASocketInUseIsRefusedAndKeepsServing) {
  server_ = start(path_);
  try {
    (void)start(path_);
    FAIL() << "a second server started on a socket in use";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "control socket " + path_.string() + " is in use by another running mailtun");
  }
  EXPECT_EQ(ask_control_socket(path_, "status", ask_timeout), to_json(testing::sample_status()) + "\n");
}

TEST_F(ControlServerTest, SomethingElseAtThePathIsLeftAlone) {
  std::ofstream(path_) << "precious\n";
  try {
    (void)start(path_);
    FAIL() << "started over a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "control socket " + path_.string() + ": exists and is not a socket; refusing to replace it");
  }
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "precious");
}

TEST_F(ControlServerTest, AMissingDirectoryIsNamed) {
  const fs::path path = dir_ / "missing" / "vps.sock";
  try {
    (void)start(path);
    FAIL() << "started in a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "control socket " + path.string() + ": directory " + (dir_ / "missing").string() +
                                         " does not exist; create it (the systemd unit does, with "
                                         "RuntimeDirectory=mailtun)");
  }
}

TEST_F(ControlServerTest, StopRemovesTheSocketAndTheServerIsGone) {
  server_ = start(path_);
  io_.run([this] { server_->stop(); });
  EXPECT_FALSE(fs::exists(fs::symlink_status(path_)));
  try {
    (void)ask_control_socket(path_, "status", ask_timeout);
    FAIL() << "asked a stopped server";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
  }
}

TEST_F(ControlServerTest, StopLeavesASuccessorsSocketAlone) {
  server_ = start(path_);
  // A successor removed ours and bound its own (as after `systemctl restart` racing a slow stop).
  fs::remove(path_);
  auto successor = start(path_);
  io_.run([this] { server_->stop(); });
  EXPECT_EQ(ask_control_socket(path_, "status", ask_timeout), to_json(testing::sample_status()) + "\n");
  io_.run([&] { successor->stop(); });
}

TEST_F(ControlServerTest, ASilentClientIsClosedAtTheDeadlineAndBlocksNobody) {
  server_ = start(path_, testing::sample_status, 300ms);
  const auto silent = testing::connect_unix(path_);
  // Served while the silent client holds its slot.
  EXPECT_EQ(ask_control_socket(path_, "status", ask_timeout), to_json(testing::sample_status()) + "\n");
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_end(silent->get(), 5s), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(ControlServerTest, AClientThatDoesNotReadBlocksNobody) {
  // A report far larger than a socket buffer, so the write to a client that never reads stalls.
  StatusReport big = testing::sample_status();
  for (int i = 0; i < 5000; ++i) big.peers.push_back(big.peers[0]);
  const std::string big_json = to_json(big) + "\n";
  server_ = start(
      path_, [big] { return big; }, 500ms);
  const auto stalled = testing::connect_unix(path_);
  ASSERT_EQ(::send(stalled->get(), "status\n", 7, MSG_NOSIGNAL), 7);

  EXPECT_EQ(ask_control_socket(path_, "status", ask_timeout).size(), big_json.size());
  // The stalled client is cut off at its deadline: await the server's close without reading, then
  // find less than the whole answer.
  pollfd entry{stalled->get(), POLLRDHUP, 0};
  ASSERT_EQ(::poll(&entry, 1, 5000), 1);
  EXPECT_LT(read_to_end(stalled->get(), 5s).size(), big_json.size());
}

TEST_F(ControlServerTest, ClientsBeyondTheCapAreClosedUnanswered) {
  server_ = start(path_, testing::sample_status, 60s);
  std::vector<Socket> silent;
  for (std::size_t i = 0; i < ControlServer::max_clients; ++i) silent.push_back(testing::connect_unix(path_));
  // The answer, or "" when the server closed the connection unanswered (before or after the
  // request went out).
  const auto ask = [this] {
    try {
      return ask_control_socket(path_, "status", ask_timeout);
    } catch (const std::system_error&) {
      return std::string();
    }
  };
  const auto ask_until = [&](auto done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::string answer = ask();
    while (!done(answer) && std::chrono::steady_clock::now() < deadline) answer = ask();
    return answer;
  };
  // The server accepts the silent clients in its own time; until it has, a request may be served.
  EXPECT_EQ(ask_until([](const std::string& answer) { return answer.empty(); }), "");
  silent.clear();  // their slots come free as the server sees them close
  EXPECT_EQ(ask_until([](const std::string& answer) { return !answer.empty(); }),
            to_json(testing::sample_status()) + "\n");
}

}  // namespace
}  // namespace mailtun::cli
