#pragma once
// Engine: the multi-objective Bayesian-optimization engine of one study, as
// an ask/tell object (issue 3). The daemon asks for candidates with suggest(),
// reports measurements with observe() / observe_failure(), and reads the
// Pareto set with pareto_indices(). No I/O, no threads, no clocks.
//
// Determinism and restarts: suggest() and score() are pure functions of the
// config (seed included), the sequence of observe/observe_failure calls and
// their own arguments (the order of `pending` does not matter). Calling suggest() changes nothing
// the engine later depends on, so after a restart the daemon rebuilds an identical engine by
// replaying only the observations, in their original order.
//
// Algorithms (EngineConfig::algorithm):
//   "bo"      a Latin-hypercube initial design (centre point first), then one
//             GP per modeled metric (gp.hpp) and expected hypervolume
//             improvement (ehvi.hpp) times the probability of satisfying the
//             measured constraints; batches by kriging believer
//             (candidate_posterior.hpp); every remaining candidate is scored
//             when at most BoOptions::exhaustive_limit remain, an evolutionary
//             search proposes the candidates otherwise.
//   "random"  uniform over the feasible, not yet evaluated points.
//   "firefly" the multi-objective firefly algorithm (Yang 2010/2013), the
//             paper's evolutionary baseline, in ask/tell form.
//   "nsga2"   steady-state NSGA-II (Deb et al. 2002).
// Hard constraints (analytic metrics such as "params") remove points from
// every algorithm's candidates: an infeasible point is never suggested.
//
// Thread-safety: the const methods (suggest, score, ...) may run concurrently
// with each other; observe() and observe_failure() need exclusive access.
// Engines are copyable: a copy has its own observations and shares the
// (synchronized) cache of fitted hyper-parameters with the original, so a
// daemon can compute suggestions on a snapshot on a worker thread while its
// event loop keeps observing into the original, and neither refits what the
// other already fitted.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/bo/design_space.hpp"
#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill::bo {

struct ObjectiveSpec {
  std::string name;            // required, unique among objectives and metrics
  bool maximize = true;        // false: minimize (latency)
  bool log_transform = false;  // model log(value); values must be > 0 (latency-like)
  // Hypervolume reference (raw units): the expected hypervolume improvement
  // counts only the region beyond the references of the objectives that
  // declare one. Default: the worst observed value minus 10% of the range,
  // and on every second suggestion the believed front's nadir minus 10% of
  // its range (BoOptions::front_reference_every, reference_from_front).
  std::optional<double> reference;
  // The reference is the mean measured value of EngineConfig::baseline for
  // this objective, once measured (until then, as without a reference).
  // Exclusive with `reference`; needs EngineConfig::baseline.
  bool reference_at_baseline = false;
};

// A measured metric that is modeled only for the constraints on it.
struct MetricSpec {
  std::string name;
  bool log_transform = false;
};

enum class Comparison { kLessEqual, kGreaterEqual };

// metric <= bound or metric >= bound. The metric is an objective, a
// MetricSpec (measured: the GP's probability of feasibility weights the
// acquisition), or an analytic metric (hard: infeasible points are never
// suggested): "params" and "flops" when EngineConfig::student is set
// (autodistill/student_arch.hpp, shared with the workers).
struct ConstraintSpec {
  std::string metric;
  Comparison comparison = Comparison::kLessEqual;
  double bound = 0.0;
};

// Enables the analytic metrics "params" and "flops" of the student template;
// the space must then have the six factors of kStudentFactorNames.
struct StudentSettings {
  int64_t vocab_size = 30522;
  int64_t max_seq_length = 512;
  int64_t type_vocab_size = 2;
  // The template options (embedding_size, trigram_input, ...; the sizes in
  // it are ignored). Default: StudentArch's.
  StudentArch options;
};

// One evaluation: a point and some of its metric values.
struct Observation {
  Point point;
  std::map<std::string, double> values;
};

