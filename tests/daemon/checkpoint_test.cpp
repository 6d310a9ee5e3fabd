// Checkpoints, daemon side (docs/protocol.md "Checkpoints", "What the daemon
// must do"): the controller driven directly over a real SQLite store and a
// real blob store, with a controllable clock.
#include <catch2/catch.hpp>

#include "controller_harness.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::external_spec;
using autodistill::testing::Harness;
using autodistill::testing::Received;

namespace {

wire::CheckpointT checkpoint(const wire::AssignT& a, uint64_t step,
                             std::vector<std::pair<std::string, uint64_t>> blobs) {
  wire::CheckpointT c;
  c.trial_id = a.trial_id;
  c.attempt = a.attempt;
  c.step = step;
  c.total_steps = 100;
  c.format = "autodistill-checkpoint/1";
  for (auto& [digest, size] : blobs) {
    auto b = std::make_unique<wire::ArtifactT>();
    b->name = "checkpoint.safetensors";
    b->digest = digest;
    b->size = size;
    c.blobs.push_back(std::move(b));
  }
  return c;
}

// The reply addressed to `peer` (exactly one).
const wire::EnvelopeT& reply_to(const std::vector<Received>& out, const std::string& peer) {
  const wire::EnvelopeT* found = nullptr;
  for (const auto& m : out) {
    if (m.peer == peer && !m.env.body.AsAssign() && !m.env.body.AsHeartbeat()) {
      REQUIRE(found == nullptr);
      found = &m.env;
    }
  }
  REQUIRE(found != nullptr);
  return *found;
}

void check_ack(const wire::EnvelopeT& env, const wire::AssignT& a, uint64_t step) {
  INFO(wire::message_name(env.body.type));
  REQUIRE(env.body.AsCheckpointAck());
  CHECK(env.body.AsCheckpointAck()->trial_id == a.trial_id);
  CHECK(env.body.AsCheckpointAck()->attempt == a.attempt);
  CHECK(env.body.AsCheckpointAck()->step == step);
}

void check_error(const wire::EnvelopeT& env, wire::ErrorCode code, const std::string& field) {
  REQUIRE(env.body.AsError());
  INFO(env.body.AsError()->message);
  CHECK(env.body.AsError()->code == code);
  CHECK(env.body.AsError()->field == field);
  CHECK_FALSE(env.body.AsError()->message.empty());
}

uint64_t recorded_step(Harness& h, uint64_t trial) {
  auto row = h.store->get_checkpoint(trial);
  REQUIRE(row);
  return row.value() ? row.value()->step : 0;
}

}  // namespace

TEST_CASE("checkpoint: the Welcome advertises the feature", "[controller][checkpoint]") {
  Harness h;
  wire::HelloT hello;
  hello.worker_id = "w";
  hello.role = wire::Role::Distill;
  hello.slots = 1;
  auto out = h.worker("p", std::move(hello));
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].env.body.AsWelcome());
  const auto& features = out[0].env.body.AsWelcome()->features;
  CHECK(std::find(features.begin(), features.end(), "checkpoint") != features.end());
}

TEST_CASE("checkpoint: recorded from the lease holder, resumed by the next attempt",
          "[controller][checkpoint]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  CHECK_FALSE(a[0].resume);  // the first attempt starts at step 0
  const std::string bytes = "checkpoint at step 10";
  const std::string digest = h.blobs->put(bytes).value();

  // The ack comes in the batch that made the row durable.
  check_ack(reply_to(h.worker("p1", checkpoint(a[0], 10, {{digest, bytes.size()}}), 7), "p1"), a[0],
            10);
  CHECK(recorded_step(h, a[0].trial_id) == 10);

  // The worker vanishes; its lease expires; the next attempt resumes.
  h.now += 6000;
  h.tick();
  auto b = h.join("p2", wire::Role::External, 1, {study});
  REQUIRE(b.size() == 1);
  CHECK(b[0].trial_id == a[0].trial_id);
  CHECK(b[0].attempt == 2);
  REQUIRE(b[0].resume);
  CHECK(b[0].resume->trial_id == a[0].trial_id);
  CHECK(b[0].resume->attempt == 1);
  CHECK(b[0].resume->step == 10);
  CHECK(b[0].resume->total_steps == 100);
  CHECK(b[0].resume->format == "autodistill-checkpoint/1");
  REQUIRE(b[0].resume->blobs.size() == 1);
  CHECK(b[0].resume->blobs[0]->name == "checkpoint.safetensors");
  CHECK(b[0].resume->blobs[0]->digest == digest);
  CHECK(b[0].resume->blobs[0]->size == bytes.size());

  // A step at or below the recorded one, and the stale attempt's newer
  // step: acknowledged (the sender stops), nothing recorded; their blobs
  // go unless the recorded checkpoint names them.
  check_ack(reply_to(h.worker("p2", checkpoint(b[0], 10, {{digest, bytes.size()}})), "p2"), b[0],
            10);
  const std::string early = "a restarted run's checkpoint at step 4";
  const std::string early_digest = h.blobs->put(early).value();
  check_ack(reply_to(h.worker("p2", checkpoint(b[0], 4, {{early_digest, early.size()}})), "p2"),
            b[0], 4);
  wire::HelloT hello;  // p1 is back (a new session)
  hello.worker_id = "w-p1";
  hello.role = wire::Role::External;
  hello.slots = 1;
  hello.studies = {study};
  REQUIRE(h.worker("p1", std::move(hello))[0].env.body.AsWelcome());
  const std::string stale = "the stale attempt's checkpoint at step 30";
  const std::string stale_digest = h.blobs->put(stale).value();
  check_ack(reply_to(h.worker("p1", checkpoint(a[0], 30, {{stale_digest, stale.size()}})), "p1"),
            a[0], 30);
  auto row = h.store->get_checkpoint(a[0].trial_id).value();
  REQUIRE(row);
  CHECK(row->step == 10);
  CHECK(row->attempt == 1);
  CHECK(h.blobs->contains(digest));
  CHECK_FALSE(h.blobs->contains(early_digest));
  CHECK_FALSE(h.blobs->contains(stale_digest));

  // The resumed attempt's newer checkpoint replaces the row; the
  // superseded blob goes.
  const std::string later = "checkpoint at step 20";
  const std::string later_digest = h.blobs->put(later).value();
  check_ack(reply_to(h.worker("p2", checkpoint(b[0], 20, {{later_digest, later.size()}})), "p2"),
            b[0], 20);
  row = h.store->get_checkpoint(a[0].trial_id).value();
  REQUIRE(row);
  CHECK(row->step == 20);
  CHECK(row->attempt == 2);
  CHECK_FALSE(h.blobs->contains(digest));
  CHECK(h.blobs->contains(later_digest));
}

