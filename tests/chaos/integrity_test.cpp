// Chaos: peers that lie about trials and peers that say Hello twice and
// vanish, while real workers run a study behind the wire tap (issue #11).
//
// Forged reports: a raw peer keeps sending Results and Failures for every
// trial it can see (leased to others, queued, later attempts, trials that do
// not exist), as a worker of the study's role and as one of another role.
// Every one must be refused with an Error, none acknowledged or counted.
//
// Double Hellos: waves of raw peers each say Hello, pull (taking leases),
// say Hello again under another worker_id on the same connection, and
// vanish. Their sessions are dropped and their leases expire under load;
// the daemon must keep serving and the study must complete.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "chaos_rig.hpp"

using namespace autodistill;
using namespace autodistill::chaos;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

wire::HelloT hello_of(const std::string& id, wire::Role role, uint64_t study, uint32_t slots) {
  wire::HelloT hello;
  hello.worker_id = id;
  hello.role = role;
  hello.slots = slots;
  if (role == wire::Role::External) hello.studies = {study};
  hello.hardware = std::make_unique<wire::HardwareT>();
  return hello;
}

wire::ResultT forged(uint64_t trial, uint32_t attempt) {
  wire::ResultT r;
  r.trial_id = trial;
  r.attempt = attempt;
  for (const char* name : {"f1", "f2"}) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = -777;
    r.objectives.push_back(std::move(m));
  }
  return r;
}

}  // namespace

TEST_CASE("chaos: forged Results and Failures never count, the study completes", "[chaos]") {
  ChaosRig rig;
  const uint64_t study = rig.submit("forged", queue_spec(80, 4));
  const std::set<std::string> honest = {"h1", "h2", "h3"};
  for (const std::string& id : honest) rig.start_worker(id, study, 30);

  testing::WirePeer forger(rig.context(), rig.daemon().worker_endpoint());
  testing::WirePeer prober(rig.context(), rig.daemon().worker_endpoint());
  REQUIRE(forger.call(hello_of("forger", wire::Role::External, study, 1), 5s));
  REQUIRE(prober.call(hello_of("prober", wire::Role::Probe, study, 1), 5s));
  size_t sent = 0, refused = 0, acked = 0;
  std::map<wire::ErrorCode, size_t> codes;
  auto drain = [&](testing::WirePeer& peer) {
    while (auto env = peer.receive(0ms)) {
      if (env->body.AsAck()) ++acked;
      if (auto* e = env->body.AsError(); e && env->request_id != 0) {
        ++refused;
        codes[e->code]++;
      }
    }
  };
  uint64_t rid = 100;
  const auto until = Clock::now() + 4s;
  while (Clock::now() < until) {
    auto reply = rig.get(study);
    if (reply.study->state >= wire::StudyState::Succeeded) break;
    for (const auto& t : reply.trials) {
      if (t->state == wire::TrialState::Completed) continue;
      forger.send(forged(t->trial_id, t->attempt), ++rid);
      forger.send(forged(t->trial_id, t->attempt + 1), ++rid);
      prober.send(forged(t->trial_id, t->attempt), ++rid);
      wire::FailureT failure;
      failure.trial_id = t->trial_id;
      failure.attempt = t->attempt;
      failure.retryable = false;
      failure.error = std::make_unique<wire::ErrorT>();
      failure.error->message = "forged";
      forger.send(std::move(failure), ++rid);
      sent += 4;
    }
    forger.send(forged(1u << 30, 1), ++rid);
    ++sent;
    forger.send(wire::HeartbeatT{});  // keep both sessions
    prober.send(wire::HeartbeatT{});
    std::this_thread::sleep_for(50ms);
    drain(forger);
    drain(prober);
  }
  auto reply = rig.wait_state(study, wire::StudyState::Succeeded, 60s);
  testing::wait_until([&] {
    drain(forger);
    drain(prober);
    return refused >= sent;
  });
  INFO(rig.logs());
  std::printf(
      "forged reports: %zu sent, %zu refused (PermissionDenied %zu, NotFound %zu), %zu acked\n",
      sent, refused, codes[wire::ErrorCode::PermissionDenied], codes[wire::ErrorCode::NotFound],
      acked);
  CHECK(sent > 100);
  CHECK(acked == 0);
  CHECK(refused == sent);
  CHECK(codes[wire::ErrorCode::PermissionDenied] + codes[wire::ErrorCode::NotFound] == refused);
  auto rows = rig.probe().result_rows_per_trial();
  REQUIRE(rows);
  for (const auto& t : reply.trials) {
    INFO("trial " << t->trial_id);
    CHECK(t->state == wire::TrialState::Completed);
    CHECK(honest.count(t->worker_id) == 1);
    for (const auto& o : t->objectives) CHECK(o->value >= 0);
    CHECK((rows->count(t->trial_id) && rows->at(t->trial_id) == 1));
  }
  CHECK(rig.daemon().running());
}

