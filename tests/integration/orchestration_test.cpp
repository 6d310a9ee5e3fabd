// Integration tests of Distill-study orchestration (issue #6): the real
// autodistilld and autodistill-test-worker processes on loopback. Objective
// values come from the test worker's quadratic evaluator (the sum of the
// squared architecture sizes), so latency and accuracy both grow with size.
#include <sqlite3.h>

#include <thread>

#include "autodistill/wire/blob_transfer.hpp"
#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

// Uploads a teacher and a corpus; returns their digests.
std::pair<std::string, std::string> upload_blobs(Cluster& c) {
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
  return {teacher.value(), corpus.value()};
}

wire::StudySpecT uploaded_distill_spec(Cluster& c) {
  auto [teacher, corpus] = upload_blobs(c);
  return distill_spec(teacher, corpus);
}

void start_distill_workers(Cluster& c, int distill_delay_ms = 0) {
  c.start_worker("probe", "probe", {"--tag", "cpu-test", "--builtin", "quadratic", "--slots", "2"});
  c.start_worker("distill", "distill",
                 {"--builtin", "quadratic", "--slots", "2", "--result-delay-ms",
                  std::to_string(distill_delay_ms)});
}

// (kind, trial_id) -> seq of the study's first event of that kind, read
// from the store beside the live daemon.
std::map<std::pair<std::string, uint64_t>, uint64_t> event_seqs(Cluster& c, uint64_t study) {
  std::map<std::pair<std::string, uint64_t>, uint64_t> out;
  sqlite3* db = nullptr;
  const std::string path = c.data_dir() + "/autodistill.db";
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT kind, trial_id, seq FROM events WHERE study_id = ? ORDER BY seq",
                     -1, &s, nullptr);
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(study));
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::string kind = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    out.try_emplace({kind, static_cast<uint64_t>(sqlite3_column_int64(s, 1))},
                    static_cast<uint64_t>(sqlite3_column_int64(s, 2)));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

// Every trial ended (none queued or running); completed ones were recorded
// exactly once.
void check_settled(Cluster& c, const wire::StudyReplyT& reply) {
  auto rows = c.result_rows();
  for (const auto& t : reply.trials) {
    INFO("trial " << t->trial_id << " " << wire::EnumNameTrialState(t->state));
    CHECK(t->state != wire::TrialState::Queued);
    CHECK(t->state != wire::TrialState::Leased);
    if (t->state == wire::TrialState::Completed) CHECK(rows[t->trial_id] == 1);
  }
}

wire::StudyReplyT cancel(Cluster& c, uint64_t study) {
  wire::CancelStudyT cancel;
  cancel.study_id = study;
  auto reply = c.client().call(cancel, 5s);
  REQUIRE(reply);
  INFO(Cluster::describe(*reply));
  REQUIRE(reply->body.AsStudyReply());
  return c.wait_state(study, wire::StudyState::Cancelled);
}

