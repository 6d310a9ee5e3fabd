// The controller against lying, stalling and vanishing workers (issue #11):
// who may report a trial, session bookkeeping across repeated Hellos,
// quarantine after lease expiries, registry pruning, Regular artifact
// checks and the message of a study whose every trial failed.
#include <catch2/catch.hpp>

#include "autodistill/wire/digest.hpp"
#include "controller_harness.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::distill_spec;
using autodistill::testing::external_spec;
using autodistill::testing::find_ack;
using autodistill::testing::Harness;
using autodistill::testing::Received;

namespace {

wire::HelloT hello_of(const std::string& id, wire::Role role, std::vector<uint64_t> studies = {},
                      uint32_t slots = 1, const std::string& tag = "") {
  wire::HelloT hello;
  hello.worker_id = id;
  hello.role = role;
  hello.slots = slots;
  hello.studies = std::move(studies);
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = tag;
  return hello;
}

const wire::ErrorT* error_in(const std::vector<Received>& msgs) {
  for (const auto& m : msgs) {
    if (auto* e = m.env.body.AsError()) return e;
  }
  return nullptr;
}

std::vector<wire::WorkerInfoT*> workers_of(Harness& h, std::vector<Received>& out) {
  out = h.client("client", wire::ListWorkersT{});
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].env.body.AsWorkerList());
  std::vector<wire::WorkerInfoT*> list;
  for (auto& w : out[0].env.body.AsWorkerList()->workers) list.push_back(w.get());
  return list;
}

// Keeps peer's session alive for `ms` of the harness clock (empty heartbeats,
// no trial progress), ticking every second; returns the Assigns it got.
std::vector<wire::AssignT> idle(Harness& h, const std::string& peer, int64_t ms) {
  std::vector<wire::AssignT> got;
  for (int64_t t = 0; t < ms; t += 1000) {
    h.now += 1000;
    auto a = Harness::assigns(h.worker(peer, wire::HeartbeatT{}));
    got.insert(got.end(), a.begin(), a.end());
    for (const auto& m : h.tick()) {
      if (auto* assign = m.env.body.AsAssign(); assign && m.peer == peer) got.push_back(*assign);
    }
  }
  return got;
}

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

}  // namespace

TEST_CASE("controller: a report counts only from the worker holding that lease",
          "[controller][integrity]") {
  Harness h;
  uint64_t study = h.submit(external_spec(2, 2));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  REQUIRE(h.worker("p2", hello_of("w-p2", wire::Role::External, {study}))[0].env.body.AsWelcome());
  // Not the holder: an Error naming the field, no Ack, nothing recorded.
  auto refused = h.result("p2", a[0], -5, -5);
  CHECK_FALSE(find_ack(refused));
  const wire::ErrorT* e = error_in(refused);
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::PermissionDenied);
  CHECK(e->field == "attempt");
  CHECK(h.store->count_results(a[0].trial_id).value() == 0);
  // A Hello cannot claim the lease through `running`.
  wire::HelloT claim = hello_of("w-p2", wire::Role::External, {study});
  auto ref = std::make_unique<wire::TrialRefT>();
  ref->trial_id = a[0].trial_id;
  ref->attempt = a[0].attempt;
  claim.running.push_back(std::move(ref));
  REQUIRE(h.worker("p2", std::move(claim))[0].env.body.AsWelcome());
  CHECK(error_in(h.result("p2", a[0], -5, -5)));
  // The holder's result counts.
  REQUIRE(find_ack(h.result("p1", a[0])));
  auto reply = h.get(study);
  for (const auto& t : reply.trials) {
    if (t->trial_id == a[0].trial_id) {
      CHECK(t->state == wire::TrialState::Completed);
      CHECK(t->worker_id == "w-p1");
    }
  }
}