TEST_CASE("checkpoint: refused for a blob not held, a wrong size, a peer not holding the lease",
          "[controller][checkpoint]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  const std::string bytes = "checkpoint bytes";
  const std::string digest = h.blobs->put(bytes).value();
  const std::string absent(64, 'c');

  SECTION("a blob the daemon does not hold complete") {
    auto out = h.worker("p1", checkpoint(a[0], 10, {{digest, bytes.size()}, {absent, 5}}));
    check_error(reply_to(out, "p1"), wire::ErrorCode::NotFound, "blobs[1].digest");
  }
  SECTION("a size that is not the blob's") {
    auto out = h.worker("p1", checkpoint(a[0], 10, {{digest, bytes.size() + 1}}));
    check_error(reply_to(out, "p1"), wire::ErrorCode::InvalidArgument, "blobs[0].size");
  }
  SECTION("no blobs, step 0") {
    check_error(reply_to(h.worker("p1", checkpoint(a[0], 10, {})), "p1"),
                wire::ErrorCode::InvalidArgument, "blobs");
    check_error(reply_to(h.worker("p1", checkpoint(a[0], 0, {{digest, bytes.size()}})), "p1"),
                wire::ErrorCode::InvalidArgument, "step");
  }
  SECTION("a worker that never held the lease") {
    wire::HelloT hello;
    hello.worker_id = "intruder";
    hello.role = wire::Role::External;
    hello.slots = 1;
    hello.studies = {study};
    REQUIRE(h.worker("p2", std::move(hello))[0].env.body.AsWelcome());
    auto out = h.worker("p2", checkpoint(a[0], 10, {{digest, bytes.size()}}));
    check_error(reply_to(out, "p2"), wire::ErrorCode::PermissionDenied, "attempt");
    wire::CheckpointT unknown = checkpoint(a[0], 10, {{digest, bytes.size()}});
    unknown.trial_id = 999;
    check_error(reply_to(h.worker("p2", std::move(unknown)), "p2"), wire::ErrorCode::NotFound,
                "trial_id");
  }
  SECTION("no session") {
    check_error(reply_to(h.worker("p3", checkpoint(a[0], 10, {{digest, bytes.size()}})), "p3"),
                wire::ErrorCode::UnknownPeer, "");
  }
  CHECK(recorded_step(h, a[0].trial_id) == 0);
  // The refused one is not resumed either.
  h.now += 6000;
  h.tick();
  auto b = h.join("p4", wire::Role::External, 1, {study});
  REQUIRE(b.size() == 1);
  CHECK(b[0].attempt == 2);
  CHECK_FALSE(b[0].resume);
}

TEST_CASE("checkpoint: a checkpoint extends the lease like a heartbeat",
          "[controller][checkpoint]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  const std::string bytes = "ckpt";
  const std::string digest = h.blobs->put(bytes).value();
  h.now += 4000;  // lease_ms is 5000
  check_ack(reply_to(h.worker("p1", checkpoint(a[0], 1, {{digest, bytes.size()}})), "p1"), a[0], 1);
  h.now += 4000;  // past the first expiry, within the extended one
  h.tick();
  CHECK(h.get(study).trials[0]->state == wire::TrialState::Leased);
  h.now += 2000;
  h.tick();
  CHECK(h.get(study).trials[0]->state == wire::TrialState::Queued);
}

