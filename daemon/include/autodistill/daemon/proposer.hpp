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
  // A candidate proposed earlier; it is not proposed again.
  virtual void add_known(const Params& params) = 0;
  // Objective values measured for a known candidate (possibly partial).
  virtual void observe(const Params& params, const std::map<std::string, double>& values) = 0;
  // Up to n new candidates; fewer when the design space is exhausted.
  virtual std::vector<Params> propose(size_t n) = 0;
};

// The proposer named by spec.algorithm ("" or "random").
std::unique_ptr<Proposer> make_proposer(const wire::StudySpecT& spec, uint64_t study_id);

}  // namespace autodistill::daemon