TEST_CASE("controller: under CURVE a worker_id stays bound to its first key, across restarts",
          "[controller][integrity]") {
  Harness h;
  auto hello = [&](const std::string& peer, const std::string& key) {
    std::string bytes = wire::encode_message(1, hello_of("w1", wire::Role::Probe));
    h.controller->on_message(Endpoint::kWorker, peer, bytes.data(), bytes.size(), key);
    auto out = h.commit();
    REQUIRE(out.size() == 1);
    return std::move(out[0].env);
  };
  CHECK(hello("a", "KEY-A").body.AsWelcome());
  auto other = hello("b", "KEY-B");
  REQUIRE(other.body.AsReject());
  CHECK(other.body.AsReject()->error->code == wire::ErrorCode::PermissionDenied);
  CHECK(other.body.AsReject()->error->field == "worker_id");
  CHECK(h.controller->connected_workers() == 1);  // w1's session was not replaced
  CHECK(hello("a2", "KEY-A").body.AsWelcome());   // its own key reconnects
  h.reopen();
  CHECK(hello("b", "KEY-B").body.AsReject());
  CHECK(hello("a", "KEY-A").body.AsWelcome());
}

TEST_CASE("controller: two Hellos on one connection keep the registry consistent",
          "[controller][integrity]") {
  Harness h;
  uint64_t study = h.submit(external_spec(1, 1));
  REQUIRE(h.worker("p", hello_of("first", wire::Role::External, {study}))[0].env.body.AsWelcome());
  auto a = h.pull("p", 1);
  REQUIRE(a.size() == 1);
  REQUIRE(h.worker("p", hello_of("second", wire::Role::External, {study}))[0].env.body.AsWelcome());
  std::vector<Received> out;
  auto listed = workers_of(h, out);
  REQUIRE(listed.size() == 2);
  for (auto* w : listed) CHECK(w->connected == (w->worker_id == "second"));
  // Silence: the session is dropped, then "first"'s lease expires.
  h.now += 3500;
  h.tick();
  h.now += 2000;
  h.tick();
  listed = workers_of(h, out);
  REQUIRE(listed.size() == 2);
  for (auto* w : listed) CHECK_FALSE(w->connected);
  CHECK(h.get(study).trials[0]->state == wire::TrialState::Queued);
  // "first" came back on another connection: a late result for its attempt counts.
  REQUIRE(h.worker("q", hello_of("first", wire::Role::External, {study}))[0].env.body.AsWelcome());
  REQUIRE(find_ack(h.result("q", a[0])));
  CHECK(h.get(study).study->state == wire::StudyState::Succeeded);
}

TEST_CASE("controller: a worker whose leases expire is quarantined, longer each time",
          "[controller][integrity]") {
  Harness h;
  h.config.quarantine_ms = 10000;
  h.config.quarantine_max_ms = 40000;
  auto spec = external_spec(1, 1);
  spec.max_attempts = 10;
  uint64_t study = h.submit(std::move(spec));
  REQUIRE(h.join("p1", wire::Role::External, 1, {study}).size() == 1);
  // A first expiry (5 s) is not punished: alone, the worker gets the trial back.
  CHECK(idle(h, "p1", 5000).empty());
  auto second = h.pull("p1", 1);
  REQUIRE(second.size() == 1);
  CHECK(second[0].attempt == 2);
  // The second in a row: nothing for 10 s, even alone.
  CHECK(idle(h, "p1", 5000).empty());
  CHECK(h.pull("p1", 1).empty());
  CHECK(idle(h, "p1", 9000).empty());
  auto third = idle(h, "p1", 1000);
  REQUIRE(third.size() == 1);
  CHECK(third[0].attempt == 3);
  // The third: 20 s.
  CHECK(h.pull("p1", 1).empty());
  CHECK(idle(h, "p1", 5000 + 19000).empty());
  auto fourth = idle(h, "p1", 1000);
  REQUIRE(fourth.size() == 1);
  CHECK(fourth[0].attempt == 4);
  // A result ends the run of expiries.
  REQUIRE(find_ack(h.result("p1", fourth[0])));
  CHECK(h.get(study).study->state == wire::StudyState::Succeeded);
}

