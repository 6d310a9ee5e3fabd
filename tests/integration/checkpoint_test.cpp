// Checkpoints against the real autodistilld (docs/protocol.md "Checkpoints"):
// raw protocol workers (tests/support/wire_peer.hpp) record a checkpoint,
// the daemon is SIGKILLed and restarted, the first worker never comes back,
// and the trial's next attempt resumes from the recorded checkpoint; the
// blobs a newer checkpoint and the trial's end release are deleted.
#include <fstream>
#include <iterator>

#include "autodistill/wire/blob_transfer.hpp"
#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

wire::RoundTrip round_trip_of(WirePeer& peer) {
  return [&peer](wire::MessageUnion request) -> Result<wire::EnvelopeT> {
    std::optional<wire::EnvelopeT> reply;
    if (auto* s = request.AsBlobStat()) reply = peer.call(*s);
    if (auto* p = request.AsBlobPut()) reply = peer.call(*p);
    if (auto* g = request.AsBlobGet()) reply = peer.call(*g);
    if (!reply) return Status(Code::kUnavailable, "timeout");
    return std::move(*reply);
  };
}

wire::HelloT hello_of(const std::string& id, uint64_t study) {
  wire::HelloT hello;
  hello.worker_id = id;
  hello.role = wire::Role::External;
  hello.slots = 1;
  hello.studies = {study};
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = "cpu-test";
  return hello;
}

wire::CheckpointT checkpoint(const wire::AssignT& a, uint64_t step, const std::string& digest,
                             uint64_t size) {
  wire::CheckpointT c;
  c.trial_id = a.trial_id;
  c.attempt = a.attempt;
  c.step = step;
  c.total_steps = 100;
  c.format = "autodistill-checkpoint/1";
  auto b = std::make_unique<wire::ArtifactT>();
  b->name = "checkpoint.safetensors";
  b->digest = digest;
  b->size = size;
  c.blobs.push_back(std::move(b));
  return c;
}

// Pulls one credit and waits for the Assign, heartbeating meanwhile (the
// session stays; a lease held elsewhere may have to expire first).
wire::AssignT next_assign(WirePeer& w, std::chrono::seconds timeout = 20s) {
  wire::PullT pull;
  pull.credits = 1;
  w.send(pull);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    w.send(wire::HeartbeatT{});
    auto env = w.receive(100ms);
    if (env && env->body.AsAssign()) return *env->body.AsAssign();
  }
  FAIL("no Assign within the timeout");
  return {};
}

bool held(WirePeer& blobs, const std::string& digest) {
  wire::BlobStatT stat;
  stat.digest = digest;
  auto reply = blobs.call(stat, 5s);
  REQUIRE(reply);
  REQUIRE(reply->body.AsBlobPutAck());
  return reply->body.AsBlobPutAck()->complete;
}

}  // namespace

TEST_CASE("checkpoint: a re-leased trial resumes from its checkpoint across a daemon SIGKILL",
          "[integration][checkpoint]") {
  Cluster c;
  auto spec = external_spec(1, 1);
  spec.max_attempts = 3;
  const uint64_t study = c.submit(std::move(spec));

  WirePeer first(c.context(), c.worker_endpoint());
  auto welcome = first.call(hello_of("first", study), 5s);
  REQUIRE(welcome);
  REQUIRE(welcome->body.AsWelcome());
  const auto& features = welcome->body.AsWelcome()->features;
  CHECK(std::find(features.begin(), features.end(), "checkpoint") != features.end());
  const wire::AssignT a = next_assign(first);
  CHECK(a.attempt == 1);
  CHECK_FALSE(a.resume);

  WirePeer blobs(c.context(), c.worker_endpoint());
  const std::string step10 = "the training state at step 10";
  auto d10 = wire::upload_bytes(round_trip_of(blobs), step10);
  REQUIRE(d10);

  // Refused: a blob the daemon does not hold, a worker not holding the lease.
  auto missing = first.call(checkpoint(a, 10, std::string(64, 'e'), 7), 5s);
  REQUIRE(missing);
  REQUIRE(missing->body.AsError());
  CHECK(missing->body.AsError()->code == wire::ErrorCode::NotFound);
  CHECK(missing->body.AsError()->field == "blobs[0].digest");
  WirePeer intruder(c.context(), c.worker_endpoint());
  REQUIRE(intruder.call(hello_of("intruder", study), 5s)->body.AsWelcome());
  auto forged = intruder.call(checkpoint(a, 90, d10.value(), step10.size()), 5s);
  REQUIRE(forged);
  REQUIRE(forged->body.AsError());
  CHECK(forged->body.AsError()->code == wire::ErrorCode::PermissionDenied);

  // Recorded and acknowledged (after the commit).
  auto ack = first.call(checkpoint(a, 10, d10.value(), step10.size()), 5s);
  REQUIRE(ack);
  INFO(Cluster::describe(*ack));
  REQUIRE(ack->body.AsCheckpointAck());
  CHECK(ack->body.AsCheckpointAck()->step == 10);

  // The daemon dies; the first worker never comes back.
  c.kill_daemon(SIGKILL);
  c.start_daemon();
  WirePeer second(c.context(), c.worker_endpoint());
  REQUIRE(second.call(hello_of("second", study), 5s)->body.AsWelcome());
  const wire::AssignT b = next_assign(second);
  CHECK(b.trial_id == a.trial_id);
  CHECK(b.attempt == 2);
  REQUIRE(b.resume);
  CHECK(b.resume->step == 10);
  CHECK(b.resume->attempt == 1);
  REQUIRE(b.resume->blobs.size() == 1);
  REQUIRE(b.resume->blobs[0]->digest == d10.value());
  const std::string copy = c.path("resumed.bin");
  REQUIRE(wire::download_blob(round_trip_of(blobs), d10.value(), copy));
  std::ifstream in(copy, std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == step10);

  // A newer checkpoint supersedes (its predecessor's blob goes); the end
  // of the trial takes the rest.
  const std::string step20 = "the training state at step 20";
  auto d20 = wire::upload_bytes(round_trip_of(blobs), step20);
  REQUIRE(d20);
  auto ack20 = second.call(checkpoint(b, 20, d20.value(), step20.size()), 5s);
  REQUIRE(ack20);
  REQUIRE(ack20->body.AsCheckpointAck());
  CHECK_FALSE(held(blobs, d10.value()));
  CHECK(held(blobs, d20.value()));
  wire::ResultT r;
  r.trial_id = b.trial_id;
  r.attempt = b.attempt;
  for (const std::string& name : b.objectives) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = 0.5;
    r.objectives.push_back(std::move(m));
  }
  auto done = second.call(std::move(r), 5s);
  REQUIRE(done);
  REQUIRE(done->body.AsAck());
  c.wait_state(study, wire::StudyState::Succeeded, 20s);
  CHECK_FALSE(held(blobs, d20.value()));
  CHECK(c.daemon().running());
}
