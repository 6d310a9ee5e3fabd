#pragma once
// A controller driven directly (no sockets) over a real SQLite store in a
// temporary directory, with a controllable clock and, optionally, suggestion
// jobs held back until the test runs them (as the daemon's worker thread).
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autodistill/daemon/controller.hpp"
#include "spec_builder.hpp"
#include "temp_dir.hpp"

namespace autodistill::testing {

using namespace autodistill::daemon;

struct Received {
  Endpoint endpoint;
  std::string peer;
  wire::EnvelopeT env;
};

class Harness {
 public:
  explicit Harness(bool defer = false) : defer_suggestions(defer) {
    config.data_dir = dir.path();
    config.heartbeat_interval_ms = 1000;
    config.lease_ms = 5000;
    config.max_attempts = 3;
    reopen();
  }

  // Simulates a daemon restart on the same data directory.
  void reopen() {
    controller.reset();
    store.reset();
    store = std::move(Store::open(dir.path() + "/db").value());
    blobs = std::make_unique<BlobStore>(BlobStore::open(dir.path() + "/blobs", 1 << 20).value());
    controller = std::make_unique<Controller>(config, *store, *blobs, [this] { return now; });
    jobs.clear();
    background.clear();
    if (defer_suggestions) {
      controller->set_suggest_runner(
          [this](SuggestJob job, std::function<void(std::vector<Params>)> deliver) {
            jobs.emplace_back(std::move(job), std::move(deliver));
          });
      controller->set_background_runner(
          [this](std::function<void()> work) { background.push_back(std::move(work)); });
    }
    REQUIRE(controller->recover());
    commit();
  }

  template <class T>
  std::vector<Received> worker(const std::string& peer, T body, uint64_t rid = 1) {
    std::string bytes = wire::encode_message(rid, std::move(body));
    controller->on_message(Endpoint::kWorker, peer, bytes.data(), bytes.size());
    return commit();
  }
  template <class T>
  std::vector<Received> client(const std::string& peer, T body, uint64_t rid = 1) {
    std::string bytes = wire::encode_message(rid, std::move(body));
    controller->on_message(Endpoint::kClient, peer, bytes.data(), bytes.size());
    return commit();
  }
  std::vector<Received> tick() {
    controller->tick();
    return commit();
  }
  std::vector<Received> commit() {
    std::vector<Received> out;
    for (Outbound& o : controller->commit()) {
      auto env = wire::decode(o.bytes.data(), o.bytes.size());
      REQUIRE(env);
      out.push_back(Received{o.endpoint, o.peer, std::move(env.value())});
    }
    return out;
  }

  uint64_t submit(wire::StudySpecT spec, const std::string& key = "") {
    wire::SubmitT submit;
    submit.idempotency_key = key;
    submit.spec = std::make_unique<wire::StudySpecT>(std::move(spec));
    auto out = client("client", std::move(submit));
    // The reply may share its batch with Assigns to workers holding credit.
    uint64_t id = 0;
    extra.clear();
    for (auto& m : out) {
      if (m.peer == "client" && m.env.body.AsStudyReply()) {
        id = m.env.body.AsStudyReply()->study->study_id;
      } else {
        extra.push_back(std::move(m));
      }
    }
    REQUIRE(id != 0);
    return id;
  }

  // Hello + Pull; returns the Assigns the worker received.
  std::vector<wire::AssignT> join(const std::string& peer, wire::Role role, uint32_t credits,
                                  std::vector<uint64_t> studies = {}, std::string tag = "") {
    wire::HelloT hello;
    hello.worker_id = "w-" + peer;
    hello.role = role;
    hello.slots = credits;
    hello.studies = std::move(studies);
    hello.hardware = std::make_unique<wire::HardwareT>();
    hello.hardware->tag = std::move(tag);
    auto welcome = worker(peer, std::move(hello));
    REQUIRE(welcome.size() == 1);
    REQUIRE(welcome[0].env.body.AsWelcome());
    return pull(peer, credits);
  }

  std::vector<wire::AssignT> pull(const std::string& peer, uint32_t credits) {
    wire::PullT pull;
    pull.credits = credits;
    return assigns(worker(peer, pull));
  }

  static std::vector<wire::AssignT> assigns(const std::vector<Received>& msgs) {
    std::vector<wire::AssignT> out;
    for (const auto& m : msgs) {
      if (auto* a = m.env.body.AsAssign()) out.push_back(*a);
    }
    return out;
  }

  std::vector<Received> result(const std::string& peer, const wire::AssignT& a, double f1 = 1,
                               double f2 = 2) {
    wire::ResultT r;
    r.trial_id = a.trial_id;
    r.attempt = a.attempt;
    for (const std::string& name : a.objectives) {
      auto m = std::make_unique<wire::MetricT>();
      m->name = name;
      m->value = name == a.objectives.front() ? f1 : f2;
      r.objectives.push_back(std::move(m));
    }
    return worker(peer, std::move(r));
  }

  wire::StudyReplyT get(uint64_t study) {
    wire::GetStudyT g;
    g.study_id = study;
    auto out = client("client", g);
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].env.body.AsStudyReply());
    return *out[0].env.body.AsStudyReply();
  }

  // Runs the suggestion jobs handed out so far (as the daemon's worker
  // thread would), delivers their results and commits.
  std::vector<Received> run_suggestions() {
    auto pending = std::move(jobs);
    jobs.clear();
    for (auto& [job, deliver] : pending) deliver(job());
    return commit();
  }

  testing::TempDir dir;
  Config config;
  // Suggestion jobs wait in `jobs` until run_suggestions(), background work
  // (Proposer::background) in `background` until the test runs it.
  bool defer_suggestions = false;
  std::vector<std::pair<SuggestJob, std::function<void(std::vector<Params>)>>> jobs;
  std::vector<std::function<void()>> background;
  int64_t now = 1'000'000;
  std::vector<Received> extra;  // messages of the last submit's batch besides its reply
  std::unique_ptr<Store> store;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<Controller> controller;
};

inline const wire::AckT* find_ack(const std::vector<Received>& msgs) {
  for (const auto& m : msgs) {
    if (auto* a = m.env.body.AsAck()) return a;
  }
  return nullptr;
}

}  // namespace autodistill::testing