TEST_CASE("controller: after a lease expiry another worker gets the trial",
          "[controller][integrity]") {
  Harness h;
  h.config.quarantine_ms = 0;  // only the preference is at work here
  h.config.quarantine_max_ms = 0;
  uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("slow", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  REQUIRE(h.worker("other", hello_of("w-other", wire::Role::External, {study}))[0]
              .env.body.AsWelcome());
  h.now += 2500;
  h.worker("slow", wire::HeartbeatT{});
  h.worker("other", wire::HeartbeatT{});
  h.now += 2600;  // past the lease, both sessions alive
  h.worker("slow", wire::HeartbeatT{});
  h.worker("other", wire::HeartbeatT{});
  h.tick();
  CHECK(h.pull("slow", 1).empty());  // "other" could take it: "slow" waits
  auto taken = h.pull("other", 1);
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].attempt == 2);
}

TEST_CASE("controller: ghost worker rows are pruned after the retention",
          "[controller][integrity]") {
  Harness h;
  h.config.worker_retention_seconds = 1;
  uint64_t study = h.submit(external_spec(1, 1));
  for (int i = 0; i < 20; ++i) {
    REQUIRE(h.worker("ghost", hello_of("ghost-" + std::to_string(i), wire::Role::Probe))[0]
                .env.body.AsWelcome());
  }
  // A silent worker holding a lease (until +5 s) keeps its row while it lasts.
  REQUIRE(h.join("holder", wire::Role::External, 1, {study}).size() == 1);
  std::vector<Received> out;
  CHECK(workers_of(h, out).size() == 21);
  auto ids = [&] {
    std::set<std::string> seen;
    for (auto* w : workers_of(h, out)) seen.insert(w->worker_id);
    return seen;
  };
  for (int i = 0; i < 4; ++i) {
    h.now += 1000;
    h.worker("alive", hello_of("alive", wire::Role::Probe));
    h.tick();
  }
  CHECK(ids() == std::set<std::string>{"alive", "w-holder"});
  h.now += 1000;  // the lease expires: nothing keeps the holder's row
  h.worker("alive", hello_of("alive", wire::Role::Probe));
  h.tick();
  CHECK(ids() == std::set<std::string>{"alive"});
}

TEST_CASE("controller: a study whose every trial failed says why", "[controller][integrity]") {
  Harness h;
  auto spec = external_spec(2, 2);
  spec.max_attempts = 1;
  uint64_t study = h.submit(std::move(spec));
  auto a = h.join("p1", wire::Role::External, 2, {study});
  REQUIRE(a.size() == 2);
  for (const auto& assign : a) {
    wire::FailureT f;
    f.trial_id = assign.trial_id;
    f.attempt = assign.attempt;
    f.retryable = false;
    f.error = std::make_unique<wire::ErrorT>();
    f.error->code = wire::ErrorCode::TrialError;
    f.error->message = "out of memory in block 3";
    REQUIRE(find_ack(h.worker("p1", std::move(f))));
  }
  auto reply = h.get(study);
  CHECK(reply.study->state == wire::StudyState::Failed);
  CHECK(reply.study->message == "all 2 trials failed; last error: out of memory in block 3");

  // A Distill study without constraints whose flash trials all fail.
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  auto dspec = distill_spec(teacher, corpus);
  dspec.max_attempts = 1;
  uint64_t distill = h.submit(std::move(dspec));
  auto probes = h.join("probe", wire::Role::Probe, 8, {}, "cpu-test");
  REQUIRE(probes.size() == 3);
  REQUIRE(h.join("distill", wire::Role::Distill, 8).empty());
  std::vector<wire::AssignT> flashes;
  for (const auto& p : probes) {
    auto more = Harness::assigns(h.result("probe", p, 2.0));
    flashes.insert(flashes.end(), more.begin(), more.end());
  }
  REQUIRE(flashes.size() == 3);
  for (const auto& f : flashes) {
    wire::FailureT failure;
    failure.trial_id = f.trial_id;
    failure.attempt = f.attempt;
    failure.retryable = false;
    failure.error = std::make_unique<wire::ErrorT>();
    failure.error->code = wire::ErrorCode::TrialError;
    failure.error->message = "teacher vocab does not match";
    h.worker("distill", std::move(failure));
  }
  auto dreply = h.get(distill);
  CHECK(dreply.study->state == wire::StudyState::Failed);
  CHECK(dreply.study->message ==
        "no candidate completed: 3 of 6 trials failed; last error: teacher vocab does not match");
}

