// Chaos (a): SIGKILL the daemon at random points during a study, restart it
// each time; nothing acknowledged is lost and every study completes with
// each trial counted once. The scenario is in kill_scenario.hpp; the soak
// (scripts/soak.sh) runs the same one with twenty and more kills.
//
// AUTODISTILL_CHAOS_SEED=<n> replays a run (its seed is printed).
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../daemon/temp_dir.hpp"
#include "kill_scenario.hpp"

using namespace autodistill::chaos;

TEST_CASE("chaos (a): SIGKILL the daemon at random points, nothing acknowledged is lost",
          "[chaos]") {
  autodistill::testing::TempDir dir;
  KillScenarioOptions options;
  options.daemon_binary = AUTODISTILLD_PATH;
  options.worker_binary = AUTODISTILL_TEST_WORKER_PATH;
  options.work_dir = dir.path();
  options.kills = 4;
  if (const char* seed = std::getenv("AUTODISTILL_CHAOS_SEED")) {
    options.seed = std::strtoull(seed, nullptr, 10);
  }
  options.progress = [](const std::string& line) { std::printf("  %s\n", line.c_str()); };

  const KillReport report = run_kill_scenario(options);
  const std::string summary = summarize(report);
  std::printf("%s", summary.c_str());
  INFO(summary);
  CHECK(report.violations.empty());
  CHECK(report.kills == options.kills);
  // Every claim was actually exercised.
  CHECK(report.acked_results > 0);
  CHECK(report.snapshot_trials_checked > 0);
  CHECK(report.submissions_acked >= static_cast<size_t>(options.kills));
}
