#include "sim_fleet.hpp"

#include <map>
#include <memory>
#include <optional>
#include <random>

#include "autodistill/wire/codec.hpp"

namespace autodistill::chaos {

namespace {

using Clock = std::chrono::steady_clock;

struct Work {
  TrialKey key;
  Clock::time_point due;
  std::map<std::string, double> objectives;
};

// One simulated worker; `socket` is null between leaving and rejoining.
struct Sim {
  std::unique_ptr<zmq::socket_t> socket;
  std::string id;
  bool welcomed = false;
  std::chrono::milliseconds heartbeat{1000};
  uint32_t liveness = 3;
  std::optional<Work> work;
  std::map<TrialKey, std::string> outbox;  // encoded Results awaiting their Ack
  Clock::time_point next_heartbeat, next_resend, last_heard, rejoin_at;
};

// Objective j of a trial: the sum over its numeric params of (x - j)^2.
std::map<std::string, double> evaluate(const wire::AssignT& assign) {
  std::map<std::string, double> out;
  for (size_t j = 0; j < assign.objectives.size(); ++j) {
    double sum = 0;
    for (const auto& p : assign.params) {
      if (p && p->category.empty()) sum += (p->number - j) * (p->number - j);
    }
    out[assign.objectives[j]] = sum;
  }
  return out;
}

}  // namespace

SimFleet::SimFleet(zmq::context_t& ctx, FleetOptions options)
    : ctx_(ctx), options_(std::move(options)) {}

FleetReport SimFleet::run(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  FleetReport report;
  std::mt19937_64 rng(options_.seed);
  std::uniform_real_distribution<double> unit(0, 1);
  auto between = [&](std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    return std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(lo.count(), std::max(lo, hi).count())(rng));
  };
  size_t next_id = 0;
  std::vector<Sim> sims(options_.workers);

  auto send = [](Sim& s, std::string bytes) {
    s.socket->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  };
  auto pull = [&](Sim& s) {
    wire::PullT p;
    p.credits = 1;
    send(s, wire::encode_message(0, p));
  };
  auto hello = [&](Sim& s) {
    wire::HelloT h;
    h.worker_id = s.id;
    h.role = wire::Role::External;
    h.slots = 1;
    h.studies = {options_.study_id};
    auto running = [&](const TrialKey& key) {
      auto ref = std::make_unique<wire::TrialRefT>();
      ref->trial_id = key.first;
      ref->attempt = key.second;
      h.running.push_back(std::move(ref));
    };
    if (s.work) running(s.work->key);
    for (const auto& [key, bytes] : s.outbox) running(key);
    s.welcomed = false;
    s.last_heard = Clock::now();
    send(s, wire::encode_message(1, std::move(h)));
  };
  auto join = [&](Sim& s) {
    s = Sim{};
    s.socket = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    s.socket->set(zmq::sockopt::linger, 0);
    s.socket->connect(options_.endpoint);
    s.id = "churn-" + std::to_string(next_id++);
    report.joins++;
    hello(s);
  };
  auto leave = [&](Sim& s, bool bye) {
    if (bye) {
      wire::ByeT b;
      b.reason = "churn";
      send(s, wire::encode_message(0, std::move(b)));
      s.socket->set(zmq::sockopt::linger, 200);  // let the Bye out
    }
    s.socket.reset();
    s.welcomed = false;
    s.rejoin_at = Clock::now() + between(std::chrono::milliseconds(0), options_.max_rejoin_delay);
  };