TEST_CASE("controller: a Regular trial completes only with a well-formed, recorded student",
          "[controller][integrity]") {
  Harness h;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  auto spec = distill_spec(teacher, corpus);
  spec.max_trials = 2;
  spec.max_attempts = 1;
  spec.selection = autodistill::testing::selection(wire::SelectionRule::TopK, 2, "accuracy");
  uint64_t study = h.submit(std::move(spec));
  auto probes = h.join("probe", wire::Role::Probe, 8, {}, "cpu-test");
  REQUIRE(probes.size() == 2);
  REQUIRE(h.join("distill", wire::Role::Distill, 8).empty());
  std::vector<wire::AssignT> flashes, regular;
  for (const auto& p : probes) {
    auto more = Harness::assigns(h.result("probe", p, 2.0));
    flashes.insert(flashes.end(), more.begin(), more.end());
  }
  for (const auto& f : flashes) {
    auto more = Harness::assigns(h.result("distill", f, 0.5));
    regular.insert(regular.end(), more.begin(), more.end());
  }
  REQUIRE(regular.size() == 2);

  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string weights = le64(header.size()) + header + std::string(8, '\0');
  const std::string weights_digest = h.blobs->put(weights).value();
  auto manifest_of = [&](const std::string& digest) {
    return R"({"files":{"model.safetensors":{"sha256":")" + digest + R"(","size":)" +
           std::to_string(weights.size()) + "}}}";
  };
  auto deliver = [&](const wire::AssignT& a, const std::string& manifest) {
    wire::ResultT r;
    r.trial_id = a.trial_id;
    r.attempt = a.attempt;
    auto m = std::make_unique<wire::MetricT>();
    m->name = "accuracy";
    m->value = 0.9;
    r.objectives.push_back(std::move(m));
    for (auto [name, bytes] :
         {std::pair{"model.safetensors", weights}, std::pair{"manifest.json", manifest}}) {
      auto art = std::make_unique<wire::ArtifactT>();
      art->name = name;
      art->digest = h.blobs->put(bytes).value();
      art->size = bytes.size();
      r.artifacts.push_back(std::move(art));
    }
    return h.worker("distill", std::move(r));
  };
  REQUIRE(find_ack(deliver(regular[0], manifest_of(weights_digest))));
  REQUIRE(find_ack(deliver(regular[1], manifest_of(std::string(64, 'f')))));
  auto reply = h.get(study);
  for (const auto& t : reply.trials) {
    if (t->kind != wire::TrialKind::Regular) continue;
    INFO("trial " << t->trial_id);
    if (t->trial_id == regular[0].trial_id) {
      CHECK(t->state == wire::TrialState::Completed);
      CHECK(t->artifacts.size() == 2);
    } else {
      CHECK(t->state == wire::TrialState::Failed);
      REQUIRE(t->error);
      CHECK(t->error->field == "artifacts.manifest.json");
      CHECK(t->error->message.find("model.safetensors.sha256") != std::string::npos);
    }
  }
  CHECK(reply.study->state == wire::StudyState::Succeeded);
  CHECK(reply.study->message.find("1 of 2 regular distillations done") != std::string::npos);
}
