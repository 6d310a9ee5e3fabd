#pragma once
// A proposer turns a study's design space into candidates (ask/tell). The
// daemon rebuilds it after a restart by replaying, in order, every candidate
// it proposed (add_known) and every observation (observe).
// Not thread-safe: owned by the event-loop thread. A SuggestJob made by
// prepare() is self-contained (a snapshot) and may run on any thread while
// the owner keeps observing.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/daemon/study_spec.hpp"

namespace autodistill::daemon {

// Computes suggestions from a snapshot of the proposer; runs on any thread.
using SuggestJob = std::function<std::vector<Params>()>;
// Set (from any thread) to make running SuggestJobs return early, empty.
using CancelFlag = std::shared_ptr<const std::atomic<bool>>;

// A measurement of an earlier study (warm start): a candidate and the
// objective values its completed exploration trials reported.
struct PriorObservation {
  Params params;
  std::map<std::string, double> values;
};

class Proposer {
 public:
  virtual ~Proposer() = default;
  // A candidate proposed earlier (replayed on restart) or a suggestion being
  // accepted; pending until finish() or observe_failure().
  virtual void add_known(const Params& params) = 0;
  // Objective values measured for a known candidate (possibly partial: a
  // probe's latency arrives long before the flash distillation's accuracy).
  virtual void observe(const Params& params, const std::map<std::string, double>& values) = 0;
  // The candidate cannot be evaluated; it is never proposed again.
  virtual void observe_failure(const Params& params) = 0;
  // Every trial of the candidate is done: it is no longer pending.
  virtual void finish(const Params& params) = 0;
  // A snapshot job that computes up to n new candidates (fewer when the
  // design space is exhausted) given the observations and pending candidates
  // of now. Its result is a pure function of that state, so the owner must
  // add_known() every candidate it accepts. Once `cancel` (may be null) is
  // set, the job stops soon and returns nothing: its result must then be
  // dropped, not read as an exhausted space (the daemon sets it at shutdown).
  virtual SuggestJob prepare(size_t n, CancelFlag cancel) const = 0;
  // prepare(n), run here, every result accepted (add_known).
  std::vector<Params> propose(size_t n);
  // Work that makes later suggestions cheaper without changing them (the BO
  // engine's deferred hyper-parameter fits, Engine::prefit()), as a
  // self-contained snapshot job like prepare()'s, to run on any thread off
  // the critical path; empty when there is none.
  virtual std::function<void()> background() const { return {}; }
  // The engine's acquisition value (expected hypervolume improvement in
  // standardized objective units times the probability of meeting the
  // measured constraints) of a known candidate given only the observations,
  // not the pending candidates; 0 while the models have too little data.
  virtual double score(const Params& params) const = 0;
};

// The proposer for spec.algorithm: the BO engine (daemon/bo/) running "bo"
// (the default), "random", "firefly" or "nsga2", with `warm_start` (an
// earlier study's measurements; those outside this study's space are left
// out) as its prior. Null if the spec does not pass validate_search().
std::unique_ptr<Proposer> make_proposer(const wire::StudySpecT& spec, uint64_t study_id,
                                        const std::vector<PriorObservation>& warm_start = {});

// The BO engine's own checks of a spec (hard constraints that leave no
// feasible point, objective transforms and references, ...), fields
// prefixed with "spec.".
Status validate_search(const wire::StudySpecT& spec);

// Whether the engine models `metric` (an objective or a constrained metric)
// on the log scale: the objective's declared transform, or for Auto (and
// for metrics that are not objectives) the naming rule: names containing
// "latency", "params" and "flops" are logged.
bool log_transformed(const wire::StudySpecT& spec, const std::string& metric);

// Checks a Result's objective values before the trial may complete: each
// finite, and > 0 when log_transformed(). Errors are kInvalidArgument with
// field "objectives.<name>".
Status check_measurements(const wire::StudySpecT& spec,
                          const std::map<std::string, double>& values);

// spec.baseline: every factor named once, each value in its factor's domain,
// the space's rules (heads divide the bottleneck) satisfied. Fields
// "spec.baseline[i]...". Ok when the baseline is empty.
Status validate_baseline(const wire::StudySpecT& spec);

// The baseline as Params in factor order (empty when none).
Params baseline_params(const wire::StudySpecT& spec);

}  // namespace autodistill::daemon
