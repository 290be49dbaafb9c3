#pragma once
// The client side of the control socket (control_server.hpp): one request, one answer.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

namespace mailtun::cli {

/// The request line that asks for the status report (control_server.hpp has the protocol).
inline constexpr std::string_view status_request = "status";

/// The answers a client accepts are small (a report of a few kilobytes); this stops a wrong
/// socket from feeding the client forever.
inline constexpr std::size_t max_control_answer = 16 * 1024 * 1024;

/// Sends `request` and a newline to the control socket at `path` and returns everything the
/// server sends until it closes. Throws std::system_error with the errno of the step that failed
/// (connect: ENOENT, ECONNREFUSED, EACCES…; ETIMEDOUT when the whole exchange takes longer than
/// `timeout`; EMSGSIZE past max_control_answer).
[[nodiscard]] std::string ask_control_socket(const std::filesystem::path& path, std::string_view request,
                                             std::chrono::milliseconds timeout);

}  // namespace mailtun::cli
