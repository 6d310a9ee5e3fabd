// The controller's state machines, driven directly (no sockets) over a real
// SQLite store in a temporary directory, with a controllable clock.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "autodistill/glue_settings.hpp"
#include "autodistill/wire/digest.hpp"
#include "controller_harness.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::distill_spec;
using autodistill::testing::external_spec;
using autodistill::testing::find_ack;
using autodistill::testing::Harness;
using autodistill::testing::set_baseline;

TEST_CASE("controller: an external study runs to completion", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(4, 2));
  auto assigns = h.join("p1", wire::Role::External, 8, {study});
  REQUIRE(assigns.size() == 2);  // parallelism 2
  CHECK(assigns[0].objectives == std::vector<std::string>{"f1", "f2"});
  CHECK(assigns[0].attempt == 1);
  size_t done = 0;
  while (!assigns.empty()) {
    auto a = assigns.back();
    assigns.pop_back();
    auto out = h.result("p1", a);
    REQUIRE(find_ack(out));
    CHECK(find_ack(out)->trial_id == a.trial_id);
    ++done;
    auto more = Harness::assigns(out);
    assigns.insert(assigns.end(), more.begin(), more.end());
  }
  CHECK(done == 4);
  auto reply = h.get(study);
  CHECK(reply.study->state == wire::StudyState::Succeeded);
  CHECK(reply.study->trials_completed == 4);
  CHECK(reply.trials.size() == 4);
  CHECK_FALSE(reply.study->pareto.empty());
}

TEST_CASE("controller: a duplicate result is acknowledged and counted once", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(3, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  auto first = h.result("p1", a[0]);
  auto second = h.result("p1", a[0]);
  REQUIRE(find_ack(first));
  REQUIRE(find_ack(second));
  CHECK(h.store->count_results(a[0].trial_id).value() == 1);
  CHECK(Harness::assigns(second).empty());  // the duplicate started nothing new
}

TEST_CASE("controller: an expired lease re-queues with the next attempt, then fails",
          "[controller]") {
  Harness h;
  h.config.max_attempts = 2;
  uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  h.now += 6000;  // past lease_ms without a heartbeat
  h.tick();
  auto again = h.join("p2", wire::Role::External, 1, {study});
  REQUIRE(again.size() == 1);
  CHECK(again[0].trial_id == a[0].trial_id);
  CHECK(again[0].attempt == 2);
  h.now += 6000;
  h.tick();
  auto reply = h.get(study);
  CHECK(reply.trials[0].get()->state == wire::TrialState::Failed);
  CHECK(reply.study->state == wire::StudyState::Failed);
}

TEST_CASE("controller: heartbeats keep a lease alive", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  for (int i = 0; i < 5; ++i) {
    h.now += 2000;
    wire::HeartbeatT hb;
    auto p = std::make_unique<wire::TrialProgressT>();
    p->trial_id = a[0].trial_id;
    p->attempt = a[0].attempt;
    p->fraction = 0.2f * static_cast<float>(i);
    hb.progress.push_back(std::move(p));
    h.worker("p1", std::move(hb));
    h.tick();
  }
  auto reply = h.get(study);
  CHECK(reply.trials[0]->state == wire::TrialState::Leased);
  CHECK(reply.trials[0]->attempt == 1);
  CHECK(reply.trials[0]->progress == Approx(0.8f));
}

TEST_CASE("controller: a late result from an earlier attempt counts once", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(1, 1));
  auto first = h.join("p1", wire::Role::External, 1, {study});
  h.now += 6000;
  h.tick();
  auto second = h.join("p2", wire::Role::External, 1, {study});
  REQUIRE(second.size() == 1);
  REQUIRE(second[0].attempt == 2);
  // The first worker was only slow; it was dropped as silent, so it must
  // say Hello again before its attempt-1 result is taken.
  auto refused = h.result("p1", first[0]);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].env.body.AsError()->code == wire::ErrorCode::UnknownPeer);
  CHECK(h.join("p1", wire::Role::External, 1, {study}).empty());
  auto out = h.result("p1", first[0]);
  REQUIRE(find_ack(out));
  bool cancelled = false;
  for (const auto& m : out) {
    if (auto* c = m.env.body.AsCancel()) cancelled = m.peer == "p2" && c->attempt == 2;
  }
  CHECK(cancelled);
  // The second attempt's result is acknowledged but does not count again.
  REQUIRE(find_ack(h.result("p2", second[0])));
  auto reply = h.get(study);
  CHECK(reply.study->trials_completed == 1);
  CHECK(reply.trials[0]->attempt == 1);
  CHECK(reply.study->state == wire::StudyState::Succeeded);
}

