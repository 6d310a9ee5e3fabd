// Gangs, daemon side (docs/protocol.md "Gangs (data-parallel trials)",
// duties 1-6): the controller driven directly over a real SQLite store,
// with a controllable clock. A Distill study with regular_ranks = 2 is
// driven to its Regular trial, which then runs as a gang of two.
#include <catch2/catch.hpp>
#include <type_traits>

#include "controller_harness.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::distill_spec;
using autodistill::testing::external_spec;
using autodistill::testing::find_ack;
using autodistill::testing::Harness;
using autodistill::testing::Received;

namespace {

std::vector<std::pair<std::string, wire::AssignT>> assigns_by_peer(
    const std::vector<Received>& out) {
  std::vector<std::pair<std::string, wire::AssignT>> r;
  for (const auto& m : out) {
    if (auto* a = m.env.body.AsAssign()) r.emplace_back(m.peer, *a);
  }
  return r;
}

template <class T>
std::vector<std::pair<std::string, T>> of_type(const std::vector<Received>& out) {
  std::vector<std::pair<std::string, T>> r;
  for (const auto& m : out) {
    const T* x = nullptr;
    if constexpr (std::is_same_v<T, wire::GangAddressT>) x = m.env.body.AsGangAddress();
    if constexpr (std::is_same_v<T, wire::CancelT>) x = m.env.body.AsCancel();
    if constexpr (std::is_same_v<T, wire::ErrorT>) x = m.env.body.AsError();
    if (x != nullptr) r.emplace_back(m.peer, *x);
  }
  return r;
}

wire::PullT credit(uint32_t n) {
  wire::PullT p;
  p.credits = n;
  return p;
}

void hello(Harness& h, const std::string& peer, wire::Role role, uint32_t slots,
           std::vector<wire::TrialRefT> running = {}) {
  wire::HelloT hello;
  hello.worker_id = "w-" + peer;
  hello.role = role;
  hello.slots = slots;
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = role == wire::Role::Probe ? "cpu-test" : "";
  for (auto& r : running) hello.running.push_back(std::make_unique<wire::TrialRefT>(r));
  auto out = h.worker(peer, std::move(hello));
  REQUIRE(out.size() >= 1);
  REQUIRE(out[0].env.body.AsWelcome());
}

// A one-candidate Distill study with regular_ranks = `ranks`, driven
// through its probe and flash (the flash by Distill worker "d1", which
// then holds a free credit): its Regular trial is queued.
uint64_t to_regular(Harness& h, uint32_t ranks, uint32_t max_attempts = 3) {
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  auto spec = distill_spec(teacher, corpus);
  spec.max_trials = 1;
  spec.parallelism = 1;
  spec.max_attempts = max_attempts;
  spec.regular_ranks = ranks;
  const uint64_t study = h.submit(std::move(spec));
  auto probe = h.join("probe", wire::Role::Probe, 1, {}, "cpu-test");
  REQUIRE(probe.size() == 1);
  REQUIRE(probe[0].kind == wire::TrialKind::Probe);
  CHECK_FALSE(probe[0].gang);
  hello(h, "d1", wire::Role::Distill, 1);
  auto flash = assigns_by_peer(h.result("probe", probe[0], 5));
  if (flash.empty()) flash = assigns_by_peer(h.worker("d1", credit(1)));
  REQUIRE(flash.size() == 1);
  REQUIRE(flash[0].second.kind == wire::TrialKind::Flash);
  CHECK_FALSE(flash[0].second.gang);  // only Regular trials run as gangs
  h.result("d1", flash[0].second, 0.9);
  auto none = h.worker("d1", credit(1));
  CHECK(assigns_by_peer(none).empty());  // one worker cannot form a gang of two
  return study;
}

struct Gang {
  std::vector<std::pair<std::string, wire::AssignT>> ranks;  // by rank
  const wire::AssignT& at(uint32_t r) const { return ranks.at(r).second; }
  const std::string& peer(uint32_t r) const { return ranks.at(r).first; }
};

Gang gang_of(const std::vector<Received>& out) {
  Gang g;
  auto as = assigns_by_peer(out);
  g.ranks.resize(as.size());
  for (auto& [peer, a] : as) {
    REQUIRE(a.gang);
    REQUIRE(a.gang->rank < as.size());
    g.ranks[a.gang->rank] = {peer, a};
  }
  return g;
}

wire::TrialInfoT regular_of(Harness& h, uint64_t study) {
  for (const auto& t : h.get(study).trials) {
    if (t->kind == wire::TrialKind::Regular) return *t;
  }
  FAIL("no Regular trial");
  return {};
}

wire::HeartbeatT heartbeat(const wire::AssignT& a) {
  wire::HeartbeatT hb;
  auto p = std::make_unique<wire::TrialProgressT>();
  p->trial_id = a.trial_id;
  p->attempt = a.attempt;
  p->fraction = 0.5f;
  hb.progress.push_back(std::move(p));
  return hb;
}

wire::ResultT rank_result(const wire::AssignT& a, uint32_t rank) {
  wire::ResultT r;
  r.trial_id = a.trial_id;
  r.attempt = a.attempt;
  r.rank = rank;
  auto m = std::make_unique<wire::MetricT>();
  m->name = "steps";
  m->value = 40;
  r.metrics.push_back(std::move(m));
  return r;
}

wire::FailureT failure(const wire::AssignT& a, bool retryable) {
  wire::FailureT f;
  f.trial_id = a.trial_id;
  f.attempt = a.attempt;
  f.retryable = retryable;
  f.error = std::make_unique<wire::ErrorT>();
  f.error->code = wire::ErrorCode::Unavailable;
  f.error->message = "the gang is lost";
  return f;
}

// Cancels sent for (trial, attempt), by peer.
std::vector<std::string> cancelled(const std::vector<Received>& out, const wire::AssignT& a) {
  std::vector<std::string> peers;
  for (auto& [peer, c] : of_type<wire::CancelT>(out)) {
    if (c.trial_id == a.trial_id && c.attempt == a.attempt) peers.push_back(peer);
  }
  return peers;
}

}  // namespace

