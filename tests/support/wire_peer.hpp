#pragma once
// A raw protocol peer (DEALER) for integration tests and benchmarks: sends
// envelopes and waits for replies, with nothing of the client library or the
// worker loop in between.

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "autodistill/wire/codec.hpp"
#include "autodistill/wire/curve.hpp"

namespace autodistill::testing {

class WirePeer {
 public:
  WirePeer(zmq::context_t& ctx, const std::string& endpoint,
           const wire::CurveClientKeys& curve = {})
      : socket_(ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    wire::apply_curve_client(socket_.handle(), curve);
    socket_.connect(endpoint);
  }

  zmq::socket_t& socket() { return socket_; }

  template <class T>
  void send(T body, uint64_t request_id = 0) {
    std::string bytes = wire::encode_message(request_id, std::move(body));
    socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
  }
  void send_raw(const std::string& bytes) {
    socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
  }

  // The next message, or nullopt after `timeout`.
  std::optional<wire::EnvelopeT> receive(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
    zmq::message_t msg;
    if (!socket_.recv(msg, zmq::recv_flags::dontwait)) return std::nullopt;
    auto env = wire::decode(msg.data(), msg.size());
    if (!env) return std::nullopt;
    return std::move(env.value());
  }

  // Sends a request and waits for the reply carrying its request_id.
  template <class T>
  std::optional<wire::EnvelopeT> call(
      T body, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const uint64_t rid = ++next_id_;
    send(std::move(body), rid);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto env = receive(left);
      if (env && env->request_id == rid) return env;
    }
    return std::nullopt;
  }

 private:
  zmq::socket_t socket_;
  uint64_t next_id_ = 0;
};

// Polls `call` until the daemon answers (it may still be starting).
template <class Fn>
bool wait_until(Fn fn, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace autodistill::testing
