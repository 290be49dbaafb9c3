#include "forwarder/splice.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "forwarder/unavailable_reply.hpp"
#include "tunnel/printable.hpp"

namespace mailtun::forwarder {
namespace {

// Local reads go through one buffer shared by every splice on the (single) I/O thread, so an idle
// stream holds no read buffer at all. A read of several whole DATA frames' worth becomes that many
// full records and, with the tunnel queue empty, one write (docs/benchmarks.md, "The data path").
constexpr std::size_t local_read_size = 4 * tunnel::max_data_per_record;
std::vector<std::uint8_t>& shared_read_buffer() {
  thread_local std::vector<std::uint8_t> buffer(local_read_size);
  return buffer;
}

// A read waits until the stream has credit for at least one full record: one that takes whatever
// crumb of credit a WINDOW left would become a small record, and the next several more. The peer
// returns credit in quarters of its window as its socket takes the data (docs/design.md §4.3), so
// this much always comes back unless the stream is stalled anyway.
std::size_t worth_reading(const tunnel::asio::Connection& connection) {
  return std::min<std::size_t>(tunnel::max_data_per_record, connection.session().limits().initial_window / 4);
}

bool would_block(const boost::system::error_code& ec) {
  return ec == net::error::would_block || ec == net::error::try_again;
}

}  // namespace

Splice::Splice(Side side, tcp::socket local, std::shared_ptr<tunnel::asio::Connection> connection, tunnel::StreamId id,
               Protocol protocol, std::shared_ptr<ServiceCounters> counters, std::string service, std::string peer_name,
               std::vector<std::uint8_t> prefix)
    : side_(side),
      local_(std::move(local)),
      connection_(connection),
      id_(id),
      protocol_(protocol),
      counters_(std::move(counters)),
      service_(std::move(service)),
      peer_name_(std::move(peer_name)),
      pending_(std::move(prefix)),
      prefix_left_(pending_.size()) {
  ++counters_->active;
}

Splice::~Splice() { --counters_->active; }

void Splice::start() {
  boost::system::error_code ignored;
  local_.set_option(tcp::no_delay(true), ignored);
  local_.non_blocking(true, ignored);
  started_ = true;
  write_local();  // what arrived before the start, or the end if that came too
  read_local();
}

void Splice::abandon() {
  done_ = true;
  close_local();
}

// ---- local → stream ---------------------------------------------------------------------------

void Splice::read_local() {
  if (!started_ || reading_ || local_eof_ || done_) return;
  auto connection = connection_.lock();
  if (!connection || connection->send_credit(id_) < worth_reading(*connection)) return;  // on_writable() resumes
  reading_ = true;
  local_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->reading_ = false;
    if (self->done_) return;
    if (ec) return self->reset_local();
    self->on_local_readable();
  });
}

void Splice::on_local_readable() {
  auto connection = connection_.lock();
  if (!connection) return reset_local();
  auto& buffer = shared_read_buffer();
  const std::size_t credit = connection->send_credit(id_);
  if (credit < worth_reading(*connection)) return;  // on_writable() resumes
  boost::system::error_code ec;
  const std::size_t n = local_.read_some(net::buffer(buffer.data(), std::min(credit, buffer.size())), ec);
  if (would_block(ec)) return read_local();
  if (ec == net::error::eof) {
    local_eof_ = true;
    connection->finish(id_);
    return maybe_finish();
  }
  if (ec) {
    // The local client reset or failed: the other side must not mistake this for a clean end.
    spdlog::debug("service {}: stream {}: local read failed: {}", service_, id_, ec.message());
    connection->reset(id_, tunnel::ResetCode::internal, "client connection failed");
    ++counters_->refused;
    return abandon();
  }
  sent_any_ = true;
  counters_->bytes_to_peer += connection->send(id_, tunnel::Bytes(buffer.data(), n));
  read_local();
}

void Splice::on_writable() { read_local(); }

// ---- stream → local ---------------------------------------------------------------------------