TEST_CASE("controller: non-retryable failure fails the trial at once", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  wire::FailureT f;
  f.trial_id = a[0].trial_id;
  f.attempt = 1;
  f.retryable = false;
  f.error = std::make_unique<wire::ErrorT>();
  f.error->code = wire::ErrorCode::InvalidArgument;
  f.error->message = "heads do not divide the bottleneck";
  REQUIRE(find_ack(h.worker("p1", std::move(f))));
  auto reply = h.get(study);
  CHECK(reply.trials[0]->state == wire::TrialState::Failed);
  CHECK(reply.trials[0]->error->message == "heads do not divide the bottleneck");
}

TEST_CASE("controller: a result missing an objective fails the trial", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  wire::ResultT r;
  r.trial_id = a[0].trial_id;
  r.attempt = 1;
  REQUIRE(find_ack(h.worker("p1", std::move(r))));
  auto reply = h.get(study);
  CHECK(reply.trials[0]->state == wire::TrialState::Failed);
  CHECK(reply.trials[0]->error->message.find("f1") != std::string::npos);
}

TEST_CASE("controller: dispatch matches role, hardware tag and external study", "[controller]") {
  Harness h;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  uint64_t distill = h.submit(distill_spec(teacher, corpus));
  uint64_t external = h.submit(external_spec(2, 2));

  // An external worker for another study gets nothing.
  CHECK(h.join("ext-other", wire::Role::External, 4, {distill}).empty());
  // A probe worker with the wrong tag gets nothing.
  CHECK(h.join("probe-gpu", wire::Role::Probe, 4, {}, "gpu-a100").empty());
  // The right probe worker gets the probe trials only.
  auto probes = h.join("probe-cpu", wire::Role::Probe, 8, {}, "cpu-test");
  REQUIRE(probes.size() == 3);
  for (const auto& a : probes) {
    CHECK(a.kind == wire::TrialKind::Probe);
    CHECK(a.study_id == distill);
    CHECK(a.objectives == std::vector<std::string>{"latency_ms"});
    CHECK(a.teacher_digest == teacher);
  }
  // Probe first: no flash trial exists before its candidate's probe completed.
  CHECK(h.join("distill", wire::Role::Distill, 8).empty());
  std::vector<wire::AssignT> flashes;
  for (const auto& a : probes) {
    auto more = Harness::assigns(h.result("probe-cpu", a, 1.5));
    flashes.insert(flashes.end(), more.begin(), more.end());
  }
  REQUIRE(flashes.size() == 3);
  for (const auto& a : flashes) {
    CHECK(a.kind == wire::TrialKind::Flash);
    CHECK(a.objectives == std::vector<std::string>{"accuracy"});
  }
  auto ext = h.join("ext", wire::Role::External, 8, {external});
  REQUIRE(ext.size() == 2);
  CHECK(ext[0].study_id == external);
}

TEST_CASE("controller: a distill study explores, selects the Pareto set, finalizes",
          "[controller]") {
  Harness h;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  uint64_t study = h.submit(distill_spec(teacher, corpus));
  auto probes = h.join("probe", wire::Role::Probe, 8, {}, "cpu-test");
  CHECK(h.join("distill", wire::Role::Distill, 8).empty());
  REQUIRE(probes.size() == 3);
  // Candidate c: latency c+1 ms; accuracy 0.5 for c=0, 0.7 for c=1, 0.6 for c=2
  // -> candidate 2 is dominated by candidate 1.
  std::map<uint64_t, uint32_t> candidate_of;
  for (const auto& t : h.get(study).trials) candidate_of[t->trial_id] = t->candidate;
  const double accuracy[] = {0.5, 0.7, 0.6};
  std::vector<wire::AssignT> flashes;
  for (const auto& a : probes) {
    auto more = Harness::assigns(h.result("probe", a, candidate_of[a.trial_id] + 1.0));
    flashes.insert(flashes.end(), more.begin(), more.end());
  }
  REQUIRE(flashes.size() == 3);
  for (const auto& t : h.get(study).trials) candidate_of[t->trial_id] = t->candidate;
  std::vector<wire::AssignT> regular;
  for (const auto& a : flashes) {
    auto out = h.result("distill", a, accuracy[candidate_of[a.trial_id]]);
    auto more = Harness::assigns(out);
    regular.insert(regular.end(), more.begin(), more.end());
  }
  auto reply = h.get(study);
  CHECK(reply.study->state == wire::StudyState::Finalizing);
  // The distill worker had credits left, so the regular trials went out at once.
  REQUIRE(regular.size() == 2);
  for (const auto& a : regular) CHECK(a.kind == wire::TrialKind::Regular);
  for (const auto& a : regular) h.result("distill", a, 0.9);
  reply = h.get(study);
  CHECK(reply.study->state == wire::StudyState::Succeeded);
  std::set<uint32_t> regular_candidates;
  for (const auto& t : reply.trials) {
    if (t->kind == wire::TrialKind::Regular) regular_candidates.insert(t->candidate);
  }
  CHECK(regular_candidates == std::set<uint32_t>{0, 1});
}

