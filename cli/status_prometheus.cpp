// The status report in the Prometheus text exposition format 0.0.4, for `metrics_listen`.
// Every sample carries `interface`; peer samples add `peer`, service samples `kind`, `service`
// and `address` (a forward's listen address, an expose's target: two forwards may share a
// service name, and a scrape with two identical series is rejected whole).

#include <fmt/format.h>

#include <functional>

#include "cli/status_report.hpp"

namespace mailtun::cli {

namespace {

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
std::string label_value(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

std::string labels_text(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels)
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", name, label_value(value));
  return "{" + out + "}";
}

/// A sample's value as text: counters print as integers, exactly, however large.
using Value = std::optional<std::string>;

struct Sample {
  Labels labels;
  Value value;
};

Value count(std::uint64_t n) { return std::to_string(n); }
/// Nine significant digits: 0.42 ms reads 0.00042, not 0.00041999999999999996.
Value gauge(double x) { return fmt::format("{:.9g}", x); }

class Exposition {
 public:
  /// One metric family: HELP and TYPE, then a sample for each item that has a value.
  template <typename Item, typename ToSample>
  void family(std::string_view name, std::string_view type, std::string_view help, const std::vector<Item>& items,
              ToSample sample) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const Item& item : items) {
      const auto [labels, value] = sample(item);
      if (value) out_ += fmt::format("{}{} {}\n", name, labels_text(labels), *value);
    }
  }
  [[nodiscard]] std::string str() && { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string render_prometheus(const StatusReport& report) {
  const std::string_view interface = report.interface;
  const auto peer = [&](std::function<Value(const PeerStatus&)> value) {
    return [interface, value = std::move(value)](const PeerStatus& p) {
      return Sample{{{"interface", interface}, {"peer", p.name}}, value(p)};
    };
  };
  const auto service = [&](std::function<Value(const ServiceStatus&)> value) {
    return [interface, value = std::move(value)](const ServiceStatus& s) {
      return Sample{{{"interface", interface}, {"kind", s.kind}, {"service", s.service}, {"address", s.address}},
                    value(s)};
    };
  };
  const auto& peers = report.peers;
  const auto& services = report.services;

  Exposition out;
  out.family("mailtun_peer_up", "gauge", "1 if the peer has a ready tunnel connection, else 0.", peers,
             peer([](const PeerStatus& p) { return count(p.state == "up" ? 1 : 0); }));
  out.family("mailtun_peer_bytes_received_total", "counter", "Tunnel bytes received from the peer.", peers,
             peer([](const PeerStatus& p) { return count(p.bytes_in); }));
  out.family("mailtun_peer_bytes_sent_total", "counter", "Tunnel bytes sent to the peer.", peers,
             peer([](const PeerStatus& p) { return count(p.bytes_out); }));
  out.family("mailtun_peer_streams_open", "gauge", "Streams open with the peer.", peers,
             peer([](const PeerStatus& p) { return count(p.streams_open); }));
  out.family("mailtun_peer_streams_total", "counter", "Streams opened with the peer, either way.", peers,
             peer([](const PeerStatus& p) { return count(p.streams_total); }));
  out.family("mailtun_peer_reconnects_total", "counter", "Tunnel connections to the peer lost.", peers,
             peer([](const PeerStatus& p) { return count(p.reconnects); }));
  out.family("mailtun_peer_last_handshake_seconds", "gauge",
             "Seconds since the latest handshake with the peer; absent before the first.", peers,
             peer([](const PeerStatus& p) {
               return p.seconds_since_handshake ? gauge(*p.seconds_since_handshake) : std::nullopt;
             }));
  out.family("mailtun_peer_session_age_seconds", "gauge",
             "Seconds the current session with the peer has been up; absent when it is not up.", peers,
             peer([](const PeerStatus& p) { return p.session_age_seconds ? gauge(*p.session_age_seconds) : std::nullopt; }));
  out.family("mailtun_peer_rtt_seconds", "gauge", "Latest PING/PONG round trip on the peer's connection.", peers,
             peer([](const PeerStatus& p) { return p.rtt_ms ? gauge(*p.rtt_ms / 1000) : std::nullopt; }));
  out.family("mailtun_service_streams_open", "gauge", "Streams open through the forward or expose.", services,
             service([](const ServiceStatus& s) { return count(s.streams_open); }));
  out.family("mailtun_service_streams_total", "counter", "Streams through the forward or expose.", services,
             service([](const ServiceStatus& s) { return count(s.streams_total); }));
  out.family("mailtun_service_unavailable_total", "counter",
             "Clients a forward answered \"unavailable\" (421 for LMTP and SMTP).", services,
             service([](const ServiceStatus& s) { return count(s.unavailable); }));
  out.family("mailtun_service_errors_total", "counter", "Streams refused or reset before completing.", services,
             service([](const ServiceStatus& s) { return count(s.errors); }));
  const std::vector<std::pair<std::string, std::uint64_t>> reasons(report.rejected_handshakes.begin(),
                                                                   report.rejected_handshakes.end());
  out.family("mailtun_handshakes_rejected_total", "counter", "Tunnel handshakes refused, by reason.", reasons,
             [interface](const std::pair<std::string, std::uint64_t>& r) {
               return Sample{{{"interface", interface}, {"reason", r.first}}, count(r.second)};
             });
  return std::move(out).str();
}

}  // namespace mailtun::cli
