// Integration tests of the durable queue: the real autodistilld binary and
// real worker processes on loopback (issue #2, tests a-e).
#include <thread>

#include "autodistill/wire/blob_transfer.hpp"
#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> external_args(uint64_t study, const std::string& builtin, int slots = 1) {
  return {"--study", std::to_string(study), "--slots", std::to_string(slots), "--builtin", builtin};
}

// Every trial completed exactly once: one result row each, all Completed.
void check_exactly_once(Cluster& c, const wire::StudyReplyT& reply) {
  auto rows = c.result_rows();
  for (const auto& t : reply.trials) {
    INFO("trial " << t->trial_id);
    CHECK(t->state == wire::TrialState::Completed);
    CHECK(rows[t->trial_id] >= 1);
  }
  CHECK(reply.study->trials_completed == reply.trials.size());
}

}  // namespace

TEST_CASE("integration (a): submit, workers pull, results, study completes", "[integration]") {
  Cluster c;
  uint64_t study = c.submit(external_spec(12, 4));
  c.start_worker("a1", "external", external_args(study, "quadratic", 2));
  c.start_worker("a2", "external", external_args(study, "sleep:20", 2));
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  CHECK(reply.trials.size() == 12);
  check_exactly_once(c, reply);
  for (const auto& t : reply.trials) {
    REQUIRE(t->objectives.size() == 2);
    CHECK(t->attempt == 1);
  }
  CHECK_FALSE(reply.study->pareto.empty());
  // Both workers took part (work is pulled by whoever has credit).
  CHECK(c.finished_by("a1").size() + c.finished_by("a2").size() == 12);
}

TEST_CASE("integration (b): a killed worker's trial is re-leased and completes once",
          "[integration]") {
  Cluster c;
  uint64_t study = c.submit(external_spec(3, 3));
  size_t slow = c.start_worker("slow", "external", external_args(study, "sleep:60000", 1));
  // Wait until the slow worker holds a lease, then kill it mid-trial.
  uint64_t victim = 0;
  REQUIRE(wait_until([&] {
    for (const auto& t : c.get(study).trials) {
      if (t->state == wire::TrialState::Leased && t->worker_id == "slow") victim = t->trial_id;
    }
    return victim != 0;
  }));
  c.worker(slow).signal(SIGKILL);
  c.worker(slow).wait();
  c.start_worker("fast", "external", external_args(study, "sleep:10", 1));
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  check_exactly_once(c, reply);
  for (const auto& t : reply.trials) {
    if (t->trial_id == victim) {
      CHECK(t->attempt == 2);
      CHECK(t->worker_id == "fast");
    }
  }
  // The fast worker finished each trial once; the killed one finished none.
  auto fast = c.finished_by("fast");
  std::set<uint64_t> distinct;
  for (auto& [trial, attempt] : fast) distinct.insert(trial);
  CHECK(distinct.size() == fast.size());
  CHECK(fast.size() == 3);
  CHECK(c.finished_by("slow").empty());
}

TEST_CASE("integration (c): SIGKILL the daemon mid-study, everything acknowledged survives",
          "[integration]") {
  Cluster c;
  uint64_t study = c.submit(external_spec(30, 2), "release-7");
  c.start_worker("w", "external", external_args(study, "sleep:40", 2));
  REQUIRE(wait_until([&] { return c.get(study).study->trials_completed >= 6; }));
  // Acknowledged just before the crash: a second study and the results so far.
  uint64_t second = c.submit(external_spec(2, 1), "release-8");
  const auto before = c.get(study);
  std::map<uint64_t, std::map<std::string, double>> acknowledged;
  for (const auto& t : before.trials) {
    if (t->state != wire::TrialState::Completed) continue;
    for (const auto& o : t->objectives) acknowledged[t->trial_id][o->name] = o->value;
  }
  c.kill_daemon(SIGKILL);
  CHECK(c.last_daemon_exit() == 128 + SIGKILL);
  c.start_daemon();
  // The same submission is still there: resubmitting its key finds it.
  CHECK(c.submit(external_spec(2, 1), "release-8") == second);
  auto after = c.get(study);
  for (const auto& t : after.trials) {
    auto it = acknowledged.find(t->trial_id);
    if (it == acknowledged.end()) continue;
    CHECK(t->state == wire::TrialState::Completed);
    for (const auto& o : t->objectives) CHECK(it->second[o->name] == o->value);
  }
  // The worker reconnects by itself and the study finishes.
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  CHECK(reply.trials.size() == 30);
  check_exactly_once(c, reply);
  c.kill_daemon(SIGTERM);
  CHECK(c.last_daemon_exit() == 0);
}

TEST_CASE("integration (d): a result finished while the daemon is down arrives after restart",
          "[integration]") {
  Cluster c;
  uint64_t study = c.submit(external_spec(1, 1));
  c.start_worker("w", "external", external_args(study, "sleep:1500", 1));
  REQUIRE(wait_until([&] {
    auto r = c.get(study);
    return !r.trials.empty() && r.trials[0]->state == wire::TrialState::Leased;
  }));
  c.kill_daemon(SIGTERM);
  CHECK(c.last_daemon_exit() == 0);
  // The worker finishes while nobody listens; its result waits in the outbox.
  REQUIRE(wait_until([&] { return c.finished_by("w").size() == 1; }, 10s));
  c.start_daemon();
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  REQUIRE(reply.trials.size() == 1);
  CHECK(reply.trials[0]->attempt == 1);  // delivered, not re-run
  CHECK(reply.trials[0]->worker_id == "w");
  check_exactly_once(c, reply);
  CHECK(c.finished_by("w").size() == 1);
}