TEST_CASE("controller: finalizing with unreadable trial rows fails the study, losing nothing",
          "[controller]") {
  Harness h;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  uint64_t study = h.submit(distill_spec(teacher, corpus));
  auto probes = h.join("probe", wire::Role::Probe, 8, {}, "cpu-test");
  CHECK(h.join("distill", wire::Role::Distill, 8).empty());
  REQUIRE(probes.size() == 3);
  std::map<uint64_t, uint32_t> candidate_of;
  for (const auto& t : h.get(study).trials) candidate_of[t->trial_id] = t->candidate;
  const double accuracy[] = {0.5, 0.7, 0.6};
  std::vector<wire::AssignT> flashes;
  uint64_t dominated_probe = 0;  // candidate 2's probe: not selected
  for (const auto& a : probes) {
    if (candidate_of[a.trial_id] == 2) dominated_probe = a.trial_id;
    auto more = Harness::assigns(h.result("probe", a, candidate_of[a.trial_id] + 1.0));
    flashes.insert(flashes.end(), more.begin(), more.end());
  }
  REQUIRE(flashes.size() == 3);
  REQUIRE(dominated_probe != 0);
  for (const auto& t : h.get(study).trials) candidate_of[t->trial_id] = t->candidate;
  std::vector<wire::AssignT> regular;
  for (const auto& a : flashes) {
    auto more = Harness::assigns(h.result("distill", a, accuracy[candidate_of[a.trial_id]]));
    regular.insert(regular.end(), more.begin(), more.end());
  }
  REQUIRE(h.get(study).study->state == wire::StudyState::Finalizing);
  REQUIRE(regular.size() == 2);
  // A stored row of the study that no longer converts: the study's trial
  // rows cannot be read when finalizing ends.
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((h.dir.path() + "/db").c_str(), &db) == SQLITE_OK);
    const std::string sql =
        "UPDATE trials SET params = 'not json' WHERE id = " + std::to_string(dominated_probe);
    CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  REQUIRE_FALSE(h.store->trials_of_study(study));
  for (const auto& a : regular) REQUIRE(find_ack(h.result("distill", a, 0.9)));
  auto row = h.store->get_study(study).value();
  REQUIRE(row);
  CHECK(row->state == wire::StudyState::Failed);
  INFO(row->message);
  CHECK(row->message.find("trial rows could not be read") != std::string::npos);
  CHECK(row->message.find("trials.params of trial " + std::to_string(dominated_probe)) !=
        std::string::npos);
  // Nothing else lost: both regular results are stored.
  for (const auto& a : regular) {
    auto t = h.store->get_trial(a.trial_id).value();
    REQUIRE(t);
    CHECK(t->state == wire::TrialState::Completed);
    CHECK(t->objectives.at("accuracy") == 0.9);
  }
}

TEST_CASE("controller: submit is idempotent by key", "[controller]") {
  Harness h;
  uint64_t a = h.submit(external_spec(3), "release-42");
  uint64_t b = h.submit(external_spec(3), "release-42");
  CHECK(a == b);
  wire::SubmitT different;
  different.idempotency_key = "release-42";
  different.spec = std::make_unique<wire::StudySpecT>(external_spec(4));
  auto out = h.client("c", std::move(different));
  REQUIRE(out[0].env.body.AsError());
  CHECK(out[0].env.body.AsError()->code == wire::ErrorCode::AlreadyExists);
  CHECK(out[0].env.body.AsError()->field == "idempotency_key");
}