TEST_CASE("gang: leased only when two Distill workers are free, all ranks in one turn",
          "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2);
  CHECK(regular_of(h, study).state == wire::TrialState::Queued);
  hello(h, "d2", wire::Role::Distill, 2);
  Gang g = gang_of(h.worker("d2", credit(2)));
  REQUIRE(g.ranks.size() == 2);
  CHECK(g.peer(0) != g.peer(1));
  for (uint32_t r = 0; r < 2; ++r) {
    CHECK(g.at(r).kind == wire::TrialKind::Regular);
    CHECK(g.at(r).trial_id == g.at(0).trial_id);
    CHECK(g.at(r).attempt == 1);
    CHECK(g.at(r).gang->world_size == 2);
    CHECK(g.at(r).gang->address.empty());
    CHECK(g.at(r).settings_json == g.at(0).settings_json);
  }
  const auto info = regular_of(h, study);
  CHECK(info.state == wire::TrialState::Leased);
  CHECK(info.worker_id == "w-" + g.peer(0));
  // Each rank took one credit: the worker with two has one left, nothing to run.
  auto workers = h.controller->snapshot().workers;
  for (const auto& w : workers) {
    if (w.worker_id == "w-d2") CHECK(w.credits == 1);
    if (w.worker_id == "w-d1") CHECK(w.credits == 0);
  }
}

TEST_CASE("gang: rank 0's GangAddress is relayed to the other ranks, no one else's",
          "[controller][gang]") {
  Harness h;
  to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  wire::GangAddressT address;
  address.trial_id = g.at(0).trial_id;
  address.attempt = 1;
  address.address = "127.0.0.1:29500";
  auto out = h.worker(g.peer(0), address);
  auto relayed = of_type<wire::GangAddressT>(out);
  REQUIRE(relayed.size() == 1);
  CHECK(relayed[0].first == g.peer(1));
  CHECK(relayed[0].second.address == "127.0.0.1:29500");
  CHECK(relayed[0].second.attempt == 1);
  CHECK(of_type<wire::ErrorT>(out).empty());  // no reply
  // Again (after a reconnect): relayed again.
  CHECK(of_type<wire::GangAddressT>(h.worker(g.peer(0), address)).size() == 1);
  // From rank 1, or for another attempt: not relayed.
  CHECK(of_type<wire::GangAddressT>(h.worker(g.peer(1), address)).empty());
  address.attempt = 2;
  CHECK(of_type<wire::GangAddressT>(h.worker(g.peer(0), address)).empty());
}

