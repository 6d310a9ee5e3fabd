// Chaos (b): SIGSTOP a worker mid-trial. Its lease runs out, the trial is
// dispatched again to another worker and counted once; after SIGCONT the
// stopped worker's late result is acknowledged but not counted twice.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>

#include "chaos_rig.hpp"

using namespace autodistill;
using namespace autodistill::chaos;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kLeaseMs = 1500;

// Waits until `worker_id` holds a lease on a trial of the study; returns it.
uint64_t wait_leased_by(ChaosRig& rig, uint64_t study, const std::string& worker_id,
                        uint32_t attempt) {
  uint64_t trial = 0;
  REQUIRE(testing::wait_until(
      [&] {
        for (const auto& t : rig.get(study).trials) {
          if (t->state == wire::TrialState::Leased && t->worker_id == worker_id &&
              t->attempt == attempt) {
            trial = t->trial_id;
          }
        }
        return trial != 0;
      },
      10s));
  return trial;
}

bool acked(ChaosRig& rig, TrialKey key) {
  auto acks = rig.tap().acks();
  return std::find(acks.begin(), acks.end(), key) != acks.end();
}

int result_rows(ChaosRig& rig, uint64_t trial) {
  auto rows = rig.probe().result_rows_per_trial();
  REQUIRE(rows);
  return rows->count(trial) ? rows->at(trial) : 0;
}

}  // namespace

TEST_CASE("chaos (b): a SIGSTOPped worker's trial is re-dispatched and counted once", "[chaos]") {
  ChaosRig rig(kLeaseMs);
  const uint64_t study = rig.submit("stop", queue_spec(1, 1));
  const size_t stopped = rig.start_worker("stopped", study, 3000);
  const uint64_t trial = wait_leased_by(rig, study, "stopped", 1);
  rig.worker(stopped).signal(SIGSTOP);
  const auto stopped_at = Clock::now();
  rig.start_worker("rescuer", study, 0);

  // The lease runs out (no heartbeats) and the rescuer completes attempt 2.
  const auto done = rig.wait_state(study, wire::StudyState::Succeeded, 15s);
  const double freed_after_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - stopped_at).count();
  REQUIRE(done.trials.size() == 1);
  const wire::TrialInfoT& t = *done.trials[0];
  CHECK(t.trial_id == trial);
  CHECK(t.attempt == 2);
  CHECK(t.worker_id == "rescuer");
  // Freed by lease expiry: not before the last heartbeat's lease ran out.
  CHECK(freed_after_ms >= kLeaseMs - 2 * 200);
  CHECK(result_rows(rig, trial) == 1);

  // SIGCONT: the stopped worker finishes attempt 1 late, reconnects and
  // delivers its result, which the daemon acknowledges...
  rig.worker(stopped).signal(SIGCONT);
  REQUIRE(testing::wait_until([&] { return acked(rig, {trial, 1}); }, 15s));
  CHECK(rig.finished_by("stopped") == std::vector<TrialKey>{{trial, 1}});
  CHECK(rig.finished_by("rescuer") == std::vector<TrialKey>{{trial, 2}});

  // ...but does not count: the study is unchanged and the trial has one result.
  const auto after = rig.get(study);
  CHECK(after.study->state == wire::StudyState::Succeeded);
  CHECK(after.study->trials_completed == 1);
  REQUIRE(after.trials.size() == 1);
  CHECK(after.trials[0]->attempt == 2);
  CHECK(after.trials[0]->worker_id == "rescuer");
  CHECK(result_rows(rig, trial) == 1);
}

TEST_CASE("chaos (b): a SIGSTOPped worker resumed while the re-dispatched attempt runs",
          "[chaos]") {
  ChaosRig rig(kLeaseMs);
  const uint64_t study = rig.submit("stop-race", queue_spec(1, 1));
  const size_t stopped = rig.start_worker("stopped", study, 2500);
  const uint64_t trial = wait_leased_by(rig, study, "stopped", 1);
  rig.worker(stopped).signal(SIGSTOP);
  rig.start_worker("rescuer", study, 20000);
  CHECK(wait_leased_by(rig, study, "rescuer", 2) == trial);

  // The late result of attempt 1 arrives while attempt 2 runs: it counts,
  // once, and the rescuer's attempt is cancelled.
  rig.worker(stopped).signal(SIGCONT);
  const auto done = rig.wait_state(study, wire::StudyState::Succeeded, 15s);
  REQUIRE(done.trials.size() == 1);
  CHECK(done.trials[0]->attempt == 1);
  CHECK(done.study->trials_completed == 1);
  // The Ack passes the tap after the study is Succeeded (durable first, then sent).
  CHECK(testing::wait_until([&] { return acked(rig, {trial, 1}); }, 15s));
  INFO(ChaosRig::read_file(rig.worker_log("rescuer")));
  CHECK(testing::wait_until(
      [&] {
        return ChaosRig::read_file(rig.worker_log("rescuer")).find("cancelled by the daemon") !=
               std::string::npos;
      },
      5s));
  CHECK(rig.finished_by("rescuer").empty());
  CHECK(result_rows(rig, trial) == 1);
}
