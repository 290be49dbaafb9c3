// The Prometheus endpoint. Flow: accept() takes a client; Client reads one request head with
// Beast's parser under one deadline for the whole exchange, writes the answer and closes.

#include "cli/metrics_server.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <stdexcept>

namespace mailtun::cli {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::string_view metrics_path = "/metrics";
constexpr std::string_view exposition_type = "text/plain; version=0.0.4";

using Request = http::request<http::empty_body>;
using Response = http::response<http::string_body>;

Response plain(http::status status, unsigned version, std::string body) {
  Response response(status, version);
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(body);
  return response;
}

/// The answer to one request.
Response answer(const Request& request, const MetricsServer::Provider& provider) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != metrics_path) return plain(http::status::not_found, request.version(), "not found; try /metrics\n");
  if (request.method() != http::verb::get) {
    Response response = plain(http::status::method_not_allowed, request.version(), "only GET\n");
    response.set(http::field::allow, "GET");
    return response;
  }
  Response response(http::status::ok, request.version());
  response.set(http::field::content_type, exposition_type);
  response.body() = render_prometheus(provider());
  return response;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class MetricsServer::Client : public std::enable_shared_from_this<Client> {
 public:
  Client(tcp::socket socket, std::weak_ptr<MetricsServer> server)
      : stream_(std::move(socket)), buffer_(max_request_head), server_(std::move(server)) {
    parser_.header_limit(static_cast<std::uint32_t>(max_request_head));
  }

  void start(std::chrono::milliseconds timeout) {
    stream_.expires_after(timeout);  // covers the read and the write
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
  }

  void close() { stream_.close(); }

 private:
  void on_request(beast::error_code ec) {
    const auto server = server_.lock();
    if (!server || ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return done();
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      response_ = plain(http::status::request_header_fields_too_large, 11, "request head too large\n");
    } else if (ec) {
      response_ = plain(http::status::bad_request, 11, "bad request\n");
    } else {
      response_ = answer(parser_.get(), server->provider_);
    }
    response_.keep_alive(false);
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->done();
    });
  }

  void done() {
    close();
    if (const auto server = server_.lock()) server->finished(shared_from_this());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  Response response_;
  std::weak_ptr<MetricsServer> server_;
};

// ---------------------------------------------------------------------------------------------

MetricsServer::MetricsServer(net::any_io_executor executor, tcp::endpoint listen, Provider provider,
                             std::chrono::milliseconds client_timeout)
    : acceptor_(executor),
      pause_(executor),
      listen_(listen),
      provider_(std::move(provider)),
      client_timeout_(client_timeout) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  boost::system::error_code ec;
  acceptor_.open(listen_.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(listen_, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    const std::string address =
        listen_.address().is_v6() ? "[" + listen_.address().to_string() + "]" : listen_.address().to_string();
    throw std::runtime_error("metrics_listen " + address + ":" + std::to_string(listen_.port()) +
                             ": cannot listen: " + ec.message());
  }
  accept();
}

void MetricsServer::stop() {
  boost::system::error_code ignored;
  pause_.cancel();
  acceptor_.close(ignored);
  for (const auto& client : std::set(clients_)) client->close();
  clients_.clear();
}

tcp::endpoint MetricsServer::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void MetricsServer::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) return self->pause_.after_error(ec, "metrics: accept", [self] { self->accept(); });
    self->pause_.succeeded();
    if (self->clients_.size() >= max_clients) {
      boost::system::error_code ignored;
      socket.close(ignored);  // busy: the scraper sees the connection closed and retries next interval
    } else {
      auto client = std::make_shared<Client>(std::move(socket), self);
      self->clients_.insert(client);
      client->start(self->client_timeout_);
    }
    self->accept();
  });
}

}  // namespace mailtun::cli