TEST_CASE("controller: a rejected spec stores nothing", "[controller]") {
  Harness h;
  auto spec = external_spec(3);
  spec.factors.clear();
  wire::SubmitT submit;
  submit.spec = std::make_unique<wire::StudySpecT>(std::move(spec));
  auto out = h.client("c", std::move(submit));
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].env.body.AsError());
  CHECK(out[0].env.body.AsError()->field == "spec.factors");
  CHECK(h.store->list_studies(0).value().empty());
}

TEST_CASE("controller: restart keeps acknowledged studies, leases and results", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(3, 2));
  auto a = h.join("p1", wire::Role::External, 2, {study});
  REQUIRE(a.size() == 2);
  h.result("p1", a[0]);
  h.reopen();  // the daemon restarts
  // The worker reconnects and says it still runs a[1]: its lease is kept.
  wire::HelloT hello;
  hello.worker_id = "w-p1";
  hello.role = wire::Role::External;
  hello.slots = 2;
  hello.studies = {study};
  auto ref = std::make_unique<wire::TrialRefT>();
  ref->trial_id = a[1].trial_id;
  ref->attempt = a[1].attempt;
  hello.running.push_back(std::move(ref));
  REQUIRE(h.worker("p1-new", std::move(hello)).size() == 1);
  auto next = h.pull("p1-new", 1);
  REQUIRE(next.size() == 1);
  CHECK(next[0].trial_id != a[1].trial_id);
  REQUIRE(find_ack(h.result("p1-new", a[1])));
  REQUIRE(find_ack(h.result("p1-new", next[0])));
  auto reply = h.get(study);
  CHECK(reply.study->state == wire::StudyState::Succeeded);
  CHECK(reply.study->trials_completed == 3);
  for (const auto& t : reply.trials) CHECK(t->attempt == 1);
}

TEST_CASE("controller: cancel stops queued and leased trials", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(10, 3));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  wire::CancelStudyT cancel;
  cancel.study_id = study;
  auto out = h.client("c", cancel);
  bool worker_told = false, replied = false;
  for (const auto& m : out) {
    if (auto* c = m.env.body.AsCancel()) worker_told = c->trial_id == a[0].trial_id;
    if (auto* r = m.env.body.AsStudyReply()) {
      replied = r->study->state == wire::StudyState::Cancelled;
    }
  }
  CHECK(worker_told);
  CHECK(replied);
  auto again = h.client("c", cancel);
  REQUIRE(again[0].env.body.AsError());
  CHECK(again[0].env.body.AsError()->code == wire::ErrorCode::FailedPrecondition);
  CHECK(h.pull("p1", 5).empty());
}

TEST_CASE("controller: watch replays stored events then streams and ends", "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(1, 1));
  wire::WatchT watch;
  watch.study_id = study;
  auto replay = h.client("watcher", watch, 77);
  REQUIRE_FALSE(replay.empty());
  uint64_t last = 0;
  for (const auto& m : replay) {
    REQUIRE(m.env.request_id == 77);
    for (const auto& e : m.env.body.AsEventBatch()->events) {
      CHECK(e->seq > last);
      last = e->seq;
    }
  }
  auto a = h.join("p1", wire::Role::External, 1, {study});
  auto out = h.result("p1", a[0]);
  bool ended = false;
  std::vector<std::string> kinds;
  for (const auto& m : out) {
    if (m.peer != "watcher") continue;
    auto* batch = m.env.body.AsEventBatch();
    REQUIRE(batch);
    for (const auto& e : batch->events) {
      CHECK(e->seq > last);
      last = e->seq;
      kinds.push_back(e->kind);
    }
    ended = ended || batch->end;
  }
  CHECK(ended);
  CHECK(std::find(kinds.begin(), kinds.end(), "trial_completed") != kinds.end());
}

TEST_CASE("controller: bad frames and unknown peers get clear errors", "[controller]") {
  Harness h;
  const std::string junk = "definitely not a flatbuffer";
  h.controller->on_message(Endpoint::kClient, "c", junk.data(), junk.size());
  auto out = h.commit();
  REQUIRE(out.size() == 1);
  CHECK(out[0].env.body.AsError()->code == wire::ErrorCode::Malformed);

  wire::PullT pull;
  pull.credits = 1;
  auto unknown = h.worker("stranger", pull);
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].env.body.AsError()->code == wire::ErrorCode::UnknownPeer);

  wire::HelloT hello;  // no worker id
  hello.role = wire::Role::Distill;
  auto rejected = h.worker("anon", std::move(hello));
  REQUIRE(rejected[0].env.body.AsReject());
  CHECK(rejected[0].env.body.AsReject()->error->field == "worker_id");

  // The daemon still serves.
  uint64_t study = h.submit(external_spec(1, 1));
  CHECK(study > 0);
}

