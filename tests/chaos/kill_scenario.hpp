#pragma once
// The daemon-kill scenario shared by the chaos test (a few kills) and the
// soak (scripts/soak.sh, twenty and more): real autodistilld and real
// autodistill-test-worker processes on loopback, the workers behind a
// WireTap that records every Ack.
//
//   submit a main External study; start two workers for it (slow enough
//     that it runs through every kill)
//   repeat `kills` times:
//     after a random part of the up time: submit a study (acknowledged),
//       start a worker for it; snapshot every study's completed trials
//     at the end of the up time: send one more Submit without waiting,
//       SIGKILL the daemon a random 0..3 ms (odd kills) or 0..30 ms later;
//       note whether its reply had arrived
//     restart the daemon on the same data directory, then check that
//       - every acknowledged submission is there (resubmitting its key
//         returns the same study, created = false),
//       - every trial completed in the snapshot is still completed with the
//         same attempt and objectives,
//       - every Ack any worker ever received has its 'result' row
//     resubmit the unacknowledged one (same key) and start a worker for it
//   wait until every study has finished, then check that each Succeeded
//   with every trial completed, one 'result' row per trial, every
//   acknowledged result's objectives as the worker sent them, and one study
//   per idempotency key; SIGTERM exits 0.
//
// Violations are collected, not thrown: the caller decides how to fail.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace autodistill::chaos {

struct KillScenarioOptions {
  // autodistilld and autodistill-test-worker executables (required).
  std::string daemon_binary;
  std::string worker_binary;
  // An existing directory for the data directory and every log (required).
  std::string work_dir;
  // SIGKILLs of the daemon (default 4).
  int kills = 4;
  // Seed of every random choice; 0 picks one from the clock (default 0).
  uint64_t seed = 0;
  // The daemon runs uniformly min_up_ms..max_up_ms between kills (default 100..1500).
  int min_up_ms = 100;
  int max_up_ms = 1500;
  // Trials of the main study; 0 means 40 per kill plus 40, enough to keep
  // its workers busy through every kill (default 0).
  uint32_t main_trials = 0;
  // Each main-study trial's evaluation time (default 100 ms).
  int main_result_delay_ms = 100;
  // Trials of each study submitted between kills (default 12).
  uint32_t study_trials = 12;
  // Each trial's evaluation time in the other studies' workers (default 20 ms).
  int result_delay_ms = 20;
  // Called with one line per kill and per phase; may be empty (default).
  std::function<void(const std::string&)> progress;
};

struct KillReport {
  uint64_t seed = 0;
  int kills = 0;                        // SIGKILLs delivered
  std::vector<double> up_ms;            // how long the daemon ran before each kill
  std::vector<double> restart_ms;       // SIGKILL -> the new daemon answers
  size_t studies = 0;                   // studies at the end
  size_t trials = 0;                    // trials at the end (all studies)
  size_t acks = 0;                      // Acks the workers received (repeats included)
  size_t acked_results = 0;             // distinct (trial, attempt) acknowledged
  size_t submissions_acked = 0;         // Submits whose reply arrived before a kill
  size_t submissions_unacked = 0;       // Submits cut off by a kill, resubmitted after
  size_t snapshot_trials_checked = 0;   // completed-trial checks across restarts
  size_t reattempted_trials = 0;        // trials whose final attempt is > 1
  double drain_seconds = 0;             // last restart -> every study finished
  double seconds = 0;                   // the whole scenario
  std::vector<std::string> violations;  // empty when every claim held
};

KillReport run_kill_scenario(const KillScenarioOptions& options);

// A few lines summing the report up (figures, then any violations).
std::string summarize(const KillReport& report);

}  // namespace autodistill::chaos