  for (Sim& s : sims) join(s);
  const auto start = Clock::now();
  auto next_check = start;
  std::vector<zmq::pollitem_t> items;
  std::vector<Sim*> polled;
  while (true) {
    auto now = Clock::now();
    if (now >= next_check) {
      if (done()) {
        report.finished = true;
        break;
      }
      if (now - start > deadline) break;
      next_check = Clock::now() + std::chrono::milliseconds(200);
    }
    items.clear();
    polled.clear();
    for (Sim& s : sims) {
      if (!s.socket) continue;
      items.push_back({s.socket->handle(), 0, ZMQ_POLLIN, 0});
      polled.push_back(&s);
    }
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(2));
    for (size_t i = 0; i < polled.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      Sim& s = *polled[i];
      zmq::message_t msg;
      while (s.socket && s.socket->recv(msg, zmq::recv_flags::dontwait)) {
        auto envelope = wire::decode(msg.data(), msg.size());
        if (!envelope) continue;
        now = Clock::now();
        s.last_heard = now;
        if (const auto* w = envelope->body.AsWelcome()) {
          s.welcomed = true;
          s.heartbeat = std::chrono::milliseconds(std::max<uint32_t>(w->heartbeat_interval_ms, 1));
          s.liveness = std::max<uint32_t>(w->liveness, 1);
          s.next_heartbeat = now + s.heartbeat;
          s.next_resend = now + s.liveness * s.heartbeat;
          for (const auto& [key, bytes] : s.outbox) send(s, bytes);
          if (!s.work && s.outbox.empty()) pull(s);
        } else if (const auto* a = envelope->body.AsAssign()) {
          if (s.work) continue;
          const double r = unit(rng);
          if (r < options_.bye_holding_lease) {
            report.byes_holding_lease++;
            leave(s, true);
          } else if (r < options_.bye_holding_lease + options_.vanish_holding_lease) {
            report.vanished_holding_lease++;
            leave(s, false);
          } else {
            s.work = Work{{a->trial_id, a->attempt},
                          now + between(options_.min_work, options_.max_work),
                          evaluate(*a)};
          }
        } else if (const auto* ack = envelope->body.AsAck()) {
          const TrialKey key{ack->trial_id, ack->attempt};
          report.acks.push_back(key);
          if (s.outbox.erase(key) == 0 || s.work || !s.outbox.empty()) continue;
          const double r = unit(rng);
          if (r < options_.bye_when_idle) {
            report.byes_idle++;
            leave(s, true);
          } else if (r < options_.bye_when_idle + options_.vanish_when_idle) {
            report.vanished_idle++;
            leave(s, false);
          } else {
            pull(s);
          }
        } else if (const auto* c = envelope->body.AsCancel()) {
          if (s.work && s.work->key == TrialKey{c->trial_id, c->attempt}) {
            s.work.reset();
            if (s.outbox.empty()) pull(s);
          }
        } else if (const auto* e = envelope->body.AsError()) {
          if (e->code == wire::ErrorCode::UnknownPeer) hello(s);
        } else if (envelope->body.AsReject()) {
          leave(s, false);
        }
      }
    }
    now = Clock::now();
    size_t connected = 0;
    for (Sim& s : sims) {
      if (!s.socket) {
        if (now >= s.rejoin_at) join(s);
        continue;
      }
      connected += s.welcomed ? 1 : 0;
      if (s.work && now >= s.work->due) {
        wire::ResultT result;
        result.trial_id = s.work->key.first;
        result.attempt = s.work->key.second;
        for (const auto& [name, value] : s.work->objectives) {
          auto m = std::make_unique<wire::MetricT>();
          m->name = name;
          m->value = value;
          result.objectives.push_back(std::move(m));
        }
        std::string bytes = wire::encode_message(0, std::move(result));
        s.outbox[s.work->key] = bytes;
        s.work.reset();
        send(s, std::move(bytes));
        report.results_sent++;
        s.next_resend = now + s.liveness * s.heartbeat;
      }
      if (!s.welcomed) {
        if (now - s.last_heard > s.liveness * s.heartbeat) hello(s);
        continue;
      }
      if (now >= s.next_heartbeat) {
        wire::HeartbeatT hb;
        auto progress = [&](const TrialKey& key, float fraction) {
          auto p = std::make_unique<wire::TrialProgressT>();
          p->trial_id = key.first;
          p->attempt = key.second;
          p->fraction = fraction;
          hb.progress.push_back(std::move(p));
        };
        if (s.work) progress(s.work->key, 0.5f);
        for (const auto& [key, bytes] : s.outbox) progress(key, 1.0f);
        send(s, wire::encode_message(0, std::move(hb)));
        s.next_heartbeat = now + s.heartbeat;
      }
      if (!s.outbox.empty() && now >= s.next_resend) {
        for (const auto& [key, bytes] : s.outbox) {
          send(s, bytes);
          report.results_sent++;
        }
        s.next_resend = now + s.liveness * s.heartbeat;
      }
      if (now - s.last_heard > s.liveness * s.heartbeat) hello(s);
    }
    report.max_connected = std::max(report.max_connected, connected);
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace autodistill::chaos