TEST_CASE("chaos: waves of double Hellos then silence never end the daemon", "[chaos]") {
  ChaosRig rig;
  const uint64_t study = rig.submit("double-hello", queue_spec(200, 8));
  rig.start_worker("w1", study, 20);
  rig.start_worker("w2", study, 20);
  size_t peers = 0, welcomed = 0, leases_taken = 0;
  auto drain = [&](testing::WirePeer& peer) {
    while (auto env = peer.receive(0ms)) {
      welcomed += env->body.AsWelcome() != nullptr;
      leases_taken += env->body.AsAssign() != nullptr;
    }
  };
  const auto until = Clock::now() + 3s;
  for (int wave = 0; Clock::now() < until; ++wave) {
    std::vector<std::unique_ptr<testing::WirePeer>> doomed;
    for (int k = 0; k < 16; ++k, ++peers) {
      doomed.push_back(
          std::make_unique<testing::WirePeer>(rig.context(), rig.daemon().worker_endpoint()));
      doomed.back()->send(hello_of("dbl-" + std::to_string(wave) + "-" + std::to_string(k) + "-a",
                                   wire::Role::External, study, 2),
                          1);
      wire::PullT pull;
      pull.credits = 2;
      doomed.back()->send(pull);
    }
    std::this_thread::sleep_for(100ms);  // Welcome, and Assigns while work is queued
    for (int k = 0; k < 16; ++k) {
      drain(*doomed[k]);
      doomed[k]->send(hello_of("dbl-" + std::to_string(wave) + "-" + std::to_string(k) + "-b",
                               k % 2 ? wire::Role::Probe : wire::Role::External, study, 1),
                      2);
    }
    std::this_thread::sleep_for(100ms);
    for (auto& peer : doomed) drain(*peer);
    REQUIRE(rig.daemon().running());
  }  // each wave's peers vanish here
  // Their sessions are dropped (600 ms of silence), then their leases expire (1.5 s).
  std::this_thread::sleep_for(2500ms);
  INFO(rig.status() << "\n" << rig.logs());
  REQUIRE(rig.daemon().running());
  auto listed = rig.client().peer().call(wire::ListWorkersT{}, 5s);
  INFO("after ListWorkers: " << rig.status());
  REQUIRE(listed);
  REQUIRE(listed->body.AsWorkerList());
  size_t connected = 0;
  for (const auto& w : listed->body.AsWorkerList()->workers) connected += w->connected;
  CHECK(listed->body.AsWorkerList()->workers.size() >= welcomed);
  CHECK(connected == 2);
  auto reply = rig.wait_state(study, wire::StudyState::Succeeded, 60s);
  std::printf(
      "double Hellos: %zu connections, %zu sessions welcomed, %zu leases taken and "
      "abandoned\n",
      peers, welcomed, leases_taken);
  CHECK(welcomed >= peers);
  CHECK(leases_taken > 0);
  auto rows = rig.probe().result_rows_per_trial();
  REQUIRE(rows);
  for (const auto& t : reply.trials) {
    CHECK(t->state == wire::TrialState::Completed);
    CHECK((t->worker_id == "w1" || t->worker_id == "w2"));
    CHECK((rows->count(t->trial_id) && rows->at(t->trial_id) == 1));
  }
  CHECK(rig.daemon().running());
}