void Splice::on_data(tunnel::Bytes data) {
  if (done_) return;
  received_any_ = true;
  counters_->bytes_from_peer += data.size();
  if (pending_.empty() && started_ && !writing_) {
    // Fast path: straight into the socket; only what the kernel does not take is copied.
    boost::system::error_code ec;
    const std::size_t n = local_.write_some(net::buffer(data.data(), data.size()), ec);
    if (ec && !would_block(ec)) return reset_local();
    const std::size_t written = ec ? 0 : n;
    if (written > 0) {
      if (auto connection = connection_.lock()) connection->consumed(id_, written);
    }
    data = data.subspan(written);
    if (data.empty()) return;
  }
  pending_.insert(pending_.end(), data.begin(), data.end());
  write_local();
}

void Splice::write_local() {
  if (!started_ || writing_ || done_) return;
  if (pending_.empty()) return maybe_finish();
  writing_ = true;
  local_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->writing_ = false;
    if (self->done_) return;
    if (ec) return self->reset_local();
    boost::system::error_code wec;
    const std::size_t n = self->local_.write_some(net::buffer(self->pending_), wec);
    if (wec && !would_block(wec)) return self->reset_local();
    const std::size_t written = wec ? 0 : n;
    const std::size_t prefix = std::min(written, self->prefix_left_);
    self->prefix_left_ -= prefix;
    self->pending_.erase(self->pending_.begin(), self->pending_.begin() + static_cast<std::ptrdiff_t>(written));
    if (written > prefix) {
      if (auto connection = self->connection_.lock()) connection->consumed(self->id_, written - prefix);
    }
    self->write_local();
  });
}

void Splice::on_fin() {
  remote_fin_ = true;
  maybe_finish();
}

void Splice::maybe_finish() {
  if (done_ || !started_) return;
  if (remote_fin_ && pending_.empty() && !write_shut_) {
    boost::system::error_code ignored;
    local_.shutdown(tcp::socket::shutdown_send, ignored);
    write_shut_ = true;
  }
  if (local_eof_ && write_shut_) {
    done_ = true;
    close_local();
  }
}

// ---- failure ----------------------------------------------------------------------------------

void Splice::on_reset(const tunnel::StreamReset& reset) {
  if (done_) return;
  done_ = true;
  if (side_ == Side::forward && !received_any_ && !sent_any_) {
    ++counters_->unavailable;
    // Refused before anything moved: answer in the client's own protocol so Postfix defers with a
    // reason instead of a bare "lost connection" (DESIGN §5). Once the client has sent anything,
    // a clean close could pass for success, so that case is a reset like any other.
    // The reply names the cause a mail admin can act on: the peer's refusal, or the lost tunnel.
    std::string why;
    if (reset.by_peer) {
      spdlog::info("service {}: stream refused by peer {}: {}{}{}", service_, peer_name_, tunnel::to_string(reset.code),
                   reset.reason.empty() ? "" : ": ", tunnel::printable(reset.reason));
      why = "mailtun: service " + service_ + " at peer " + peer_name_ + ": " + std::string(tunnel::to_string(reset.code));
    } else {
      why = "mailtun: peer " + peer_name_ + " unavailable (tunnel connection lost)";
    }
    const auto reply = unavailable_reply(protocol_, why);
    boost::system::error_code ignored;
    local_.non_blocking(true, ignored);
    local_.write_some(net::buffer(reply), ignored);  // a short line always fits the socket buffer
    return close_local();
  }
  ++counters_->refused;
  spdlog::debug("service {}: stream {} reset: {} {}", service_, id_, tunnel::to_string(reset.code),
                tunnel::printable(reset.reason));
  reset_local();
}

void Splice::reset_local() {
  done_ = true;
  // SO_LINGER 0: the client sees a reset, never a clean end that could pass for success.
  boost::system::error_code ignored;
  local_.set_option(net::socket_base::linger(true, 0), ignored);
  local_.close(ignored);
  if (auto connection = connection_.lock()) {
    connection->reset(id_, tunnel::ResetCode::internal, "local connection failed");
  }
}

void Splice::close_local() {
  boost::system::error_code ignored;
  local_.shutdown(tcp::socket::shutdown_both, ignored);
  local_.close(ignored);
}

}  // namespace mailtun::forwarder
