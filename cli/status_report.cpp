// The status report as JSON: what the control socket sends and `mailtun status --json` prints.

#include "cli/status_report.hpp"

#include <nlohmann/json.hpp>

namespace mailtun::cli {

namespace {

// Fields in the order of status_report.hpp, for people reading --json.
using json = nlohmann::ordered_json;

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

json peer_json(const PeerStatus& peer) {
  return {{"name", peer.name},
          {"public_key", peer.public_key},
          {"state", peer.state},
          {"endpoint", peer.endpoint},
          {"seconds_since_handshake", optional_number(peer.seconds_since_handshake)},
          {"session_age_seconds", optional_number(peer.session_age_seconds)},
          {"rtt_ms", optional_number(peer.rtt_ms)},
          {"bytes_in", peer.bytes_in},
          {"bytes_out", peer.bytes_out},
          {"streams_open", peer.streams_open},
          {"streams_total", peer.streams_total},
          {"reconnects", peer.reconnects},
          {"last_error", peer.last_error}};
}

json service_json(const ServiceStatus& service) {
  return {{"kind", service.kind},
          {"service", service.service},
          {"address", service.address},
          {"peers", service.peers},
          {"streams_open", service.streams_open},
          {"streams_total", service.streams_total},
          {"unavailable", service.unavailable},
          {"errors", service.errors}};
}

/// Reads the fields of one JSON object, naming the field's path ("peers[1].rtt_ms") in errors.
class FieldReader {
 public:
  FieldReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) fail_at(path_.empty() ? "the report" : path_, "an object");
  }

  void read(const char* key, std::string& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_string()) fail(key, "a string");
    out = v->get<std::string>();
  }
  void read(const char* key, std::uint64_t& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_number_unsigned()) fail(key, "a count (an unsigned integer)");
    out = v->get<std::uint64_t>();
  }
  void read(const char* key, double& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_number()) fail(key, "a number");
    out = v->get<double>();
  }
  void read(const char* key, std::optional<double>& out) const {
    const json* v = find(key);
    if (v == nullptr || v->is_null()) return;
    if (!v->is_number()) fail(key, "a number or null");
    out = v->get<double>();
  }
  void read(const char* key, std::vector<std::string>& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_array()) fail(key, "an array of strings");
    for (const json& item : *v) {
      if (!item.is_string()) fail(key, "an array of strings");
      out.push_back(item.get<std::string>());
    }
  }
  void read(const char* key, std::map<std::string, std::uint64_t>& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_object()) fail(key, "an object of counts");
    for (const auto& [name, count] : v->items()) {
      if (!count.is_number_unsigned()) fail(key, "an object of counts");
      out[name] = count.get<std::uint64_t>();
    }
  }
  /// Calls `read_item(FieldReader, T&)` for each object of the array at `key`.
  template <typename T, typename ReadItem>
  void read_array(const char* key, std::vector<T>& out, ReadItem read_item) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_array()) fail(key, "an array");
    for (std::size_t i = 0; i < v->size(); ++i) {
      read_item(FieldReader((*v)[i], field(key) + "[" + std::to_string(i) + "]"), out.emplace_back());
    }
  }
  [[nodiscard]] bool has(const char* key) const { return object_.contains(key); }

 private:
  [[nodiscard]] const json* find(const char* key) const {
    const auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  [[nodiscard]] std::string field(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] static void fail_at(const std::string& where, const char* expected) {
    throw StatusFormatError("status report: " + where + ": expected " + expected);
  }
  [[noreturn]] void fail(const char* key, const char* expected) const { fail_at(field(key), expected); }

  const json& object_;
  std::string path_;
};

void read_peer(const FieldReader& r, PeerStatus& peer) {
  r.read("name", peer.name);
  r.read("public_key", peer.public_key);
  r.read("state", peer.state);
  r.read("endpoint", peer.endpoint);
  r.read("seconds_since_handshake", peer.seconds_since_handshake);
  r.read("session_age_seconds", peer.session_age_seconds);
  r.read("rtt_ms", peer.rtt_ms);
  r.read("bytes_in", peer.bytes_in);
  r.read("bytes_out", peer.bytes_out);
  r.read("streams_open", peer.streams_open);
  r.read("streams_total", peer.streams_total);
  r.read("reconnects", peer.reconnects);
  r.read("last_error", peer.last_error);
}

void read_service(const FieldReader& r, ServiceStatus& service) {
  r.read("kind", service.kind);
  r.read("service", service.service);
  r.read("address", service.address);
  r.read("peers", service.peers);
  r.read("streams_open", service.streams_open);
  r.read("streams_total", service.streams_total);
  r.read("unavailable", service.unavailable);
  r.read("errors", service.errors);
}

}  // namespace

std::string to_json(const StatusReport& report) {
  json peers = json::array();
  for (const PeerStatus& peer : report.peers) peers.push_back(peer_json(peer));
  json services = json::array();
  for (const ServiceStatus& service : report.services) services.push_back(service_json(service));
  const json document = {{"interface", report.interface},   {"public_key", report.public_key},
                         {"listen", report.listen},         {"uptime_seconds", report.uptime_seconds},
                         {"version", report.version},       {"peers", std::move(peers)},
                         {"services", std::move(services)}, {"rejected_handshakes", report.rejected_handshakes}};
  // A peer's RST reason reaches last_error unchecked; the default handler would throw on it.
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

StatusReport status_from_json(std::string_view text) {
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) throw StatusFormatError("status report: not valid JSON");
  const FieldReader r(document, "");
  if (!r.has("interface")) throw StatusFormatError("status report: no \"interface\" field");
  StatusReport report;
  r.read("interface", report.interface);
  r.read("public_key", report.public_key);
  r.read("listen", report.listen);
  r.read("uptime_seconds", report.uptime_seconds);
  r.read("version", report.version);
  r.read_array("peers", report.peers, read_peer);
  r.read_array("services", report.services, read_service);
  r.read("rejected_handshakes", report.rejected_handshakes);
  return report;
}

}  // namespace mailtun::cli