TEST_CASE("controller: silent workers are dropped but keep their lease until expiry",
          "[controller]") {
  Harness h;
  uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  h.now += 3500;  // > liveness * heartbeat, < lease
  h.tick();
  CHECK(h.controller->connected_workers() == 0);
  CHECK(h.get(study).trials[0]->state == wire::TrialState::Leased);
  h.now += 2000;
  h.tick();
  CHECK(h.get(study).trials[0]->state == wire::TrialState::Queued);
}

TEST_CASE("controller: a probe measured once is reused by the next study on that hardware",
          "[controller]") {
  Harness h;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  // A one-point design space, so both studies propose the same architecture.
  auto one_point = [&] {
    auto spec = distill_spec(teacher, corpus);
    for (auto& f : spec.factors) f->values.resize(1);
    spec.max_trials = 1;
    spec.settings_json = R"({"serving": {"batch_size": 1, "seq_len": 128}})";
    return spec;
  };
  uint64_t first = h.submit(one_point());
  wire::HelloT hello;
  hello.worker_id = "probe-host";
  hello.role = wire::Role::Probe;
  hello.slots = 1;
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = "cpu-test";
  hello.hardware->fingerprint = "fp-1234";
  REQUIRE(h.worker("probe", std::move(hello)).size() == 1);
  auto probes = h.pull("probe", 1);
  REQUIRE(probes.size() == 1);
  wire::ResultT r;
  r.trial_id = probes[0].trial_id;
  r.attempt = 1;
  r.hardware_fingerprint = "fp-1234";
  auto latency = std::make_unique<wire::MetricT>();
  latency->name = "latency_ms";
  latency->value = 3.25;
  r.objectives.push_back(std::move(latency));
  REQUIRE(find_ack(h.worker("probe", std::move(r))));

  uint64_t second = h.submit(one_point());
  auto reply = h.get(second);
  const wire::TrialInfoT* probe = nullptr;
  for (const auto& t : reply.trials) {
    if (t->kind == wire::TrialKind::Probe) probe = t.get();
  }
  REQUIRE(probe);
  CHECK(probe->state == wire::TrialState::Completed);
  CHECK(probe->hardware_fingerprint == "fp-1234");
  REQUIRE(probe->objectives.size() == 1);
  CHECK(probe->objectives[0]->value == 3.25);
  // The probe worker is offered nothing for the second study.
  CHECK(h.pull("probe", 1).empty());

  // A different serving setting is a different measurement.
  auto other = one_point();
  other.settings_json = R"({"serving": {"batch_size": 8, "seq_len": 128}})";
  uint64_t third = h.submit(std::move(other));
  auto again = Harness::assigns(h.extra);  // the credit left from above takes it at once
  REQUIRE(again.size() == 1);
  CHECK(again[0].study_id == third);
  (void)first;
}

