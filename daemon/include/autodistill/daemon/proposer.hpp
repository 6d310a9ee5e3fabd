#pragma once
// A proposer turns a study's design space into candidates (ask/tell). The
// daemon rebuilds it after a restart by replaying, in order, every candidate
// it proposed (add_known) and every observation (observe).
// Not thread-safe: owned by the event-loop thread.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/daemon/study_spec.hpp"

namespace autodistill::daemon {

class Proposer {
 public:
  virtual ~Proposer() = default;
  // A candidate proposed earlier (replayed on restart); pending until
  // finish() or observe_failure().
  virtual void add_known(const Params& params) = 0;
  // Objective values measured for a known candidate (possibly partial: a
  // probe's latency arrives long before the flash distillation's accuracy).
  virtual void observe(const Params& params, const std::map<std::string, double>& values) = 0;
  // The candidate cannot be evaluated; it is never proposed again.
  virtual void observe_failure(const Params& params) = 0;
  // Every trial of the candidate is done: it is no longer pending.
  virtual void finish(const Params& params) = 0;
  // Up to n new candidates; fewer when the design space is exhausted.
  virtual std::vector<Params> propose(size_t n) = 0;
};

// The proposer for spec.algorithm: the BO engine (daemon/bo/) running "bo"
// (the default), "random", "firefly" or "nsga2". Null if the spec does not
// pass validate_search().
std::unique_ptr<Proposer> make_proposer(const wire::StudySpecT& spec, uint64_t study_id);

// The BO engine's own checks of a spec (hard constraints that leave no
// feasible point, ...), fields prefixed with "spec.".
Status validate_search(const wire::StudySpecT& spec);

}  // namespace autodistill::daemon
