#pragma once
// The study the chaos tests run: tests/daemon/spec_builder.hpp's External
// study (x in [0, 1], a 3-value ordinal, two objectives) with the random
// proposer. The chaos tests exercise the queue; the random proposer keeps
// the cost of proposing (BO refits its GP) out of their time budget.
// AUTODISTILL_CHAOS_ALGORITHM=bo runs them with the BO engine instead
// (docs/RELIABILITY.md, F9).
#include <cstdint>
#include <cstdlib>

#include "../daemon/spec_builder.hpp"

namespace autodistill::chaos {

inline wire::StudySpecT queue_spec(uint32_t max_trials, uint32_t parallelism) {
  wire::StudySpecT spec = testing::external_spec(max_trials, parallelism);
  const char* algorithm = std::getenv("AUTODISTILL_CHAOS_ALGORITHM");
  spec.algorithm = algorithm != nullptr && *algorithm != '\0' ? algorithm : "random";
  return spec;
}

}  // namespace autodistill::chaos