TEST_CASE("controller: limits refuse with clear errors", "[controller][limits]") {
  Harness h;
  SECTION("a connection over its rate limit is refused, then admitted again") {
    h.config.max_messages_per_second = 5;
    size_t refused = 0;
    for (int i = 0; i < 20; ++i) {
      auto out = h.client("flood", wire::ListStudiesT{}, static_cast<uint64_t>(100 + i));
      REQUIRE(out.size() == 1);
      if (auto* e = out[0].env.body.AsError()) {
        CHECK(e->code == wire::ErrorCode::ResourceExhausted);
        CHECK(e->field == "rate");
        CHECK(out[0].env.request_id == static_cast<uint64_t>(100 + i));
        ++refused;
      }
    }
    CHECK(refused == 10);  // a burst of 2 x 5 went through
    // Another connection is not affected.
    CHECK(h.client("calm", wire::ListStudiesT{})[0].env.body.AsStudyList());
    h.now += 1000;
    CHECK(h.client("flood", wire::ListStudiesT{})[0].env.body.AsStudyList());
  }
  SECTION("a worker never holds more credit than slots") {
    uint64_t study = h.submit(external_spec(20, 20));
    CHECK(h.join("w", wire::Role::External, 2, {study}).size() == 2);
    CHECK(h.pull("w", 100).size() == 2);  // 100 credits asked, 2 (= slots) granted
  }
  SECTION("a huge credit on top of a kept one does not wrap to zero") {
    // Parallelism 1: of the 2 credits one is used, one is kept.
    uint64_t study = h.submit(external_spec(3, 1));
    auto first = h.join("w", wire::Role::External, 2, {study});
    REQUIRE(first.size() == 1);
    CHECK(h.pull("w", UINT32_MAX).empty());  // 1 + 2^32 - 1 must not become 0
    // The Result frees the study's one parallel slot; the kept credit takes
    // the next trial at once.
    CHECK(Harness::assigns(h.result("w", first[0])).size() == 1);
  }
  SECTION("active studies are capped") {
    h.config.max_active_studies = 1;
    h.submit(external_spec(5));
    wire::SubmitT second;
    second.spec = std::make_unique<wire::StudySpecT>(external_spec(5));
    auto out = h.client("c", std::move(second));
    REQUIRE(out[0].env.body.AsError());
    CHECK(out[0].env.body.AsError()->code == wire::ErrorCode::ResourceExhausted);
    CHECK(out[0].env.body.AsError()->field == "spec");
  }
  SECTION("blob bytes are refused when the disk would run too low") {
    h.config.min_free_disk_bytes = uint64_t{1} << 62;
    wire::BlobPutT put;
    put.digest = wire::sha256_hex("abc");
    put.total_size = 3;
    put.data = {'a', 'b', 'c'};
    auto out = h.client("c", std::move(put));
    REQUIRE(out[0].env.body.AsError());
    CHECK(out[0].env.body.AsError()->code == wire::ErrorCode::ResourceExhausted);
    CHECK(out[0].env.body.AsError()->field == "total_size");
    CHECK_FALSE(h.blobs->contains(wire::sha256_hex("abc")));
  }
}

TEST_CASE("controller: the snapshot shows candidates' stages and workers, the same after a restart",
          "[controller][snapshot]") {
  Harness h;
  uint64_t study = h.submit(external_spec(4, 2));
  auto assigns = h.join("p1", wire::Role::External, 8, {study});
  REQUIRE(assigns.size() == 2);
  auto out = h.result("p1", assigns[0]);
  REQUIRE(find_ack(out));

  const Snapshot before = h.controller->snapshot();
  REQUIRE(before.studies.size() == 1);
  const StudyView& s = before.studies[0];
  CHECK(s.study_id == study);
  CHECK(s.state == wire::StudyState::Exploring);
  // Candidate 0 measured; 1 running; 2 proposed in its place (parallelism 2).
  REQUIRE(s.candidates.size() == 3);
  CHECK(s.candidates[0].stage == "explored");
  CHECK_FALSE(s.candidates[0].open);
  CHECK(s.candidates[1].stage == "external");
  CHECK(s.candidates[1].open);
  CHECK(s.candidates[2].stage == "external");
  REQUIRE(before.workers.size() == 1);
  CHECK(before.workers[0].worker_id == "w-p1");
  CHECK(before.workers[0].role == wire::Role::External);
  CHECK(before.workers[0].leased == 2);
  CHECK_FALSE(before.workers[0].quarantined);

  // Recovery folds the stored rows into the same candidate stages.
  h.reopen();
  const Snapshot after = h.controller->snapshot();
  REQUIRE(after.studies.size() == 1);
  REQUIRE(after.studies[0].candidates.size() == s.candidates.size());
  for (size_t i = 0; i < s.candidates.size(); ++i) {
    INFO("candidate " << i);
    CHECK(after.studies[0].candidates[i].candidate == s.candidates[i].candidate);
    CHECK(after.studies[0].candidates[i].stage == s.candidates[i].stage);
    CHECK(after.studies[0].candidates[i].open == s.candidates[i].open);
  }
  CHECK(after.workers.empty());  // sessions Hello again after a restart
}

