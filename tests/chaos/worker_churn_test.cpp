// Chaos (c): 256 simulated workers (raw DEALER sockets on one thread) join
// and leave continuously while a study runs: some say Bye, some vanish,
// some leave holding a lease. Nothing acknowledged is lost, each trial is
// counted once and the study completes.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <set>

#include "chaos_rig.hpp"
#include "sim_fleet.hpp"

using namespace autodistill;
using namespace autodistill::chaos;
using namespace std::chrono_literals;

TEST_CASE("chaos (c): 256 workers joining and leaving while a study runs", "[chaos]") {
  ChaosRig rig(/*lease_ms=*/1000);
  constexpr uint32_t kTrials = 3000;
  wire::StudySpecT spec = queue_spec(kTrials, 256);
  spec.max_attempts = 50;  // a trial may lose several workers in a row
  const uint64_t study = rig.submit("churn", spec);

  FleetOptions options;
  options.endpoint = rig.daemon().worker_endpoint();
  options.study_id = study;
  options.workers = 256;
  options.max_work = 40ms;
  options.seed = 7;
  SimFleet fleet(rig.context(), options);
  const FleetReport report = fleet.run(
      [&] {
        auto s = rig.client().get(study, false, 2s);
        return s && s->study->state >= wire::StudyState::Succeeded;
      },
      60s);
  std::printf(
      "churn: %.1f s, %zu joins, %zu byes and %zu vanished when idle, %zu byes and %zu vanished "
      "holding a lease, %zu results sent, %zu acks, at most %zu connected\n",
      report.seconds, report.joins, report.byes_idle, report.vanished_idle,
      report.byes_holding_lease, report.vanished_holding_lease, report.results_sent,
      report.acks.size(), report.max_connected);
  REQUIRE(report.finished);

  const auto done = rig.get(study);
  CHECK(done.study->state == wire::StudyState::Succeeded);
  CHECK(done.study->trials_completed == kTrials);
  REQUIRE(done.trials.size() == kTrials);
  auto rows = rig.probe().result_rows_per_trial();
  REQUIRE(rows);
  size_t reattempted = 0, not_once = 0;
  for (const auto& t : done.trials) {
    CHECK(t->state == wire::TrialState::Completed);
    if (t->attempt > 1) ++reattempted;
    const int n = rows->count(t->trial_id) ? rows->at(t->trial_id) : 0;
    if (n != 1) ++not_once;
  }
  CHECK(not_once == 0);
  // Every acknowledged result is in the store.
  auto keys = rig.probe().result_keys();
  REQUIRE(keys);
  size_t missing = 0;
  for (const TrialKey& key : std::set<TrialKey>(report.acks.begin(), report.acks.end())) {
    missing += keys->count(key) ? 0 : 1;
  }
  CHECK(missing == 0);
  std::printf("churn: %zu trials re-attempted after their worker left\n", reattempted);

  // The churn really happened, in every form, at full width.
  CHECK(report.joins >= options.workers + 100);
  CHECK(report.byes_idle > 0);
  CHECK(report.vanished_idle > 0);
  CHECK(report.byes_holding_lease > 0);
  CHECK(report.vanished_holding_lease > 0);
  CHECK(report.max_connected >= 200);
  CHECK(reattempted > 0);
  CHECK(rig.daemon().stop(SIGTERM) == 0);
}