TEST_CASE("gang: one lease per rank, and any rank's expiry ends the attempt for all",
          "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  // Both ranks heartbeat past the first lease: both kept.
  for (int i = 0; i < 3; ++i) {
    h.now += 3000;
    h.worker(g.peer(0), heartbeat(g.at(0)));
    h.worker(g.peer(1), heartbeat(g.at(1)));
    h.tick();
  }
  CHECK(regular_of(h, study).state == wire::TrialState::Leased);
  CHECK(regular_of(h, study).attempt == 1);
  // Rank 1 falls silent (its worker stays connected through plain heartbeats).
  std::vector<Received> out;
  for (int i = 0; i < 2; ++i) {
    h.now += 3000;
    h.worker(g.peer(0), heartbeat(g.at(0)));
    h.worker(g.peer(1), wire::HeartbeatT{});
    for (auto& m : h.tick()) out.push_back(std::move(m));
  }
  CHECK(cancelled(out, g.at(0)) == std::vector<std::string>{g.peer(0)});
  const auto info = regular_of(h, study);
  CHECK(info.attempt == 2);
  // Re-queued; both workers are free again (their credits came back with a
  // Pull), and rank 1's worker let its lease expire: still the only others.
  Gang again = gang_of([&] {
    auto o = h.worker(g.peer(0), credit(1));
    auto more = h.worker(g.peer(1), credit(1));
    o.insert(o.end(), more.begin(), more.end());
    return o;
  }());
  REQUIRE(again.ranks.size() == 2);
  CHECK(again.at(0).attempt == 2);
  CHECK(again.at(1).attempt == 2);
}

TEST_CASE("gang: a retryable Failure from any rank re-queues, a permanent one fails",
          "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  auto out = h.worker(g.peer(1), failure(g.at(1), true));
  REQUIRE(find_ack(out));
  CHECK(cancelled(out, g.at(0)) == std::vector<std::string>{g.peer(0)});
  CHECK(regular_of(h, study).attempt == 2);
  CHECK(regular_of(h, study).state == wire::TrialState::Queued);
  // The resent attempt: both ranks come back.
  auto o = h.worker(g.peer(0), credit(1));
  auto more = h.worker(g.peer(1), credit(1));
  o.insert(o.end(), more.begin(), more.end());
  Gang second = gang_of(o);
  REQUIRE(second.ranks.size() == 2);
  SECTION("a permanent failure fails the trial and cancels the other ranks") {
    out = h.worker(second.peer(0), failure(second.at(0), false));
    REQUIRE(find_ack(out));
    CHECK(cancelled(out, second.at(1)) == std::vector<std::string>{second.peer(1)});
    CHECK(regular_of(h, study).state == wire::TrialState::Failed);
  }
  SECTION("max_attempts counts gang attempts") {
    out = h.worker(second.peer(1), failure(second.at(1), true));
    CHECK(regular_of(h, study).state == wire::TrialState::Failed);
    CHECK(cancelled(out, second.at(0)) == std::vector<std::string>{second.peer(0)});
  }
}