TEST_CASE("controller: a non-positive value of a log-transformed objective fails the trial",
          "[controller]") {
  // latency_ms is log-transformed (by the naming rule when no transform is
  // declared): -2 cannot be modeled, so the trial must not be stored as
  // Completed while the engine drops the observation.
  Harness h;
  auto spec = external_spec(1, 1);
  spec.objectives[1]->name = "latency_ms";
  uint64_t study = h.submit(std::move(spec));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  wire::ResultT r;
  r.trial_id = a[0].trial_id;
  r.attempt = 1;
  for (auto [name, value] : {std::pair{"f1", 1.0}, std::pair{"latency_ms", -2.0}}) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = value;
    r.objectives.push_back(std::move(m));
  }
  REQUIRE(find_ack(h.worker("p1", std::move(r))));
  auto reply = h.get(study);
  REQUIRE(reply.trials.size() == 1);
  CHECK(reply.trials[0]->state == wire::TrialState::Failed);
  REQUIRE(reply.trials[0]->error);
  CHECK(reply.trials[0]->error->field == "objectives.latency_ms");
  CHECK(reply.trials[0]->error->message.find("positive") != std::string::npos);
  CHECK(reply.study->trials_completed == 0);
}

TEST_CASE("controller: a declared identity transform accepts negative values", "[controller]") {
  Harness h;
  auto spec = external_spec(1, 1);
  spec.objectives[1]->name = "latency_ms";
  spec.objectives[1]->transform = wire::ObjectiveTransform::Identity;
  uint64_t study = h.submit(std::move(spec));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  wire::ResultT r;
  r.trial_id = a[0].trial_id;
  r.attempt = 1;
  for (auto [name, value] : {std::pair{"f1", 1.0}, std::pair{"latency_ms", -2.0}}) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = value;
    r.objectives.push_back(std::move(m));
  }
  REQUIRE(find_ack(h.worker("p1", std::move(r))));
  auto reply = h.get(study);
  CHECK(reply.trials[0]->state == wire::TrialState::Completed);
}

