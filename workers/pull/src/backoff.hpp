#pragma once
// Exponential reconnect backoff with jitter. The n-th delay (n from 0) is
// drawn uniformly from [d/2, d] with d = min(max, min * 2^n), so workers that
// lost the same daemon do not reconnect in lockstep. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <random>

namespace autodistill::worker {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed);

  // The delay before the next attempt; each call doubles the ceiling.
  std::chrono::milliseconds next();
  // Back to `min` (after a successful session).
  void reset() { failures_ = 0; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  uint32_t failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace autodistill::worker