TEST_CASE("integration (e): bad input gets clear errors and the daemon keeps serving",
          "[integration]") {
  Cluster c;
  WirePeer& client = c.client();

  SECTION("bad study specs are rejected with code and field, nothing stored") {
    struct Case {
      std::function<void(wire::StudySpecT&)> mutate;
      wire::ErrorCode code;
      std::string field;
    };
    const std::string missing(64, 'e');
    std::vector<Case> cases = {
        {[](auto& s) { s.factors.clear(); }, wire::ErrorCode::InvalidArgument, "spec.factors"},
        {[](auto& s) {
           s.factors[1]->values = {64, 64};
         },
         wire::ErrorCode::InvalidArgument, "spec.factors[1].values[1]"},
        {[](auto& s) {
           s.factors[1]->values = {64, -8};
         },
         wire::ErrorCode::InvalidArgument, "spec.factors[1].values[1]"},
        {[](auto& s) { s.objectives[0]->name = "bleu"; }, wire::ErrorCode::InvalidArgument,
         "spec.objectives[0].name"},
        {[&](auto& s) { s.teacher_digest = missing; }, wire::ErrorCode::NotFound,
         "spec.teacher_digest"},
        {[](auto& s) {
           s.constraints.push_back(constraint("latency_ms", true, 2));
           s.constraints.push_back(constraint("latency_ms", false, 5));
         },
         wire::ErrorCode::InvalidArgument, "spec.constraints[1]"},
    };
    for (auto& k : cases) {
      auto spec = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
      k.mutate(spec);
      wire::SubmitT submit;
      submit.spec = std::make_unique<wire::StudySpecT>(std::move(spec));
      auto reply = client.call(std::move(submit));
      REQUIRE(reply);
      INFO(Cluster::describe(*reply));
      REQUIRE(reply->body.AsError());
      CHECK(reply->body.AsError()->field == k.field);
      CHECK(reply->body.AsError()->code == k.code);
      CHECK_FALSE(reply->body.AsError()->message.empty());
    }
    auto list = client.call(wire::ListStudiesT{});
    REQUIRE(list);
    CHECK(list->body.AsStudyList()->studies.empty());
  }

  SECTION("malformed, truncated, wrong-identifier and oversized frames") {
    wire::ListStudiesT list;
    std::string good = wire::encode_message(5, list);
    std::string wrong_id = good;
    wrong_id.replace(4, 4, "NOPE");
    for (const std::string& bad : {std::string("garbage"), good.substr(0, good.size() / 2),
                                   wrong_id, std::string(20u << 20, 'x')}) {
      client.send_raw(bad);
      auto reply = client.receive(5s);
      REQUIRE(reply);
      REQUIRE(reply->body.AsError());
      const auto code = reply->body.AsError()->code;
      CHECK((code == wire::ErrorCode::Malformed || code == wire::ErrorCode::ResourceExhausted));
    }
    // A multi-frame message is dropped with a log line and an error.
    client.socket().send(zmq::buffer(good), zmq::send_flags::sndmore);
    client.socket().send(zmq::buffer(good), zmq::send_flags::none);
    auto reply = client.receive(5s);
    REQUIRE(reply);
    CHECK(reply->body.AsError());
    // A worker-protocol message on the client endpoint is refused by name.
    wire::PullT pull;
    auto refused = client.call(pull);
    REQUIRE(refused);
    REQUIRE(refused->body.AsError());
    CHECK(refused->body.AsError()->field == "body");
  }

  // Whatever came before, the daemon still serves and still accepts studies.
  uint64_t study = c.submit(external_spec(1, 1));
  CHECK(study > 0);
  CHECK(c.daemon().running());
}

TEST_CASE("integration: probes reach only workers with the study's hardware tag", "[integration]") {
  Cluster c;
  // Blobs the distill spec names, uploaded over the client endpoint.
  WirePeer& client = c.client();
  auto round_trip = [&](wire::MessageUnion request) -> Result<wire::EnvelopeT> {
    std::optional<wire::EnvelopeT> reply;
    if (auto* s = request.AsBlobStat()) reply = client.call(*s);
    if (auto* p = request.AsBlobPut()) reply = client.call(*p);
    if (!reply) return Status(Code::kUnavailable, "timeout");
    return std::move(*reply);
  };
  auto teacher = wire::upload_bytes(round_trip, "teacher weights");
  auto corpus = wire::upload_bytes(round_trip, "a corpus");
  REQUIRE(teacher);
  REQUIRE(corpus);
  uint64_t study = c.submit(distill_spec(teacher.value(), corpus.value()));
  c.start_worker("gpu", "probe", {"--tag", "gpu-h100", "--builtin", "quadratic"});
  c.start_worker("cpu", "probe", {"--tag", "cpu-test", "--builtin", "quadratic"});
  c.start_worker("distill", "distill", {"--builtin", "quadratic", "--slots", "2"});
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  CHECK(c.finished_by("gpu").empty());
  size_t probes = 0;
  for (const auto& t : reply.trials) {
    if (t->kind == wire::TrialKind::Probe) {
      ++probes;
      CHECK(t->worker_id == "cpu");
    } else {
      CHECK(t->worker_id == "distill");
    }
  }
  CHECK(probes == 3);
  CHECK(c.finished_by("cpu").size() == 3);
}