TEST_CASE(
    "controller: GLUE tasks fine-tune students, the teacher and the baseline, across a "
    "restart, a failed fine-tuning is shown, not fatal",
    "[controller][glue]") {
  Harness h;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  const std::string task = h.blobs->put("a task bundle").value();
  wire::StudySpecT spec = distill_spec(teacher, corpus);
  set_baseline(spec);
  spec.settings_json = R"({"glue": {"tasks": {"kjv": ")" + task + R"("}, "epochs": 2}})";
  const uint64_t study = h.submit(std::move(spec));
  std::vector<wire::AssignT> pending = h.join("probe", wire::Role::Probe, 64, {}, "cpu-test");
  auto distill = h.join("distill", wire::Role::Distill, 64);
  pending.insert(pending.end(), distill.begin(), distill.end());
  // The baseline (0) is slow and poor: dominated, never selected by Pareto.
  auto latency = [](uint32_t c) { return c == 0 ? 10.0 : c; };
  auto accuracy = [](uint32_t c) { return c == 0 ? 0.1 : 0.8 - 0.1 * c; };
  std::map<uint32_t, nlohmann::json> finetune_settings;  // by candidate
  bool restarted = false;
  while (!pending.empty()) {
    const wire::AssignT a = pending.front();
    pending.erase(pending.begin());
    uint32_t c = 0;
    for (const auto& t : h.get(study).trials) {
      if (t->trial_id == a.trial_id) c = t->candidate;
    }
    std::vector<autodistill::testing::Received> out;
    switch (a.kind) {
      case wire::TrialKind::Probe:
        out = h.result("probe", a, latency(c));
        break;
      case wire::TrialKind::Flash:
        out = h.result("distill", a, accuracy(c));
        break;
      case wire::TrialKind::Regular:
        out = h.result("distill", a, 0.9);
        break;
      case wire::TrialKind::Finetune: {
        CHECK(a.objectives == std::vector<std::string>{"accuracy", "f1", "macro_f1"});
        REQUIRE(a.params.size() == 1);
        CHECK(a.params[0]->name == "glue_task");
        CHECK(a.params[0]->category == "kjv");
        finetune_settings[c] = nlohmann::json::parse(a.settings_json);
        if (!restarted) {
          // The daemon restarts while this fine-tuning runs: the stages
          // rebuilt from the stored rows are the live ones.
          const Snapshot before = h.controller->snapshot();
          h.reopen();
          const Snapshot after = h.controller->snapshot();
          REQUIRE(after.studies.size() == 1);
          REQUIRE(after.studies[0].candidates.size() == before.studies[0].candidates.size());
          bool finetuning = false;
          for (size_t i = 0; i < after.studies[0].candidates.size(); ++i) {
            CHECK(after.studies[0].candidates[i].stage == before.studies[0].candidates[i].stage);
            CHECK(after.studies[0].candidates[i].open == before.studies[0].candidates[i].open);
            finetuning |= after.studies[0].candidates[i].stage == "finetune";
          }
          CHECK(finetuning);
          restarted = true;
          auto again = h.join("distill", wire::Role::Distill, 64);  // leases held are kept
          pending.insert(pending.end(), again.begin(), again.end());
        }
        if (c == kTeacherCandidate) {
          wire::FailureT f;
          f.trial_id = a.trial_id;
          f.attempt = a.attempt;
          f.retryable = false;
          f.error = std::make_unique<wire::ErrorT>();
          f.error->code = wire::ErrorCode::InvalidArgument;
          f.error->message = "settings.finetune.max_seq_len 512 exceeds the model's positions";
          out = h.worker("distill", std::move(f));
        } else {
          out = h.result("distill", a, 0.75);
        }
        break;
      }
      case wire::TrialKind::External:
        FAIL("no External trial in a distill study");
    }
    auto more = Harness::assigns(out);
    pending.insert(pending.end(), more.begin(), more.end());
  }
  auto reply = h.get(study);
  INFO(reply.study->message);
  CHECK(reply.study->state == wire::StudyState::Succeeded);
  CHECK(reply.study->message.find("fine-tuning: 2 of 3 trials completed; 1 of 3 Finetune trials "
                                  "failed; last error: settings.finetune.max_seq_len") !=
        std::string::npos);
  std::map<uint32_t, int> regular, finetuned;
  for (const auto& t : reply.trials) {
    if (t->kind == wire::TrialKind::Regular) regular[t->candidate]++;
    if (t->kind == wire::TrialKind::Finetune) finetuned[t->candidate]++;
  }
  // Candidate 1 dominates the rest; the baseline is distilled for the table.
  CHECK(regular == std::map<uint32_t, int>{{0, 1}, {1, 1}});
  CHECK(finetuned == std::map<uint32_t, int>{{0, 1}, {1, 1}, {kTeacherCandidate, 1}});
  REQUIRE(finetune_settings.count(kTeacherCandidate));
  CHECK(finetune_settings[kTeacherCandidate]["finetune"]["model"] == "teacher");
  CHECK(finetune_settings[kTeacherCandidate]["finetune"]["task"] == task);
  CHECK(finetune_settings[kTeacherCandidate]["finetune"]["epochs"] == 2);
  // Ended: no longer active after a restart.
  h.reopen();
  CHECK(h.controller->snapshot().studies.empty());
}

TEST_CASE("controller: studies sharing workers share them fairly and none starves",
          "[controller][scheduling]") {
  // Two studies, each able to run 4 trials at once, and one worker with 4
  // slots serving both: the older study must not take every slot while it
  // has work (it would until its exploration ended: hours for Distill).
  Harness h;
  const uint64_t s1 = h.submit(external_spec(12, 4));
  const uint64_t s2 = h.submit(external_spec(12, 4));
  auto assigns = h.join("p1", wire::Role::External, 4, {s1, s2});
  REQUIRE(assigns.size() == 4);
  auto running = [&](uint64_t study) {
    return std::count_if(assigns.begin(), assigns.end(),
                         [&](const wire::AssignT& a) { return a.study_id == study; });
  };
  CHECK(running(s1) == 2);
  CHECK(running(s2) == 2);
  // A freed slot goes to the study with fewer running trials: finishing a
  // trial of s1 gives the slot back to s1, never to s2's third.
  for (int round = 0; round < 8; ++round) {
    const uint64_t study = round % 2 == 0 ? s1 : s2;
    auto it = std::find_if(assigns.begin(), assigns.end(),
                           [&](const wire::AssignT& a) { return a.study_id == study; });
    REQUIRE(it != assigns.end());
    const wire::AssignT done = *it;
    assigns.erase(it);
    auto more = Harness::assigns(h.result("p1", done));
    REQUIRE(more.empty());  // the worker gives its slot back with a Pull
    more = h.pull("p1", 1);
    REQUIRE(more.size() == 1);
    CHECK(more[0].study_id == study);
    assigns.push_back(more[0]);
    CHECK(running(s1) == 2);
    CHECK(running(s2) == 2);
  }
}
