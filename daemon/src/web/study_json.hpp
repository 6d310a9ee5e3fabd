#pragma once
// The JSON documents of the web view's API (web_view.hpp), built from the
// stored rows (the store is the truth) and the controller's live snapshot.
// Pure functions: no I/O, no clock. Names of kinds, states and stages are
// lower-case ("probe", "exploring", "delivered").

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "autodistill/daemon/snapshot.hpp"
#include "autodistill/daemon/store.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon::web {

// The Pareto front after one more candidate completed.
struct FrontStep {
  int64_t time_ms = 0;          // when the candidate's last exploration trial ended
  uint32_t candidate = 0;       // the candidate that joined the front
  std::vector<uint32_t> front;  // the front then, ascending
};

// The front over time: the complete, feasible candidates (feasible_points())
// taken in the order they completed (ties: the lower index), one step for
// each that joined the front. The last step's front is pareto_candidates().
std::vector<FrontStep> front_history(const wire::StudySpecT& spec,
                                     const std::vector<TrialRow>& trials);

// One line of the studies list: id, name, kind, state, message, created_ms,
// updated_ms, and counts of candidates, explored ones, open trials.
nlohmann::json study_summary(const StudyRow& row, const wire::StudySpecT& spec,
                             const std::vector<TrialRow>& trials);

// Everything the study page shows: the summary's fields, objectives,
// constraints, factors, the baseline's candidate index (null without one),
// each candidate (stage from the one CandidateBook fold, architecture,
// merged exploration values, its trials by kind with values, worker,
// progress, queued/started/finished times from the trial rows' created_ms,
// started_ms and finished_ms columns: null when not known), the
// front and front_history. `progress` is Snapshot::progress.
nlohmann::json study_detail(const StudyRow& row, const wire::StudySpecT& spec,
                            const std::vector<TrialRow>& trials,
                            const std::map<uint64_t, double>& progress);

// The worker fleet: every worker the store knows, the connected ones with
// their live session (credits, running trials, quarantine).
nlohmann::json workers_json(const std::vector<WorkerView>& connected,
                            const std::vector<WorkerRow>& known);

}  // namespace autodistill::daemon::web
