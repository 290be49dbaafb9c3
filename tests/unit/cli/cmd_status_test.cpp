// `mailtun status` run in-process against control servers on a loop of their own, in a runtime
// directory of the test's own: which sockets it asks, what it prints, and how it fails.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <fstream>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "cli/control_server.hpp"
#include "keys/file_descriptor.hpp"
#include "tests/support/command_runner.hpp"
#include "tests/support/io_thread.hpp"
#include "tests/support/status_sample.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;

using Result = testing::CommandResult;

StatusReport report_named(const std::string& name) {
  StatusReport report = testing::sample_status();
  report.interface = name;
  return report;
}

class StatusCommandTest : public testing::TempDirTest {
 protected:
  void TearDown() override {
    io_.run([this] {
      for (auto& server : servers_) server->stop();
    });
  }

  /// An endpoint answering at `path` with a report for interface `name`.
  void serve(const fs::path& path, const std::string& name) {
    servers_.push_back(io_.run([&] {
      auto server = std::make_shared<ControlServer>(io_.executor(), path, [name] { return report_named(name); });
      server->start();
      return server;
    }));
  }

  Result run(const std::string& args) {
    return testing::run_command([this](CLI::App& app, Io io) { register_status_command(app, io, dir_); }, args);
  }

  void write_config(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  testing::IoThread io_;
  std::vector<std::shared_ptr<ControlServer>> servers_;
};

TEST_F(StatusCommandTest, SocketPrintsTheReportAsText) {
  serve(dir_ / "vps.sock", "vps");
  const Result r = run("status --socket " + (dir_ / "vps.sock").string());
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(r.out, render_text(report_named("vps")));
  EXPECT_EQ(r.err, "");
}

TEST_F(StatusCommandTest, JsonPrintsTheObjectTheEndpointSent) {
  serve(dir_ / "vps.sock", "vps");
  const Result r = run("status --json --socket " + (dir_ / "vps.sock").string());
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(r.out, to_json(report_named("vps")) + "\n");
}

TEST_F(StatusCommandTest, ConfigNamesTheSocketRelativeToItsDirectory) {
  serve(dir_ / "here.sock", "vps");
  write_config(dir_ / "vps.toml",
               "[interface]\nname = \"vps\"\ncontrol_socket = \"here.sock\"\nprivate_key_file = \"/nonexistent\"\n");
  const Result r = run("status --config " + (dir_ / "vps.toml").string());
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(r.out, render_text(report_named("vps")));
}

TEST_F(StatusCommandTest, ConfigWithoutControlSocketUsesTheDefaultForItsName) {
  serve(dir_ / "office.sock", "office");
  write_config(dir_ / "office.toml", "[interface]\nprivate_key_file = \"office.key\"\n");
  const Result r = run("status --config " + (dir_ / "office.toml").string());
  ASSERT_FALSE(r.failure) << r.message;
  EXPECT_EQ(r.out, render_text(report_named("office")));
}

TEST_F(StatusCommandTest, UnreadableConfigIsAUsageError) {
  const Result missing = run("status --config " + (dir_ / "nope.toml").string());
  EXPECT_EQ(missing.failure, ExitCode::usage);
  EXPECT_EQ(missing.message, "mailtun status: " + (dir_ / "nope.toml").string() +
                                 ": cannot open: No such file or directory; expected a readable TOML file");
  write_config(dir_ / "bad.toml", "[interface\n");
  const Result bad = run("status --config " + (dir_ / "bad.toml").string());
  EXPECT_EQ(bad.failure, ExitCode::usage);
  EXPECT_TRUE(bad.message.starts_with("mailtun status: " + (dir_ / "bad.toml").string() + ":1:")) << bad.message;
}

TEST_F(StatusCommandTest, WithoutASocketEveryEndpointIsShownInOrder) {
  serve(dir_ / "vps.sock", "vps");
  serve(dir_ / "office.sock", "office");
  std::ofstream(dir_ / "notes.txt") << "not a socket\n";
  const Result text = run("status");
  ASSERT_FALSE(text.failure) << text.message;
  EXPECT_EQ(text.out, render_text(report_named("office")) + "\n" + render_text(report_named("vps")));
  const Result json = run("status --json");
  ASSERT_FALSE(json.failure) << json.message;
  EXPECT_EQ(json.out, "[" + to_json(report_named("office")) + "," + to_json(report_named("vps")) + "]\n");
}

TEST_F(StatusCommandTest, NoSuchSocketSaysNoEndpointRuns) {
  const fs::path path = dir_ / "vps.sock";
  const Result r = run("status --socket " + path.string());
  EXPECT_EQ(r.failure, ExitCode::failure);
  EXPECT_EQ(r.message,
            "mailtun status: no running mailtun endpoint at " + path.string() + " (is mailtun@vps running?)");
  EXPECT_EQ(r.out, "");
}

TEST_F(StatusCommandTest, AStaleSocketSaysNoEndpointRuns) {
  const fs::path path = dir_ / "vps.sock";
  {
    keys::FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  }
  serve(dir_ / "office.sock", "office");
  const Result r = run("status");
  // The live one is shown; the dead one is named and makes the exit code 1.
  EXPECT_EQ(r.out, render_text(report_named("office")));
  EXPECT_EQ(r.err, "mailtun status: no running mailtun endpoint at " + path.string() + " (is mailtun@vps running?)\n");
  EXPECT_EQ(r.failure, ExitCode::failure);
  EXPECT_EQ(r.message, "mailtun status: 1 of 2 endpoints did not answer");
}

TEST_F(StatusCommandTest, NoSocketsAtAllIsNamed) {
  const Result r = run("status");
  EXPECT_EQ(r.failure, ExitCode::failure);
  EXPECT_EQ(r.message, "mailtun status: no running mailtun endpoint: no control socket in " + dir_.string() +
                           " (is mailtun@NAME running? else name one with --socket or --config)");
}

TEST_F(StatusCommandTest, PermissionDeniedSaysWhoMayAsk) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may connect to any socket; run as a user to test EACCES";
  serve(dir_ / "vps.sock", "vps");
  ASSERT_EQ(::chmod((dir_ / "vps.sock").c_str(), 0), 0);
  const Result r = run("status --socket " + (dir_ / "vps.sock").string());
  EXPECT_EQ(r.failure, ExitCode::failure);
  EXPECT_EQ(r.message, "mailtun status: permission denied on " + (dir_ / "vps.sock").string() +
                           ": run as root or as a member of group mailtun");
}

TEST_F(StatusCommandTest, SocketAndConfigTogetherAreAUsageError) {
  const Result r = run("status --socket a.sock --config a.toml");
  EXPECT_EQ(r.failure, ExitCode::usage);
}

}  // namespace
}  // namespace mailtun::cli
