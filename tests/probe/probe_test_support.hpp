#pragma once
// Stand-in models for the probe's harness tests (no LibTorch): a model that
// busy-waits a time proportional to the request's FLOPs, and one that
// records when it was alive (to check that probes do not overlap).

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "autodistill/probe/probe_model.hpp"
#include "autodistill/probe/prober.hpp"

namespace autodistill::test {

using Clock = std::chrono::steady_clock;

inline void spin_for(std::chrono::nanoseconds duration) {
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
  }
}

// Each run spins `ns_per_mflop` nanoseconds per million FLOPs of one
// sequence, times the batch size.
class SpinModel : public probe::ProbeModel {
 public:
  SpinModel(const probe::ProbeRequest& request, double ns_per_mflop)
      : per_sequence_(std::chrono::nanoseconds(static_cast<int64_t>(
            forward_flops(request.arch, request.serving.seq_len) / 1e6 * ns_per_mflop))) {}
  Result<probe::RunTime> run_once(int64_t batch_size) override {
    return probe::wall_clock_run([&] { spin_for(per_sequence_ * batch_size); })();
  }
  uint64_t peak_memory_bytes() const override { return 4096; }

 private:
  std::chrono::nanoseconds per_sequence_;
};

inline probe::ModelFactory spin_factory(double ns_per_mflop = 20000) {
  return [ns_per_mflop](
             const probe::ProbeRequest& request) -> Result<std::unique_ptr<probe::ProbeModel>> {
    return std::unique_ptr<probe::ProbeModel>(std::make_unique<SpinModel>(request, ns_per_mflop));
  };
}

// Records [built, destroyed] of every model it makes; each run spins 200 us.
class IntervalRecorder {
 public:
  struct Interval {
    Clock::time_point begin, end;
  };

  probe::ModelFactory factory() {
    return [this](const probe::ProbeRequest&) -> Result<std::unique_ptr<probe::ProbeModel>> {
      return std::unique_ptr<probe::ProbeModel>(std::make_unique<Model>(*this));
    };
  }
  std::vector<Interval> intervals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return intervals_;
  }

 private:
  class Model : public probe::ProbeModel {
   public:
    explicit Model(IntervalRecorder& owner) : owner_(owner), begin_(Clock::now()) {}
    ~Model() override {
      std::lock_guard<std::mutex> lock(owner_.mu_);
      owner_.intervals_.push_back({begin_, Clock::now()});
    }
    Result<probe::RunTime> run_once(int64_t) override {
      spin_for(std::chrono::microseconds(200));
      return probe::RunTime{0.2, false};
    }
    uint64_t peak_memory_bytes() const override { return 0; }

   private:
    IntervalRecorder& owner_;
    Clock::time_point begin_;
  };

  mutable std::mutex mu_;
  std::vector<Interval> intervals_;
};

// A small student that validates, with a short sequence.
inline probe::ProbeRequest small_request() {
  probe::ProbeRequest r;
  r.arch.num_blocks = 2;
  r.arch.hidden_size = 64;
  r.arch.bottleneck_size = 32;
  r.arch.num_heads = 2;
  r.arch.intermediate_size = 64;
  r.arch.num_stacked_ffn = 1;
  r.arch.vocab_size = 1000;
  r.arch.max_positions = 64;
  r.serving.seq_len = 32;
  return r;
}

// Probe options for tests: a private lock file and a short time budget.
inline probe::ProbeOptions quick_options(const std::filesystem::path& lock_path) {
  probe::ProbeOptions o;
  o.lock_path = lock_path;
  o.timing.warmup_runs = 2;
  o.timing.warmup_time = std::chrono::milliseconds(0);
  o.timing.min_runs = 10;
  o.timing.max_runs = 200;
  o.timing.max_time = std::chrono::milliseconds(200);
  o.timing.precision = 0.05;
  return o;
}

}  // namespace autodistill::test