bool any_trial(Cluster& c, uint64_t study, wire::TrialKind kind, wire::TrialState state) {
  for (const auto& t : c.get(study).trials) {
    if (t->kind == kind && t->state == state) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("integration: a distill study with a baseline probes first and selects top-k",
          "[integration][orchestration]") {
  Cluster c;
  auto spec = uploaded_distill_spec(c);
  set_baseline(spec, {2, 128, 64, 2, 256, 1});
  spec.selection = selection(wire::SelectionRule::TopK, 1, "accuracy");
  uint64_t study = c.submit(std::move(spec));
  start_distill_workers(c);
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);

  std::map<uint32_t, std::map<wire::TrialKind, const wire::TrialInfoT*>> by_candidate;
  for (const auto& t : reply.trials) by_candidate[t->candidate][t->kind] = t.get();
  REQUIRE(by_candidate.size() == 4);  // the baseline + max_trials 3
  std::map<std::string, double> baseline;
  for (const auto& p : by_candidate[0][wire::TrialKind::Probe]->params) {
    baseline[p->name] = p->number;
  }
  CHECK(baseline["hidden_size"] == 128);
  CHECK(baseline["intermediate_size"] == 256);

  // Probe first: each flash was queued after its candidate's probe completed.
  auto seqs = event_seqs(c, study);
  double best = -1;
  uint32_t best_candidate = 0;
  for (auto& [candidate, trials] : by_candidate) {
    INFO("candidate " << candidate);
    const auto* probe = trials[wire::TrialKind::Probe];
    const auto* flash = trials[wire::TrialKind::Flash];
    REQUIRE(probe);
    REQUIRE(flash);
    CHECK(seqs.at({"trial_queued", flash->trial_id}) >
          seqs.at({"trial_completed", probe->trial_id}));
    REQUIRE(flash->objectives.size() == 1);
    if (flash->objectives[0]->value > best) {
      best = flash->objectives[0]->value;
      best_candidate = candidate;
    }
  }
  // TopK 1 by accuracy: exactly the most accurate candidate was distilled.
  std::vector<uint32_t> regular;
  for (auto& [candidate, trials] : by_candidate) {
    if (trials.count(wire::TrialKind::Regular)) regular.push_back(candidate);
  }
  CHECK(regular == std::vector<uint32_t>{best_candidate});
  check_settled(c, reply);
}

TEST_CASE("integration: max_wall_seconds ends exploration, across a daemon restart",
          "[integration][orchestration]") {
  Cluster c;
  auto spec = external_spec(500, 2);
  spec.max_wall_seconds = 2;
  spec.algorithm = "random";
  uint64_t study = c.submit(std::move(spec));
  c.start_worker("w", "external",
                 {"--study", std::to_string(study), "--slots", "2", "--builtin", "sleep:100"});
  REQUIRE(wait_until([&] { return c.get(study).study->trials_completed >= 2; }));
  c.kill_daemon(SIGKILL);
  std::this_thread::sleep_for(1500ms);  // the budget runs out while the daemon is down
  c.start_daemon();
  auto reply = c.wait_state(study, wire::StudyState::Succeeded, 20s);
  CHECK(reply.trials.size() < 40);
  check_settled(c, reply);
  CHECK(event_seqs(c, study).count({"wall_budget_spent", 0}) == 1);
}

TEST_CASE("integration: a warm-started study survives a restart with nothing lost",
          "[integration][orchestration]") {
  Cluster c;
  auto first = external_spec(6, 2);
  uint64_t earlier = c.submit(std::move(first));
  c.start_worker("a", "external",
                 {"--study", std::to_string(earlier), "--slots", "2", "--builtin", "quadratic"});
  c.wait_state(earlier, wire::StudyState::Succeeded);

  auto second = external_spec(8, 2);
  second.warm_start_study = earlier;
  uint64_t study = c.submit(std::move(second));
  c.start_worker("b", "external",
                 {"--study", std::to_string(study), "--slots", "2", "--builtin", "sleep:100"});
  REQUIRE(wait_until([&] { return c.get(study).study->trials_completed >= 3; }));
  const auto before = c.get(study);
  c.kill_daemon(SIGKILL);
  c.start_daemon();
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  REQUIRE(reply.trials.size() == 8);
  // The candidates proposed before the crash are unchanged.
  for (size_t i = 0; i < before.trials.size(); ++i) {
    CHECK(reply.trials[i]->trial_id == before.trials[i]->trial_id);
    for (size_t p = 0; p < before.trials[i]->params.size(); ++p) {
      CHECK(reply.trials[i]->params[p]->number == before.trials[i]->params[p]->number);
    }
  }
  check_settled(c, reply);
  CHECK(reply.study->trials_completed == 8);

  // An earlier study the daemon does not hold is refused by field.
  auto bad = external_spec(2);
  bad.warm_start_study = 999;
  wire::SubmitT submit;
  submit.spec = std::make_unique<wire::StudySpecT>(std::move(bad));
  auto refused = c.client().call(submit, 5s);
  REQUIRE(refused);
  REQUIRE(refused->body.AsError());
  CHECK(refused->body.AsError()->code == wire::ErrorCode::NotFound);
  CHECK(refused->body.AsError()->field == "spec.warm_start_study");
}

TEST_CASE("integration: cancel and restart a distill study in each stage",
          "[integration][orchestration]") {
  Cluster c;
  const auto [teacher, corpus] = upload_blobs(c);
  auto spec = [&, teacher = teacher, corpus = corpus] { return distill_spec(teacher, corpus); };
  start_distill_workers(c, 600);

  SECTION("cancel while exploring, restart: stays cancelled") {
    uint64_t study = c.submit(spec());
    REQUIRE(wait_until(
        [&] { return any_trial(c, study, wire::TrialKind::Flash, wire::TrialState::Leased); }));
    check_settled(c, cancel(c, study));
    c.kill_daemon(SIGKILL);
    c.start_daemon();
    auto reply = c.get(study);
    CHECK(reply.study->state == wire::StudyState::Cancelled);
    check_settled(c, reply);
  }
  SECTION("restart while exploring and while finalizing, then finish") {
    uint64_t study = c.submit(spec());
    REQUIRE(wait_until(
        [&] { return any_trial(c, study, wire::TrialKind::Flash, wire::TrialState::Leased); }));
    c.kill_daemon(SIGKILL);
    c.start_daemon();
    c.wait_state(study, wire::StudyState::Finalizing);
    c.kill_daemon(SIGKILL);
    c.start_daemon();
    auto reply = c.wait_state(study, wire::StudyState::Succeeded);
    check_settled(c, reply);
    size_t regular = 0;
    for (const auto& t : reply.trials) regular += t->kind == wire::TrialKind::Regular;
    CHECK(regular >= 1);
  }
  SECTION("cancel while finalizing, restart: stays cancelled") {
    uint64_t study = c.submit(spec());
    c.wait_state(study, wire::StudyState::Finalizing);
    auto reply = cancel(c, study);
    check_settled(c, reply);
    c.kill_daemon(SIGKILL);
    c.start_daemon();
    CHECK(c.get(study).study->state == wire::StudyState::Cancelled);
  }
}
