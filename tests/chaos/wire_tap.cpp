#include "wire_tap.hpp"

#include <future>
#include <memory>
#include <zmq.hpp>

#include "autodistill/wire/codec.hpp"

namespace autodistill::chaos {

namespace {
constexpr zmq::send_flags kMore = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
}  // namespace

WireTap::WireTap(std::string daemon_endpoint) {
  std::promise<std::string> bound;
  auto ready = bound.get_future();
  thread_ = std::thread(&WireTap::run, this, std::move(daemon_endpoint), std::move(bound));
  endpoint_ = ready.get();
}

void WireTap::run(std::string daemon_endpoint, std::promise<std::string> bound) {
  zmq::context_t ctx;
  zmq::socket_t front(ctx, zmq::socket_type::router);
  front.set(zmq::sockopt::linger, 0);
  front.bind("tcp://127.0.0.1:*");
  bound.set_value(front.get(zmq::sockopt::last_endpoint));
  // One DEALER towards the daemon per worker connection (routing id).
  std::map<std::string, std::unique_ptr<zmq::socket_t>> backs;
  std::vector<zmq::pollitem_t> items;
  std::vector<std::pair<const std::string*, zmq::socket_t*>> order;
  while (!stop_.load()) {
    items.assign(1, {front.handle(), 0, ZMQ_POLLIN, 0});
    order.clear();
    for (auto& [id, socket] : backs) {
      items.push_back({socket->handle(), 0, ZMQ_POLLIN, 0});
      order.emplace_back(&id, socket.get());
    }
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(20));
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t id, body;
      while (front.recv(id, zmq::recv_flags::dontwait)) {
        if (!id.more() || !front.recv(body, zmq::recv_flags::dontwait)) continue;
        std::string key(id.data<char>(), id.size());
        auto& back = backs[key];
        if (!back) {
          back = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
          back->set(zmq::sockopt::linger, 0);
          back->connect(daemon_endpoint);
        }
        record_from_worker(body.data(), body.size());
        // Forward every frame as it came (the daemon judges multi-frame input).
        bool more = body.more();
        back->send(body, more ? kMore : zmq::send_flags::dontwait);
        while (more) {
          zmq::message_t rest;
          if (!front.recv(rest, zmq::recv_flags::dontwait)) break;
          more = rest.more();
          back->send(rest, more ? kMore : zmq::send_flags::dontwait);
        }
      }
    }
    for (size_t i = 0; i < order.size(); ++i) {
      if (!(items[i + 1].revents & ZMQ_POLLIN)) continue;
      zmq::message_t body;
      while (order[i].second->recv(body, zmq::recv_flags::dontwait)) {
        record_from_daemon(body.data(), body.size());
        front.send(zmq::buffer(*order[i].first), kMore);
        front.send(body, zmq::send_flags::dontwait);
      }
    }
  }
}

WireTap::~WireTap() {
  stop_.store(true);
  thread_.join();
}

std::vector<TrialKey> WireTap::acks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acks_;
}

std::map<TrialKey, std::map<std::string, double>> WireTap::results() const {
  std::lock_guard<std::mutex> lock(mu_);
  return results_;
}

void WireTap::record_from_worker(const void* data, size_t size) {
  auto envelope = wire::decode(data, size);
  if (!envelope) return;
  if (const auto* r = envelope->body.AsResult()) {
    std::map<std::string, double> objectives;
    for (const auto& m : r->objectives) {
      if (m) objectives[m->name] = m->value;
    }
    std::lock_guard<std::mutex> lock(mu_);
    results_[{r->trial_id, r->attempt}] = std::move(objectives);
  }
}

void WireTap::record_from_daemon(const void* data, size_t size) {
  auto envelope = wire::decode(data, size);
  if (!envelope) return;
  if (const auto* a = envelope->body.AsAck()) {
    std::lock_guard<std::mutex> lock(mu_);
    acks_.emplace_back(a->trial_id, a->attempt);
  }
}

}  // namespace autodistill::chaos
