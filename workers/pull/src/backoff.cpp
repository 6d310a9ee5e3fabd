#include "backoff.hpp"

#include <algorithm>

namespace autodistill::worker {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
    : min_(min), max_(std::max(min, max)), rng_(seed) {}

std::chrono::milliseconds Backoff::next() {
  int64_t ceiling = min_.count();
  for (uint32_t i = 0; i < failures_ && ceiling < max_.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, max_.count());
  ++failures_;
  std::uniform_int_distribution<int64_t> jitter(ceiling / 2, ceiling);
  return std::chrono::milliseconds(jitter(rng_));
}

}  // namespace autodistill::worker