TEST_CASE("gang: a Bye or a forgotten worker of any rank ends the attempt", "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  SECTION("Bye") {
    wire::ByeT bye;
    bye.reason = "shutting down";
    auto out = h.worker(g.peer(1), std::move(bye));
    CHECK(cancelled(out, g.at(0)) == std::vector<std::string>{g.peer(0)});
  }
  SECTION("silent, dropped") {
    std::vector<Received> out;
    for (int i = 0; i < 4; ++i) {
      h.now += 1000;
      h.worker(g.peer(0), heartbeat(g.at(0)));
      for (auto& m : h.tick()) out.push_back(std::move(m));
      if (!cancelled(out, g.at(0)).empty()) break;
    }
    CHECK(cancelled(out, g.at(0)) == std::vector<std::string>{g.peer(0)});
  }
  SECTION("its connection says Hello as another worker") {
    // The rank's worker is gone from that connection: as if it went silent.
    wire::HelloT other;
    other.worker_id = "w-someone-else";
    other.role = wire::Role::Distill;
    other.slots = 1;
    other.hardware = std::make_unique<wire::HardwareT>();
    auto out = h.worker(g.peer(1), std::move(other));
    REQUIRE_FALSE(out.empty());
    CHECK(cancelled(out, g.at(0)) == std::vector<std::string>{g.peer(0)});
  }
  CHECK(regular_of(h, study).attempt == 2);
  CHECK(regular_of(h, study).state == wire::TrialState::Queued);
}

TEST_CASE("gang: rank 0's Result completes the trial, a rank > 0 Result ends its lease",
          "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  // Rank 1 finishes first: acknowledged, its lease ends (no heartbeats needed).
  auto out = h.worker(g.peer(1), rank_result(g.at(1), 1));
  REQUIRE(find_ack(out));
  CHECK(regular_of(h, study).state == wire::TrialState::Leased);
  for (int i = 0; i < 3; ++i) {
    h.now += 3000;
    h.worker(g.peer(0), heartbeat(g.at(0)));
    h.worker(g.peer(1), wire::HeartbeatT{});
    h.tick();
  }
  CHECK(regular_of(h, study).attempt == 1);
  // Rank 1 may not report as rank 0, nor rank 0 as rank 1.
  auto wrong = h.result(g.peer(1), g.at(1), 0.8);
  REQUIRE(of_type<wire::ErrorT>(wrong).size() == 1);
  CHECK(of_type<wire::ErrorT>(wrong)[0].second.code == wire::ErrorCode::PermissionDenied);
  // Rank 0's Result completes it.
  REQUIRE(find_ack(h.result(g.peer(0), g.at(0), 0.8)));
  const auto info = regular_of(h, study);
  CHECK(info.state == wire::TrialState::Completed);
  CHECK(info.worker_id == "w-" + g.peer(0));
  CHECK(h.get(study).study->state == wire::StudyState::Succeeded);
  // A late rank 1 Result (a redelivery): acknowledged and ignored.
  REQUIRE(find_ack(h.worker(g.peer(1), rank_result(g.at(1), 1))));
  CHECK(regular_of(h, study).state == wire::TrialState::Completed);
}

TEST_CASE("gang: a rank > 0 Result arriving after rank 0's is acknowledged and ignored",
          "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  REQUIRE(find_ack(h.result(g.peer(0), g.at(0), 0.8)));
  CHECK(regular_of(h, study).state == wire::TrialState::Completed);
  auto out = h.worker(g.peer(1), rank_result(g.at(1), 1));
  REQUIRE(find_ack(out));
  CHECK(of_type<wire::ErrorT>(out).empty());
  // A rank this worker never held, or one beyond any gang: refused.
  auto other = h.worker(g.peer(1), rank_result(g.at(1), 3));
  REQUIRE(of_type<wire::ErrorT>(other).size() == 1);
  CHECK(of_type<wire::ErrorT>(other)[0].second.code == wire::ErrorCode::PermissionDenied);
  auto huge = h.worker(g.peer(1), rank_result(g.at(1), 1000));
  REQUIRE(of_type<wire::ErrorT>(huge).size() == 1);
  CHECK(of_type<wire::ErrorT>(huge)[0].second.code == wire::ErrorCode::InvalidArgument);
  CHECK(of_type<wire::ErrorT>(huge)[0].second.field == "rank");
}

