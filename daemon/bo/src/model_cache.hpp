#pragma once
// ModelCache: values that are pure functions of their keys, so copies of an
// engine can share them (a daemon copies the engine to compute suggestions
// off its event loop, and the copy's fits then serve the original too): the
// output warp and hyper-parameters of a metric fitted on a prefix of its rows, keyed by
// (metric, row count, fingerprint of those rows), and the warm-start GPs,
// which depend on the config alone. Thread-safe. Private to daemon/bo/src.

#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <vector>

#include "autodistill/bo/gp.hpp"
#include "autodistill/bo/output_warp.hpp"

namespace autodistill::bo {

// What is fitted at a refit point: the output warp and the GP's
// hyper-parameters on the warped values.
struct MetricFit {
  GpHypers hypers;
  OutputWarp warp;
};

class ModelCache {
 public:
  std::optional<MetricFit> find(size_t metric, size_t rows, uint64_t fingerprint) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = hypers_.find({metric, rows, fingerprint});
    if (it == hypers_.end()) return std::nullopt;
    return it->second;
  }
  void insert(size_t metric, size_t rows, uint64_t fingerprint, MetricFit hypers) {
    std::lock_guard<std::mutex> lock(mu_);
    hypers_.emplace(std::make_tuple(metric, rows, fingerprint), std::move(hypers));
  }
  // Builds the warm-start GPs once (under the lock) and returns them; they
  // are never modified afterwards.
  template <class Build>
  const std::vector<std::optional<Gp>>& priors(Build&& build) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!priors_built_) {
      priors_ = build();
      priors_built_ = true;
    }
    return priors_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<size_t, size_t, uint64_t>, MetricFit> hypers_;
  std::vector<std::optional<Gp>> priors_;
  bool priors_built_ = false;
};

}  // namespace autodistill::bo