struct BoOptions {
  size_t exhaustive_limit = 5000;      // score every candidate when at most this many remain
  uint64_t max_enumeration = 1000000;  // enumerate discrete spaces up to this grid size
  // ... and up to this many coordinates (grid size x factors): the
  // enumerated points are held, and copied with the engine, as doubles.
  uint64_t max_enumeration_values = 8000000;
  int gp_random_starts = 2;       // L-BFGS-B starts besides the default one
  int gp_max_iterations = 60;     // per start
  size_t refit_every_until = 30;  // refit hyper-parameters at every data count up to this
  double refit_growth = 1.2;      // then each time the data count grows by this factor
  size_t max_fit_points = 300;    // fit hyper-parameters on at most this many distinct
                                  // points (an even subset); the posterior uses all
  // Past refit_every_until rows, a metric with n rows uses the fit made at
  // the refit point of n - floor(refit_lag * n) rows: a fit is used only
  // once ~10% more data have arrived, so prefit() can compute it off the
  // critical path (in the background) before any suggestion needs it.
  // 0: the fit of refit point n itself, as soon as it is due.
  double refit_lag = 0.1;
  // Model each metric's values through a fitted monotone warp (standardize,
  // then Yeo-Johnson; output_warp.hpp) so that skewed values and outliers
  // (degenerate candidates) do not distort the GP; refitted with the
  // hyper-parameters. Metrics with a warm start or a measured constraint are
  // not warped.
  bool warp_outputs = true;
  int evolution_population = 256;  // evolutionary acquisition search (large spaces)
  int evolution_generations = 8;
  size_t search_model_points = 300;  // the search's generations are ranked on GPs of at
                                     // most this many distinct points (an even subset);
                                     // its final candidates on the full GPs
  // How many of the search's best points are scored on the full GPs (at
  // least the batch size); 0: evolution_population of them. Issue #13
  // latency (docs/bo.md): each costs O(n^2) on the full models.
  size_t search_pool = 0;
  int scalarization_weights = 128;  // 4+ objectives (ehvi.hpp; 3 are exact)
  int scalarization_samples = 32;
  // 2 and 3 objectives: when the best value of an objective was measured (to
  // 1e-9 of its spread) at as many distinct points as the space has factors
  // with more than one value (at least 2), treat it as the objective's bound:
  // hypervolume improvements beyond it are not counted. A GP cannot represent
  // such a floor (e.g. an error of exactly 0 over a whole region) and predicts
  // slightly past it, which EHVI would otherwise reward as a whole new slab of
  // the objective space. false: the pre-bound behaviour.
  bool bound_repeated_best = true;
  // The reference of an objective that declares none. false (default): the
  // worst observed value minus 10% of the observed range (by turns with the
  // front rule, front_reference_every below). true: always the nadir of
  // the believed Pareto front (the incumbent's non-dominated points) minus
  // 10% of the front's range in that objective (front_reference() in
  // pareto.hpp, as BoTorch / Ax infer one; the observed rule still applies
  // to an objective whose front has no spread), so dominated points, however
  // far out, do not stretch the hypervolume box. A trade-off, not a free
  // gain (docs/bo.md, issue #13): the search then favours the front's
  // interior (nas-cell: 50 % of the hypervolume beyond an undeclared
  // baseline in 56 instead of 73.5 evaluations) and stops extending an
  // extreme that is worse than the nadir in the other objective (ZDT1: the
  // corner x0 = 0; 95 % of the whole front in 20 instead of 12.5).
  bool reference_from_front = false;
  // Variants of the rules above (issue #13, bench only until one earns the
  // default; docs/bo.md). With reference_from_front: the margin below the
  // front's nadir as a fraction of the front's range (default 10 %), or with
  // front_reference_gap the largest gap between consecutive front values in
  // that objective instead. Either way the reference is never further out
  // than the observed rule's. observed_reference_quantile (0 <= q < 1): the
  // observed rule starts from this quantile of the observed values instead
  // of the worst (0: the worst), so the worst fraction q of the
  // observations does not stretch the box.
  double front_reference_margin = 0.1;
  bool front_reference_gap = false;
  size_t front_reference_layers = 1;  // the front rule over this many non-dominated layers
  double observed_reference_quantile = 0.0;
  // Portfolios of the observed and the front rule (issue #13).
  // front_reference_every = k > 0: the front rule (with the variants above)
  // when the number of complete points is a multiple of k, the observed rule
  // otherwise; 0 = the observed rule alone. Default 2 (every second
  // suggestion; docs/bo.md step 3, docs/BENCHMARKS.md "Reference
  // portfolios"): nas-cell reaches 50 % of the hypervolume beyond an
  // undeclared baseline in 52.5 instead of 73.5 evaluations, at a cost of a
  // few evaluations on table1(-cat) and dtlz2. front_reference_weight = w
  // > 0: the acquisition is EHVI(observed rule) + w * EHVI(front rule), so
  // the front's interior (inside both boxes) earns 1 + w times its
  // hypervolume and the extension of its ends (inside the observed box only)
  // still earns. Neither applies with reference_from_front.
  size_t front_reference_every = 2;
  double front_reference_weight = 0.0;
};