TEST_CASE("gang: only rank 0's Checkpoint is recorded", "[controller][gang]") {
  Harness h;
  to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  auto checkpoint = [&](const wire::AssignT& a) {
    const std::string bytes = "weights at step 10 of rank " + std::to_string(a.gang->rank);
    const std::string digest = h.blobs->put(bytes).value();
    wire::CheckpointT c;
    c.trial_id = a.trial_id;
    c.attempt = a.attempt;
    c.step = 10;
    c.total_steps = 40;
    c.format = "autodistill-checkpoint/1";
    auto b = std::make_unique<wire::ArtifactT>();
    b->name = "checkpoint.safetensors";
    b->digest = digest;
    b->size = bytes.size();
    c.blobs.push_back(std::move(b));
    return c;
  };
  h.worker(g.peer(1), checkpoint(g.at(1)));
  CHECK_FALSE(h.store->get_checkpoint(g.at(0).trial_id).value());
  h.worker(g.peer(0), checkpoint(g.at(0)));
  REQUIRE(h.store->get_checkpoint(g.at(0).trial_id).value());
  // The re-formed gang resumes from it, every rank.
  h.worker(g.peer(0), failure(g.at(0), true));
  auto o = h.worker(g.peer(0), credit(1));
  auto more = h.worker(g.peer(1), credit(1));
  o.insert(o.end(), more.begin(), more.end());
  Gang again = gang_of(o);
  REQUIRE(again.ranks.size() == 2);
  for (uint32_t r = 0; r < 2; ++r) {
    REQUIRE(again.at(r).resume);
    CHECK(again.at(r).resume->step == 10);
  }
}

TEST_CASE("gang: the rank leases survive a daemon restart", "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  h.worker(g.peer(1), rank_result(g.at(1), 1));  // rank 1 done before the restart
  h.reopen();
  // Rank 0 comes back with its trial running; rank 1 does not need to.
  wire::TrialRefT ref;
  ref.trial_id = g.at(0).trial_id;
  ref.attempt = 1;
  hello(h, g.peer(0), wire::Role::Distill, 1, {ref});
  for (int i = 0; i < 3; ++i) {
    h.now += 3000;
    h.worker(g.peer(0), heartbeat(g.at(0)));
    h.tick();
  }
  CHECK(regular_of(h, study).state == wire::TrialState::Leased);
  CHECK(regular_of(h, study).attempt == 1);
  REQUIRE(find_ack(h.result(g.peer(0), g.at(0), 0.8)));
  CHECK(regular_of(h, study).state == wire::TrialState::Completed);
}

TEST_CASE("gang: after a restart a rank that does not come back ends the attempt",
          "[controller][gang]") {
  Harness h;
  const uint64_t study = to_regular(h, 2);
  hello(h, "d2", wire::Role::Distill, 1);
  Gang g = gang_of(h.worker("d2", credit(1)));
  REQUIRE(g.ranks.size() == 2);
  h.reopen();
  wire::TrialRefT ref;
  ref.trial_id = g.at(0).trial_id;
  ref.attempt = 1;
  hello(h, g.peer(0), wire::Role::Distill, 1, {ref});
  std::vector<Received> out;
  for (int i = 0; i < 3; ++i) {
    h.now += 3000;
    h.worker(g.peer(0), heartbeat(g.at(0)));
    for (auto& m : h.tick()) out.push_back(std::move(m));
  }
  CHECK(cancelled(out, g.at(0)) == std::vector<std::string>{g.peer(0)});
  CHECK(regular_of(h, study).attempt == 2);
}

TEST_CASE("gang: regular_ranks is validated", "[controller][gang][spec]") {
  Harness h;
  auto refused = [&](wire::StudySpecT spec) {
    wire::SubmitT submit;
    submit.spec = std::make_unique<wire::StudySpecT>(std::move(spec));
    auto out = h.client("client", std::move(submit));
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].env.body.AsError());
    return *out[0].env.body.AsError();
  };
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  auto too_many = distill_spec(teacher, corpus);
  too_many.regular_ranks = 1000;
  auto e = refused(std::move(too_many));
  CHECK(e.code == wire::ErrorCode::InvalidArgument);
  CHECK(e.field == "spec.regular_ranks");
  auto external = external_spec(1);
  external.regular_ranks = 2;
  e = refused(std::move(external));
  CHECK(e.code == wire::ErrorCode::InvalidArgument);
  CHECK(e.field == "spec.regular_ranks");
  CHECK_THAT(e.message, Catch::Contains("Distill"));
}
