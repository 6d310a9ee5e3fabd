#pragma once
// A minimal HTTP/1.1 listener for operators' probes (/metrics, /healthz) on
// the daemon's io_context: GET only, one request per connection, requests
// bounded to 8 KiB and 5 s, then the connection closes. Bind it to loopback
// (the default) or put it behind a proxy; it serves no secrets.

#include <functional>
#include <memory>
#include <string>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded in C++20

#include <boost/asio.hpp>

#include "autodistill/status.hpp"

namespace autodistill::daemon {

class HttpServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  // Called on the loop thread with the request path (query stripped).
  using Handler = std::function<Response(const std::string& path)>;

  // Listens on "host:port" (port 0 picks a free one).
  static Result<std::unique_ptr<HttpServer>> start(boost::asio::io_context& io,
                                                   const std::string& listen, Handler handler);
  uint16_t port() const;
  void stop();

 private:
  HttpServer(boost::asio::io_context& io, Handler handler);
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
};

}  // namespace autodistill::daemon
