#pragma once
// Engine::Impl: the engine's state (config, compiled space, observations)
// and the helpers its strategies share. Private to daemon/bo/src.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/rng.hpp"
#include "autodistill/bo/space.hpp"
#include "autodistill/pareto.hpp"

namespace autodistill::bo {

struct MetricInfo {
  std::string name;
  bool log_transform = false;
  double sign = 1.0;  // +1: larger is better (or constraint-only), -1: minimized
};

// An analytic (hard) or measured constraint, resolved to indices.
struct ResolvedConstraint {
  bool analytic = false;
  size_t metric = 0;  // analytic: 0 = params, 1 = flops; measured: index into metrics
  Comparison comparison = Comparison::kLessEqual;
  double bound = 0.0;
  // autodistill::within(), the project's one constraint check.
  bool satisfied(double v) const {
    return within(comparison == Comparison::kLessEqual ? wire::Comparison::LessEqual
                                                       : wire::Comparison::GreaterEqual,
                  bound, v);
  }
};

struct PointState {
  Point point;
  std::vector<double> unit;                 // Space::encode
  std::vector<std::vector<double>> values;  // per metric: raw measurements
  bool failed = false;
};

// One measurement of one metric, in observation order: the GP data.
struct DataRow {
  size_t point;
  double value;  // raw
};

// Fitted models shared by the copies of one engine (model_cache.hpp).
class ModelCache;
std::shared_ptr<ModelCache> make_model_cache();

class Engine::Impl {
 public:
  EngineConfig config;
  Space space;
  std::vector<MetricInfo> metrics;  // objectives first, then config.metrics
  size_t num_objectives = 0;
  std::vector<ResolvedConstraint> constraints;
  std::vector<int> student_factors;  // kStudentFactorNames order, when config.student
  int initial_points = 0;
  size_t varying_factors = 0;  // factors with more than one value
  bool enumerated = false;
  std::vector<Point> feasible;  // every feasible point, when enumerated

  std::vector<PointState> points;
  std::map<Point, size_t> index;
  std::vector<std::vector<DataRow>> rows;  // per metric
  size_t events = 0;

  // Fitted models, shared by every copy of this engine (see ModelCache).
  std::shared_ptr<ModelCache> cache = make_model_cache();

  static Result<std::unique_ptr<Impl>> build(EngineConfig config);

  std::optional<double> analytic(size_t which, const Point& p) const;
  bool hard_feasible(const Point& p) const;
  bool complete(const PointState& s) const;
  // The index into `points` of a canonical point, added (no values yet) on
  // its first observation.
  size_t point_state(const Point& canonical);
  // The GP's view of a raw value: log for log-transformed metrics.
  double transform(size_t metric, double raw) const;
  // Mean of the measurements of `metric` at a point, if any.
  std::optional<double> observed(size_t point, size_t metric) const;
  std::vector<char> categorical_mask() const;
  // Rows of the data count at which the hyper-parameters of a metric with
  // `count` rows were last refitted.
  size_t refit_point(size_t count) const;
  // Rows of the refit whose hyper-parameters a metric with `count` rows
  // uses: refit_point(count) up to BoOptions::refit_every_until rows, then
  // the refit point of count - floor(refit_lag * count) (BoOptions::refit_lag).
  size_t hypers_point(size_t count) const;
  // Canonical form of a valid point, or the error for it.
  Result<Point> canonical(const Point& p, const std::string& field) const;

  Result<std::vector<Point>> suggest(size_t n, const std::vector<Point>& pending,
                                     const std::atomic<bool>* cancel) const;
  Result<std::vector<double>> score(const std::vector<Point>& candidates,
                                    const std::vector<Point>& pending,
                                    Engine::ScoreReference reference) const;
};

// The points a strategy may still propose in one suggest() call: feasible
// (rules and hard constraints) and not excluded (complete, failed, pending,
// or already chosen in this batch).
class CandidateSource {
 public:
  // `cancel`: Engine::suggest's flag (may be null); strategies poll
  // cancelled() in their long loops and stop early.
  CandidateSource(const Engine::Impl& impl, std::set<Point> excluded,
                  const std::atomic<bool>* cancel = nullptr);

  const std::atomic<bool>* cancel_flag() const { return cancel_; }
  bool cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }

  // True when the feasible space is enumerated; the count is then exact.
  bool enumerated() const { return impl_.enumerated; }
  size_t num_available() const { return available_.size(); }
  // Every available point (enumerated spaces only).
  std::vector<Point> available_points() const;
  bool is_available(const Point& p) const;
  void exclude(const Point& p);
  // A uniformly random available point; nullopt when none is found.
  std::optional<Point> random(Rng& rng) const;
  // The available point nearest to unit coordinates `u` (exact when
  // enumerated; by local random search otherwise).
  std::optional<Point> nearest(const std::vector<double>& u, Rng& rng) const;

 private:
  const Engine::Impl& impl_;
  std::set<Point> excluded_;
  const std::atomic<bool>* cancel_ = nullptr;
  std::vector<uint32_t> available_;  // enumerated spaces: indices into impl_.feasible, ascending
};

// Strategies (one file each).
std::vector<Point> suggest_bo(const Engine::Impl& impl, size_t n, const std::vector<Point>& pending,
                              CandidateSource& source, Rng& rng);
// widest: the observed rule alone (Engine::ScoreReference::kWidest).
std::vector<double> score_bo(const Engine::Impl& impl, const std::vector<Point>& candidates,
                             const std::vector<Point>& pending, uint64_t seed, bool widest);
void prefit_bo(const Engine::Impl& impl);
std::optional<Point> firefly_step(const Engine::Impl& impl, size_t step,
                                  const CandidateSource& source, Rng& rng);
std::optional<Point> nsga2_child(const Engine::Impl& impl, const CandidateSource& source, Rng& rng);
std::vector<Point> latin_hypercube_design(const Space& space, size_t count, uint64_t seed);

}  // namespace autodistill::bo