TEST_CASE("checkpoint: the recorded checkpoint survives a restart", "[controller][checkpoint]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  const std::string bytes = "checkpoint at step 42";
  const std::string digest = h.blobs->put(bytes).value();
  check_ack(reply_to(h.worker("p1", checkpoint(a[0], 42, {{digest, bytes.size()}})), "p1"), a[0],
            42);
  h.reopen();  // the daemon restarts; the worker never comes back
  h.now += 6000;
  h.tick();
  auto b = h.join("p2", wire::Role::External, 1, {study});
  REQUIRE(b.size() == 1);
  CHECK(b[0].attempt == 2);
  REQUIRE(b[0].resume);
  CHECK(b[0].resume->step == 42);
  REQUIRE(b[0].resume->blobs.size() == 1);
  CHECK(b[0].resume->blobs[0]->digest == digest);
  CHECK(h.blobs->contains(digest));
}

TEST_CASE("checkpoint: superseded and finished trials' blobs are deleted unless referenced",
          "[controller][checkpoint]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(2, 2));
  auto a = h.join("p1", wire::Role::External, 2, {study});
  REQUIRE(a.size() == 2);
  const std::string x = "step 10", y = "step 20", z = "step 30";
  const std::string dx = h.blobs->put(x).value(), dy = h.blobs->put(y).value(),
                    dz = h.blobs->put(z).value();
  // Both trials hold x (the same training state has the same bytes).
  check_ack(reply_to(h.worker("p1", checkpoint(a[0], 10, {{dx, x.size()}})), "p1"), a[0], 10);
  check_ack(reply_to(h.worker("p1", checkpoint(a[1], 10, {{dx, x.size()}})), "p1"), a[1], 10);
  // Trial 0 moves on: x is still trial 1's, so it stays.
  check_ack(reply_to(h.worker("p1", checkpoint(a[0], 20, {{dy, y.size()}})), "p1"), a[0], 20);
  CHECK(h.blobs->contains(dx));
  CHECK(h.blobs->contains(dy));
  // Trial 1 moves on: nothing references x any more.
  check_ack(reply_to(h.worker("p1", checkpoint(a[1], 30, {{dz, z.size()}})), "p1"), a[1], 30);
  CHECK_FALSE(h.blobs->contains(dx));
  CHECK(h.blobs->contains(dz));
  // A trial that ends takes its checkpoint blobs with it, not a blob one of
  // its artifacts still names.
  wire::ResultT r;
  r.trial_id = a[0].trial_id;
  r.attempt = a[0].attempt;
  for (const std::string& name : a[0].objectives) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = 1;
    r.objectives.push_back(std::move(m));
  }
  auto art = std::make_unique<wire::ArtifactT>();
  art->name = "kept.bin";
  art->digest = dy;
  art->size = y.size();
  r.artifacts.push_back(std::move(art));
  REQUIRE(testing::find_ack(h.worker("p1", std::move(r))));
  CHECK(recorded_step(h, a[0].trial_id) == 0);
  CHECK(h.blobs->contains(dy));  // an artifact of the completed trial
  h.result("p1", a[1]);
  CHECK(recorded_step(h, a[1].trial_id) == 0);
  CHECK_FALSE(h.blobs->contains(dz));
  CHECK(h.get(study).study->state == wire::StudyState::Succeeded);
  CHECK(h.store->blob_garbage(100).value().empty());  // nothing left waiting
}

TEST_CASE(
    "checkpoint: a retryable Failure or a Bye re-queues with the checkpoint, a cancel "
    "deletes it",
    "[controller][checkpoint]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  const std::string bytes = "checkpoint at step 7";
  const std::string digest = h.blobs->put(bytes).value();
  check_ack(reply_to(h.worker("p1", checkpoint(a[0], 7, {{digest, bytes.size()}})), "p1"), a[0], 7);
  SECTION("a retryable Failure") {
    wire::FailureT f;
    f.trial_id = a[0].trial_id;
    f.attempt = a[0].attempt;
    f.retryable = true;
    f.error = std::make_unique<wire::ErrorT>();
    f.error->code = wire::ErrorCode::Unavailable;
    f.error->message = "blob download failed";
    REQUIRE(testing::find_ack(h.worker("p1", std::move(f))));
  }
  SECTION("a Bye") {
    wire::ByeT bye;
    bye.reason = "stopping";
    h.worker("p1", std::move(bye));
  }
  auto b = h.join("p2", wire::Role::External, 1, {study});
  REQUIRE(b.size() == 1);
  CHECK(b[0].attempt == 2);
  REQUIRE(b[0].resume);
  CHECK(b[0].resume->step == 7);
  wire::CancelStudyT cancel;
  cancel.study_id = study;
  cancel.reason = "enough";
  h.client("client", std::move(cancel));
  CHECK(recorded_step(h, a[0].trial_id) == 0);
  CHECK_FALSE(h.blobs->contains(digest));
}