struct EngineConfig {
  DesignSpace space;
  std::vector<ObjectiveSpec> objectives;    // at least one
  std::vector<MetricSpec> metrics;          // measured, constraint-only; default none
  std::vector<ConstraintSpec> constraints;  // default none
  std::optional<StudentSettings> student;   // default: no analytic metrics
  std::string algorithm = "bo";             // "bo" | "random" | "firefly" | "nsga2"
  uint64_t seed = 0;
  // Initial-design size for "bo": -1 = automatic (2 * factors with more than
  // one value + 1, or 1 with a warm start); the evolutionary baselines start
  // with `population` random points.
  int initial_points = -1;
  int population = 20;  // firefly / nsga2 population
  // Observations of an earlier study over the same factors (e.g. the previous
  // teacher version). "bo" fits a GP to them per metric and models the new
  // study's data as that GP's mean plus a residual GP (stacked residual GP,
  // Golovin et al. 2017, sec. 3.3).
  std::vector<Observation> warm_start;
  // A point of the space (e.g. the hand-designed architecture a study must
  // beat) whose measurements give the references of the objectives with
  // ObjectiveSpec::reference_at_baseline. Default: none.
  std::optional<Point> baseline;
  BoOptions bo;
};

// Checks a config completely, without building an engine. Errors are
// kInvalidArgument with a field path named after the wire StudySpec
// ("factors[2].values[1]", "objectives[0].name", "constraints[1].bound",
// "algorithm"; the daemon prefixes "spec."), plus "divisibility[k]...",
// "student...", "warm_start[i]..." and "bo..." for fields that are not on
// the wire. A space whose every point violates the rules or the hard
// constraints is rejected here.
Status validate(const EngineConfig& config);

// What the engine knows about one distinct point.
struct PointRecord {
  Point point;
  std::map<std::string, double> values;  // mean of the measurements of each metric
  bool failed = false;                   // observe_failure() was called for it
  bool complete = false;                 // every objective has been measured
};

class Engine {
 public:
  static Result<Engine> create(EngineConfig config);

  Engine(const Engine& other);
  Engine& operator=(const Engine& other);
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  // Up to n new candidates, distinct, feasible, different from `pending`
  // (trials queued or running) and, in a discrete space, from every point
  // that is complete or failed. Fewer than n only when the discrete feasible
  // space runs out. Errors: kInvalidArgument "pending[i]" for a bad point;
  // kCancelled when `cancel` (may be null) was set while it ran: the long
  // loops poll it (another thread sets it, e.g. a daemon shutting down), so
  // it returns soon after, though one matrix factorization or solve over
  // the data is not interrupted.
  Result<std::vector<Point>> suggest(size_t n, const std::vector<Point>& pending = {},
                                     const std::atomic<bool>* cancel = nullptr) const;

  // Records measurements for a point; `values` may hold any subset of the
  // objectives and metrics (a probe's latency long before the accuracy).
  // Other names are ignored, so a worker's whole metric list can be passed.
  // A repeated measurement is kept as another noisy observation. Errors
  // (nothing is recorded): kInvalidArgument "point[i]" for a point outside
  // the space, "values.<name>" for a non-finite value or a non-positive value
  // of a log-transformed metric.
  Status observe(const Point& point, const std::map<std::string, double>& values);
  // The point could not be evaluated; it is never suggested again.
  Status observe_failure(const Point& point);

  // Which reference score() measures the hypervolume improvement from, for
  // an objective that declares none. kSuggestion: the one the next
  // suggest() uses (by turns with BoOptions::front_reference_every).
  // kWidest: the observed rule alone, whose box holds every other rule's
  // (the front rule is capped at it), so a candidate scored 0 there cannot
  // add hypervolume under any rule: the test for a hopeless candidate.
  enum class ScoreReference { kSuggestion, kWidest };
  // Acquisition value of each candidate given `pending` (higher = more
  // useful to evaluate): e.g. to rank probed candidates, whose latency is
  // already known, for a flash distillation. Uses the "bo" models whatever
  // the algorithm; 0 for all while the models have too little data.
  Result<std::vector<double>> score(const std::vector<Point>& candidates,
                                    const std::vector<Point>& pending = {},
                                    ScoreReference reference = ScoreReference::kSuggestion) const;

  // Computes now the hyper-parameter fits that suggest() and score() will
  // need (the one in use, and the one that becomes due with the data of now,
  // BoOptions::refit_lag) and keeps them in the cache it shares with its
  // copies. Changes no result: suggest() computes a missing fit itself, to
  // the same values. Meant to run on a copy off the caller's critical path
  // (e.g. a background thread after each suggestion), so that suggest()
  // rarely pays for a fit. Thread-safe like suggest(); a no-op unless the
  // algorithm is "bo".
  void prefit() const;

  // Indices into points() of the complete points that satisfy every
  // constraint (measured values) and that no other such point dominates.
  std::vector<size_t> pareto_indices() const;
  // Distinct points in order of their first observation.
  std::vector<PointRecord> points() const;
  // Value of an analytic metric ("params", "flops") at a valid point.
  std::optional<double> analytic_metric(const std::string& name, const Point& point) const;
  // Number of observe/observe_failure calls that were recorded.
  size_t num_events() const;
  const EngineConfig& config() const;

  class Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::bo
