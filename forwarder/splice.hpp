#pragma once
// Joins one local TCP socket to one tunnel stream, both directions, with backpressure: the local
// socket is read only while the stream has send credit (none while the tunnel's write queue is
// full, whatever the peer granted: Connection::send_credit), and stream credit is returned only as
// bytes are written to the local socket. So a local peer that stops reading stalls its own stream
// and nothing else, and buffering is bounded by the window.

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "forwarder/counters.hpp"
#include "forwarder/service.hpp"
#include "tunnel/asio/connection.hpp"

namespace mailtun::forwarder {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Splice : public tunnel::asio::StreamSink, public std::enable_shared_from_this<Splice> {
 public:
  enum class Side {
    forward,  // our local client connected to a forward; the service is at the peer
    expose,   // the peer's client; we connected to the local service
  };

  /// `prefix` is written to the local socket before any stream data (a PROXY header).
  Splice(Side side, tcp::socket local, std::shared_ptr<tunnel::asio::Connection> connection, tunnel::StreamId id,
         Protocol protocol, std::shared_ptr<ServiceCounters> counters, std::string service, std::string peer_name,
         std::vector<std::uint8_t> prefix = {});
  ~Splice() override;

  /// Begins moving bytes. Stream data that arrived before (an expose still connecting) is kept.
  void start();
  /// The local socket could not be had (expose target down): nothing more to do.
  void abandon();
  /// For an expose to connect before start().
  tcp::socket& local_socket() { return local_; }

  void on_data(tunnel::Bytes data) override;
  void on_fin() override;
  void on_reset(const tunnel::StreamReset& reset) override;
  void on_writable() override;

 private:
  void read_local();
  void on_local_readable();
  void write_local();
  void maybe_finish();
  void reset_local();
  void close_local();

  Side side_;
  tcp::socket local_;
  std::weak_ptr<tunnel::asio::Connection> connection_;
  tunnel::StreamId id_;
  Protocol protocol_;
  std::shared_ptr<ServiceCounters> counters_;  // shared: a splice may outlive its forward
  std::string service_;
  std::string peer_name_;

  std::vector<std::uint8_t> pending_;  // for the local socket; bounded by the stream window + prefix
  std::size_t prefix_left_;            // leading bytes of pending_ that are not stream data
  bool started_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool local_eof_ = false;       // we sent FIN
  bool remote_fin_ = false;      // peer sent FIN: shut our write side once pending_ is out
  bool write_shut_ = false;
  bool received_any_ = false;    // the service said something: a later failure is a reset, not 421
  bool sent_any_ = false;        // the client said something: likewise
  bool done_ = false;
};

}  // namespace mailtun::forwarder
