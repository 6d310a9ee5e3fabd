#pragma once
// A minimal HTTP/1.1 listener on the daemon's io_context, for operators'
// probes (/metrics, /healthz) and the read-only web view (web/): GET only,
// one request per connection, requests bounded to 8 KiB and 5 s, then the
// connection closes. Bind it to loopback (the default) or put it behind a
// proxy; the web view's access rules are in web/web_view.hpp.

#include <functional>
#include <memory>
#include <string>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded in C++20
#include <variant>
#include <vector>

#include <boost/asio.hpp>

#include "autodistill/status.hpp"

namespace autodistill::daemon {

class HttpServer {
 public:
  struct Request {
    std::string path;           // the target up to '?', as sent (not decoded)
    std::string query;          // after '?', as sent; empty when none
    std::string authorization;  // the Authorization header's value; empty when none
  };
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // Extra header lines (name, value); values must not hold CR or LF.
    std::vector<std::pair<std::string, std::string>> headers = {};
  };
  // Called on the loop thread for every well-formed GET. An exception it
  // throws is answered 500 (the daemon keeps serving).
  using Handler = std::function<Response(const Request& request)>;

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

// Parses a request head (the bytes up to and including the blank line,
// at most 8 KiB): the Request, or the answer to a request that is not a
// well-formed GET (405 for another method, 400 for a bad request line).
// Header lines other than Authorization are ignored; a later Authorization
// line replaces an earlier one. Pure; total on any bytes (fuzzed:
// tests/fuzz/http_fuzz.cpp).
std::variant<HttpServer::Request, HttpServer::Response> parse_request_head(const std::string& head);

// Whether "host:port" names a loopback address (127.0.0.0/8, localhost, [::1]).
bool is_loopback_listen(const std::string& listen);

}  // namespace autodistill::daemon
