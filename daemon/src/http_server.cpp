#include "http_server.hpp"

#include <cctype>
#include <chrono>
#include <exception>
#include <sstream>

namespace autodistill::daemon {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxRequestBytes = 8192;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Error";
}

bool iequals(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return i == a.size() && b[i] == '\0';
}

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// One connection: read the request head, answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Handler& handler)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(kMaxRequestBytes),
        handler_(handler) {}

  void start() {
    auto self = shared_from_this();
    timer_.expires_after(std::chrono::seconds(5));
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->socket_.close();
    });
    asio::async_read_until(
        socket_, buffer_, "\r\n\r\n",
        [self](const boost::system::error_code& ec, size_t) { self->on_request(ec); });
  }

 private:
  void on_request(const boost::system::error_code& ec) {
    HttpServer::Response response;
    if (ec) {
      if (ec == asio::error::operation_aborted || !socket_.is_open()) return;
      response = {400, "text/plain; charset=utf-8", "bad request\n"};
    } else {
      response = answer();
    }
    out_ = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) +
           "\r\nContent-Type: " + response.content_type +
           "\r\nContent-Length: " + std::to_string(response.body.size()) +
           "\r\nConnection: close\r\n";
    for (const auto& [name, value] : response.headers) out_ += name + ": " + value + "\r\n";
    out_ += "\r\n" + response.body;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_),
                      [self](const boost::system::error_code&, size_t) {
                        boost::system::error_code ignored;
                        self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
                        self->socket_.close(ignored);
                        self->timer_.cancel();
                      });
  }

  // Parses the request head in buffer_ and asks the handler.
  HttpServer::Response answer() {
    const std::string head(asio::buffers_begin(buffer_.data()), asio::buffers_end(buffer_.data()));
    auto parsed = parse_request_head(head);
    if (auto* refusal = std::get_if<HttpServer::Response>(&parsed)) return std::move(*refusal);
    try {
      return handler_(std::get<HttpServer::Request>(parsed));
    } catch (const std::exception& e) {
      return {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
    }
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  HttpServer::Handler& handler_;
  std::string out_;
};

}  // namespace

HttpServer::HttpServer(asio::io_context& io, Handler handler)
    : acceptor_(io), handler_(std::move(handler)) {}

namespace {

// The host of "host:port", brackets removed.
std::string host_of(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace

bool is_loopback_listen(const std::string& listen) {
  if (listen.rfind(':') == std::string::npos) return false;
  const std::string host = host_of(listen);
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(asio::io_context& io,
                                                      const std::string& listen, Handler handler) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status(Code::kInvalidArgument, "expected host:port, got \"" + listen + "\"",
                  "http_listen");
  }
  const std::string host = host_of(listen);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status(Code::kInvalidArgument, "bad address \"" + host + "\"", "http_listen");
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Status(Code::kInvalidArgument, "bad port in \"" + listen + "\"", "http_listen");
  }
  std::unique_ptr<HttpServer> server(new HttpServer(io, std::move(handler)));
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  server->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) server->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) server->acceptor_.bind(endpoint, ec);
  if (!ec) server->acceptor_.listen(64, ec);
  if (ec) {
    return Status(Code::kUnavailable, "cannot listen on " + listen + ": " + ec.message(),
                  "http_listen");
  }
  server->accept();
  return server;
}

std::variant<HttpServer::Request, HttpServer::Response> parse_request_head(
    const std::string& head) {
  std::istringstream lines(head.substr(0, head.find("\r\n\r\n")));
  std::string line;
  std::getline(lines, line);
  std::istringstream request_line(line);
  std::string method, target, version;
  request_line >> method >> target >> version;
  if (method != "GET") {
    return HttpServer::Response{405, "text/plain; charset=utf-8", "only GET is served\n"};
  }
  if (version.rfind("HTTP/1.", 0) != 0 || target.empty() || target[0] != '/') {
    return HttpServer::Response{400, "text/plain; charset=utf-8", "bad request\n"};
  }
  HttpServer::Request request;
  const size_t q = target.find('?');
  request.path = target.substr(0, q);
  if (q != std::string::npos) request.query = target.substr(q + 1);
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon != std::string::npos && iequals(line.substr(0, colon), "authorization")) {
      request.authorization = trim(line.substr(colon + 1));
    }
  }
  return request;
}

uint16_t HttpServer::port() const {
  return acceptor_.local_endpoint().port();
}

void HttpServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void HttpServer::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec) return;  // closed
    std::make_shared<Session>(std::move(socket), handler_)->start();
    accept();
  });
}

}  // namespace autodistill::daemon
