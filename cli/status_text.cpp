// `mailtun status` for people (DESIGN §8): laid out like `wg show`, in at most 80 columns.

#include <fmt/format.h>

#include "cli/human_units.hpp"
#include "cli/status_report.hpp"
#include "cli/terminal_text.hpp"

namespace mailtun::cli {

namespace {

constexpr std::size_t width = 80;
constexpr std::size_t indent = 2;

class Text {
 public:
  /// A block's first line ("peer: office (up)"); the name gives way when the line is too long.
  void heading(std::string_view what, std::string_view name, std::string_view suffix = "") {
    const std::size_t fixed = what.size() + 2 + suffix.size();
    lines_.push_back(
        fmt::format("{}: {}{}", what, fit(escape_terminal(name), width > fixed ? width - fixed : 0), suffix));
  }
  /// "  label: value", wrapped; `value` is escaped here.
  void field(std::string_view label, std::string_view value) {
    for (auto& line : labelled_lines(label, escape_terminal(value), indent, width)) lines_.push_back(std::move(line));
  }
  void lines(std::vector<std::string> more) {
    for (auto& line : more) lines_.push_back(std::move(line));
  }
  void blank() { lines_.emplace_back(); }
  [[nodiscard]] std::string str() const {
    std::string out;
    for (const auto& line : lines_) out += line + '\n';
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

std::string rejected(const std::map<std::string, std::uint64_t>& by_reason) {
  std::string text;
  for (const auto& [reason, count] : by_reason) {
    if (count != 0) text += fmt::format("{}{} {}", text.empty() ? "" : ", ", reason, count);
  }
  return text.empty() ? "none" : text;
}

void interface_block(Text& out, const StatusReport& report) {
  out.heading("interface", report.interface);
  out.field("public key", report.public_key);
  if (!report.listen.empty()) out.field("listening on", report.listen);
  out.field("up for", format_duration(report.uptime_seconds));
  if (!report.version.empty()) out.field("version", report.version);
  out.field("rejected handshakes", rejected(report.rejected_handshakes));
}

void peer_block(Text& out, const PeerStatus& peer) {
  out.heading("peer", peer.name, " (" + fit(escape_terminal(peer.state), 12) + ")");
  out.field("public key", peer.public_key);
  if (!peer.endpoint.empty()) out.field("endpoint", peer.endpoint);
  out.field("latest handshake", format_age(peer.seconds_since_handshake));
  if (peer.session_age_seconds) out.field("session age", format_duration(*peer.session_age_seconds));
  if (peer.rtt_ms) out.field("round trip", format_milliseconds(*peer.rtt_ms));
  out.field("transfer", format_bytes(peer.bytes_in) + " received, " + format_bytes(peer.bytes_out) + " sent");
  out.field("streams", fmt::format("{} open, {} total", peer.streams_open, peer.streams_total));
  out.field("reconnects", std::to_string(peer.reconnects));
  if (!peer.last_error.empty()) out.field("last error", peer.last_error);
}

std::string peer_list(const std::vector<std::string>& peers) {
  std::string text;
  for (const auto& peer : peers) text += (text.empty() ? "" : ",") + escape_terminal(peer);
  return text;
}

/// Forwards and exposes in tables of their own: only a forward answers "unavailable", and one
/// table with a kind column would not fit 80 columns.
void service_table(Text& out, const StatusReport& report, std::string_view kind, std::string_view address_heading) {
  using Align = TextTable::Align;
  const bool forward = kind == "forward";
  // An address cut before its port would say nothing, so it keeps room for "255.255.255.255:65535".
  std::vector<TextTable::Column> columns = {{"SERVICE"},
                                            {std::string(address_heading), Align::left, 21},
                                            {"PEERS"},
                                            {"OPEN", Align::right},
                                            {"TOTAL", Align::right}};
  if (forward) columns.push_back({"UNAVAILABLE", Align::right});
  columns.push_back({"ERRORS", Align::right});
  TextTable table(std::move(columns));
  bool any = false;
  for (const ServiceStatus& s : report.services) {
    if (s.kind != kind) continue;
    any = true;
    std::vector<std::string> row = {escape_terminal(s.service), escape_terminal(s.address), peer_list(s.peers),
                                    std::to_string(s.streams_open), std::to_string(s.streams_total)};
    if (forward) row.push_back(std::to_string(s.unavailable));
    row.push_back(std::to_string(s.errors));
    table.add_row(std::move(row));
  }
  if (!any) return;
  out.blank();
  out.lines({forward ? "forwards:" : "exposes:"});
  out.lines(table.lines(indent, width));
}

}  // namespace

std::string render_text(const StatusReport& report) {
  Text out;
  interface_block(out, report);
  for (const PeerStatus& peer : report.peers) {
    out.blank();
    peer_block(out, peer);
  }
  service_table(out, report, "forward", "LISTEN");
  service_table(out, report, "expose", "TARGET");
  return out.str();
}

}  // namespace mailtun::cli
