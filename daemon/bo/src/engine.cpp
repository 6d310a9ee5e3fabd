#include <algorithm>
#include <bit>
#include <cmath>
#include <set>

#include "autodistill/bo/pareto.hpp"
#include "autodistill/student_arch.hpp"
#include "engine_impl.hpp"

namespace autodistill::bo {
namespace {

const char* const kAnalyticNames[] = {"params", "flops"};
constexpr int kFeasibilitySamples = 10000;

Status invalid(std::string message, std::string field) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}

std::string at(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

int analytic_index(const std::string& name) {
  for (int i = 0; i < 2; ++i) {
    if (name == kAnalyticNames[i]) return i;
  }
  return -1;
}

uint64_t hash_points(const std::vector<Point>& points) {
  uint64_t h = 0x51ed27f3a1b2c3d4ULL;
  for (const auto& p : points) {
    for (double v : p) h = hash_combine(h, std::bit_cast<uint64_t>(v));
    h = hash_combine(h, 0xabcdefULL);
  }
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------
// Validation and construction

Result<std::unique_ptr<Engine::Impl>> Engine::Impl::build(EngineConfig config) {
  auto space = Space::build(config.space);
  if (!space) return space.status();
  auto impl = std::make_unique<Impl>();
  impl->space = std::move(space.value());

  // Objectives and measured metrics: named, uniquely, and not an analytic metric.
  if (config.objectives.empty()) return invalid("at least one objective is required", "objectives");
  std::set<std::string> names;
  auto check_name = [&](const std::string& name, const std::string& what,
                        const std::string& field) -> Status {
    if (name.empty()) return invalid(what + " name is empty", field);
    if (!names.insert(name).second) return invalid("duplicate " + what + " '" + name + "'", field);
    if (config.student && analytic_index(name) >= 0) {
      return invalid("'" + name + "' is an analytic metric" +
                         (what == "metric" ? std::string() : ", not an " + what),
                     field);
    }
    return Status::ok();
  };
  for (size_t i = 0; i < config.objectives.size(); ++i) {
    const ObjectiveSpec& o = config.objectives[i];
    const std::string base = at("objectives", i);
    if (Status s = check_name(o.name, "objective", base + ".name"); !s) return s;
    if (o.reference && !std::isfinite(*o.reference))
      return invalid("reference must be finite", base + ".reference");
    if (o.reference && o.log_transform && *o.reference <= 0) {
      return invalid("'" + o.name + "' is log-transformed: its reference must be > 0",
                     base + ".reference");
    }
    if (o.reference_at_baseline && o.reference) {
      return invalid("a reference value and the baseline's are exclusive",
                     base + ".reference_baseline");
    }
    if (o.reference_at_baseline && !config.baseline) {
      return invalid("a reference at the baseline needs a baseline point",
                     base + ".reference_baseline");
    }
    impl->metrics.push_back({o.name, o.log_transform, o.maximize ? 1.0 : -1.0});
  }
  impl->num_objectives = impl->metrics.size();
  for (size_t i = 0; i < config.metrics.size(); ++i) {
    const MetricSpec& m = config.metrics[i];
    if (Status s = check_name(m.name, "metric", at("metrics", i) + ".name"); !s) return s;
    impl->metrics.push_back({m.name, m.log_transform, 1.0});
  }

  // Student settings (analytic metrics).
  if (config.student) {
    if (config.student->vocab_size <= 0)
      return invalid("vocab_size must be positive", "student.vocab_size");
    if (config.student->max_seq_length <= 0)
      return invalid("max_seq_length must be positive", "student.max_seq_length");
    for (const char* name : kStudentFactorNames) {
      const int f = impl->space.find(name);
      if (f < 0)
        return invalid(std::string("the student metrics need a factor '") + name + "'", "factors");
      const FactorKind kind = impl->space.factor(static_cast<size_t>(f)).kind;
      if (kind != FactorKind::kOrdinal && kind != FactorKind::kInteger) {
        return invalid(std::string("'") + name + "' must be an ordinal or integer factor",
                       at("factors", static_cast<size_t>(f)) + ".kind");
      }
      impl->student_factors.push_back(f);
    }
  }

  // Constraints.
  for (size_t i = 0; i < config.constraints.size(); ++i) {
    const ConstraintSpec& c = config.constraints[i];
    const std::string base = at("constraints", i);
    ResolvedConstraint r;
    r.comparison = c.comparison;
    r.bound = c.bound;
    if (!std::isfinite(c.bound)) return invalid("bound must be finite", base + ".bound");
    const int a = config.student ? analytic_index(c.metric) : -1;
    if (a >= 0) {
      r.analytic = true;
      r.metric = static_cast<size_t>(a);
    } else {
      auto it = std::find_if(impl->metrics.begin(), impl->metrics.end(),
                             [&](const MetricInfo& m) { return m.name == c.metric; });
      if (it == impl->metrics.end()) {
        return invalid(
            "unknown metric '" + c.metric + "': not an objective, a metric or an analytic metric",
            base + ".metric");
      }
      r.metric = static_cast<size_t>(it - impl->metrics.begin());
      if (it->log_transform && c.comparison == Comparison::kLessEqual && c.bound <= 0) {
        return invalid("'" + c.metric + "' is positive: a bound <= 0 excludes everything",
                       base + ".bound");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      const ResolvedConstraint& o = impl->constraints[j];
      if (o.analytic != r.analytic || o.metric != r.metric || o.comparison == r.comparison)
        continue;
      const double upper = r.comparison == Comparison::kLessEqual ? r.bound : o.bound;
      const double lower = r.comparison == Comparison::kLessEqual ? o.bound : r.bound;
      if (lower > upper)
        return invalid("contradicts " + at("constraints", j) + " on '" + c.metric + "'",
                       base + ".bound");
    }
    impl->constraints.push_back(r);
  }

  // Algorithm and options.
  static const std::set<std::string> kAlgorithms = {"bo", "random", "firefly", "nsga2"};
  if (kAlgorithms.count(config.algorithm) == 0) {
    return invalid("unknown algorithm '" + config.algorithm + "' (bo, random, firefly, nsga2)",
                   "algorithm");
  }
  if (config.initial_points < -1) return invalid("initial_points must be >= -1", "initial_points");
  if (config.population < 2) return invalid("population must be >= 2", "population");
  const BoOptions& bo = config.bo;
  if (bo.exhaustive_limit < 1) return invalid("must be >= 1", "bo.exhaustive_limit");
  if (bo.gp_random_starts < 0) return invalid("must be >= 0", "bo.gp_random_starts");
  if (bo.gp_max_iterations < 1) return invalid("must be >= 1", "bo.gp_max_iterations");
  if (!(bo.refit_growth > 1.0)) return invalid("must be > 1", "bo.refit_growth");
  if (bo.max_fit_points < 2) return invalid("must be >= 2", "bo.max_fit_points");
  if (!(bo.refit_lag >= 0.0 && bo.refit_lag < 1.0))
    return invalid("must be in [0, 1)", "bo.refit_lag");
  if (bo.evolution_population < 2) return invalid("must be >= 2", "bo.evolution_population");
  if (bo.evolution_generations < 1) return invalid("must be >= 1", "bo.evolution_generations");
  if (bo.search_model_points < 2) return invalid("must be >= 2", "bo.search_model_points");
  if (bo.scalarization_weights < 1) return invalid("must be >= 1", "bo.scalarization_weights");
  if (bo.scalarization_samples < 1) return invalid("must be >= 1", "bo.scalarization_samples");

  if (config.baseline) {
    Status s = impl->space.check(*config.baseline, "baseline");
    if (!s) return s;
    config.baseline = impl->space.canonical(*config.baseline);
  }

  // Warm start.
  for (size_t i = 0; i < config.warm_start.size(); ++i) {
    const Observation& o = config.warm_start[i];
    const std::string base = at("warm_start", i);
    Status s = impl->space.check(o.point, base + ".point");
    if (!s) return s;
    for (const auto& [name, v] : o.values) {
      auto it = std::find_if(impl->metrics.begin(), impl->metrics.end(),
                             [&key = name](const MetricInfo& m) { return m.name == key; });
      if (it == impl->metrics.end()) continue;
      if (!std::isfinite(v) || (it->log_transform && v <= 0)) {
        return invalid("value must be finite (and > 0 when log-transformed)",
                       base + ".values." + name);
      }
    }
  }

  impl->config = std::move(config);
  const EngineConfig& cfg = impl->config;
  int varying = 0;  // factors with more than one value
  for (const Factor& f : cfg.space.factors) {
    varying += f.kind != FactorKind::kOrdinal || f.values.size() > 1 ? 1 : 0;
  }
  impl->varying_factors = static_cast<size_t>(varying);
  impl->initial_points = cfg.initial_points >= 0  ? cfg.initial_points
                         : cfg.warm_start.empty() ? 2 * varying + 1
                                                  : 1;

  // Feasibility: enumerate small discrete spaces, sample the others.
  size_t valid = 0;
  const auto grid = impl->space.grid_size();
  if (impl->space.discrete() && grid && *grid <= cfg.bo.max_enumeration &&
      *grid * impl->space.dims() <= cfg.bo.max_enumeration_values) {
    impl->enumerated = true;
    impl->space.for_each([&](const Point& p) {
      ++valid;
      if (impl->hard_feasible(p)) impl->feasible.push_back(p);
      return true;
    });
  } else {
    Rng rng(hash_combine(cfg.seed, 0xfea51b1eULL));
    bool any = false;
    for (int t = 0; t < kFeasibilitySamples && !any; ++t) {
      Point p = impl->space.sample(rng);
      if (!impl->space.satisfies_rules(p)) continue;
      ++valid;
      any = impl->hard_feasible(p);
    }
    if (valid > 0 && !any) {
      return invalid("no point satisfying the hard constraints was found in " +
                         std::to_string(kFeasibilitySamples) + " samples",
                     "constraints");
    }
  }
  if (valid == 0)
    return invalid("no point of the design space satisfies the divisibility rules", "divisibility");
  if (impl->enumerated && impl->feasible.empty()) {
    return invalid("no point of the design space satisfies the hard constraints", "constraints");
  }

  impl->rows.resize(impl->metrics.size());
  return impl;
}

Status validate(const EngineConfig& config) {
  return Engine::Impl::build(config).status();
}

// ---------------------------------------------------------------------------
// Impl helpers

std::optional<double> Engine::Impl::analytic(size_t which, const Point& p) const {
  if (!config.student || student_factors.size() != 6) return std::nullopt;
  auto v = [&](size_t k) {
    return static_cast<int64_t>(std::llround(p[static_cast<size_t>(student_factors[k])]));
  };
  StudentArch arch = config.student->options;
  arch.num_blocks = v(0);
  arch.hidden_size = v(1);
  arch.bottleneck_size = v(2);
  arch.num_heads = v(3);
  arch.intermediate_size = v(4);
  arch.num_stacked_ffn = v(5);
  arch.vocab_size = config.student->vocab_size;
  arch.max_positions = config.student->max_seq_length;
  arch.type_vocab_size = config.student->type_vocab_size;
  return which == 0 ? static_cast<double>(parameter_count(arch))
                    : forward_flops(arch, config.student->max_seq_length);
}

bool Engine::Impl::hard_feasible(const Point& p) const {
  for (const auto& c : constraints) {
    if (!c.analytic) continue;
    const auto v = analytic(c.metric, p);
    if (v && !c.satisfied(*v)) return false;
  }
  return true;
}

size_t Engine::Impl::point_state(const Point& canonical) {
  auto [it, inserted] = index.emplace(canonical, points.size());
  if (inserted) {
    PointState state;
    state.point = canonical;
    state.unit = space.encode(state.point);
    state.values.resize(metrics.size());
    points.push_back(std::move(state));
  }
  return it->second;
}

bool Engine::Impl::complete(const PointState& s) const {
  for (size_t m = 0; m < num_objectives; ++m) {
    if (s.values[m].empty()) return false;
  }
  return true;
}

double Engine::Impl::transform(size_t metric, double raw) const {
  return metrics[metric].log_transform ? std::log(raw) : raw;
}

std::optional<double> Engine::Impl::observed(size_t point, size_t metric) const {
  const auto& v = points[point].values[metric];
  if (v.empty()) return std::nullopt;
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

std::vector<char> Engine::Impl::categorical_mask() const {
  std::vector<char> mask(space.dims());
  for (size_t i = 0; i < space.dims(); ++i) mask[i] = space.categorical(i) ? 1 : 0;
  return mask;
}

size_t Engine::Impl::refit_point(size_t count) const {
  const size_t dense = std::max<size_t>(2, config.bo.refit_every_until);
  if (count <= dense) return count;
  size_t s = dense;
  for (;;) {
    const auto next = std::max(
        s + 1, static_cast<size_t>(std::ceil(static_cast<double>(s) * config.bo.refit_growth)));
    if (next > count) return s;
    s = next;
  }
}

size_t Engine::Impl::hypers_point(size_t count) const {
  const size_t dense = std::max<size_t>(2, config.bo.refit_every_until);
  if (count <= dense) return refit_point(count);
  const auto lag = static_cast<size_t>(config.bo.refit_lag * static_cast<double>(count));
  return refit_point(std::max(dense, count - std::min(lag, count)));
}

Result<Point> Engine::Impl::canonical(const Point& p, const std::string& field) const {
  Status s = space.check(p, field);
  if (!s) return s;
  return space.canonical(p);
}

// ---------------------------------------------------------------------------
// CandidateSource

CandidateSource::CandidateSource(const Engine::Impl& impl, std::set<Point> excluded,
                                 const std::atomic<bool>* cancel)
    : impl_(impl), excluded_(std::move(excluded)), cancel_(cancel) {
  if (impl.enumerated) {
    // Both sorted by Point's operator<: one merge pass instead of a tree
    // lookup per feasible point (98,304 lookups per suggestion on a large space).
    available_.reserve(impl.feasible.size());
    auto ex = excluded_.begin();
    for (size_t i = 0; i < impl.feasible.size(); ++i) {
      const Point& p = impl.feasible[i];
      while (ex != excluded_.end() && *ex < p) ++ex;
      if (ex != excluded_.end() && *ex == p) continue;
      available_.push_back(static_cast<uint32_t>(i));
    }
  }
}

std::vector<Point> CandidateSource::available_points() const {
  std::vector<Point> out;
  out.reserve(available_.size());
  for (uint32_t i : available_) out.push_back(impl_.feasible[i]);
  return out;
}

bool CandidateSource::is_available(const Point& p) const {
  if (excluded_.count(p) > 0) return false;
  if (impl_.enumerated) return std::binary_search(impl_.feasible.begin(), impl_.feasible.end(), p);
  return impl_.space.satisfies_rules(p) && impl_.hard_feasible(p);
}

void CandidateSource::exclude(const Point& p) {
  excluded_.insert(p);
  if (!impl_.enumerated) return;
  const auto& feasible = impl_.feasible;
  auto f = std::lower_bound(feasible.begin(), feasible.end(), p);
  if (f == feasible.end() || *f != p) return;
  const auto index = static_cast<uint32_t>(f - feasible.begin());
  auto it = std::lower_bound(available_.begin(), available_.end(), index);
  if (it != available_.end() && *it == index) available_.erase(it);
}

std::optional<Point> CandidateSource::random(Rng& rng) const {
  if (impl_.enumerated) {
    if (available_.empty()) return std::nullopt;
    return impl_.feasible[available_[rng.below(available_.size())]];
  }
  for (int t = 0; t < kFeasibilitySamples; ++t) {
    Point p = impl_.space.sample(rng);
    if (is_available(p)) return p;
  }
  return std::nullopt;
}

std::optional<Point> CandidateSource::nearest(const std::vector<double>& u, Rng& rng) const {
  const Space& space = impl_.space;
  auto distance = [&](const std::vector<double>& a, const std::vector<double>& b) {
    double d = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
      const double t = space.categorical(i) ? (a[i] == b[i] ? 0.0 : 1.0) : a[i] - b[i];
      d += t * t;
    }
    return d;
  };
  std::vector<double> target = u;
  for (double& x : target) x = std::clamp(x, 0.0, 1.0);
  if (impl_.enumerated) {
    // Categorical coordinates compare for equality: snap them to a category.
    const std::vector<double> snapped = space.encode(space.decode(target));
    for (size_t i = 0; i < target.size(); ++i) {
      if (space.categorical(i)) target[i] = snapped[i];
    }
    const Point* best = nullptr;
    double best_d = 0.0;
    std::vector<double> e(space.dims());
    for (uint32_t i : available_) {
      const Point& p = impl_.feasible[i];
      space.encode(p, e.data());
      const double d = distance(e, target);
      if (best == nullptr || d < best_d) {
        best = &p;
        best_d = d;
      }
    }
    if (best == nullptr) return std::nullopt;
    return *best;
  }
  Point p = space.decode(target);
  if (is_available(p)) return p;
  for (int t = 1; t <= 200; ++t) {
    std::vector<double> v = target;
    const double sd = 0.02 * std::sqrt(static_cast<double>(t));
    for (double& x : v) x = std::clamp(x + sd * rng.normal(), 0.0, 1.0);
    p = space.decode(v);
    if (is_available(p)) return p;
  }
  return random(rng);
}

// ---------------------------------------------------------------------------
// Suggestion dispatch

Result<std::vector<Point>> Engine::Impl::suggest(size_t n, const std::vector<Point>& pending_in,
                                                 const std::atomic<bool>* cancel) const {
  std::vector<Point> pending;
  for (size_t i = 0; i < pending_in.size(); ++i) {
    auto p = canonical(pending_in[i], at("pending", i));
    if (!p) return p.status();
    pending.push_back(std::move(p.value()));
  }
  std::sort(pending.begin(), pending.end());  // the result does not depend on their order
  std::set<Point> excluded(pending.begin(), pending.end());
  size_t started = points.size();
  for (const auto& p : pending) {
    if (index.count(p) == 0) ++started;
  }
  // The baseline is evaluated besides the initial design, not instead of its
  // first point.
  if (config.baseline && started > 0 &&
      (index.count(*config.baseline) > 0 ||
       std::binary_search(pending.begin(), pending.end(), *config.baseline))) {
    --started;
  }
  for (const auto& s : points) {
    if (s.failed || complete(s)) excluded.insert(s.point);
  }
  CandidateSource source(*this, std::move(excluded), cancel);
  Rng rng(hash_combine(hash_combine(config.seed, events), hash_combine(n, hash_points(pending))));

  std::vector<Point> out;
  auto take = [&](std::optional<Point> p) {
    if (!p) return false;
    source.exclude(*p);
    out.push_back(std::move(*p));
    return true;
  };

  const std::string& algorithm = config.algorithm;
  if (algorithm == "bo") {
    // Initial design: element j of the design for the j-th started point.
    const size_t want = static_cast<size_t>(std::max(initial_points, 0));
    if (started < want) {
      const auto design = latin_hypercube_design(space, want, config.seed);
      for (size_t j = started; j < want && out.size() < n; ++j) {
        if (!take(source.nearest(space.encode(design[j]), rng))) break;
      }
    }
    if (out.size() < n) {
      std::vector<Point> all_pending = pending;
      all_pending.insert(all_pending.end(), out.begin(), out.end());
      for (auto& p : suggest_bo(*this, n - out.size(), all_pending, source, rng))
        out.push_back(std::move(p));
    }
  } else {
    const size_t population = static_cast<size_t>(config.population);
    for (size_t b = 0; b < n && !source.cancelled(); ++b) {
      std::optional<Point> p;
      const size_t step = started + b;
      if (algorithm == "firefly" && step >= population) p = firefly_step(*this, step, source, rng);
      if (algorithm == "nsga2" && step >= population) p = nsga2_child(*this, source, rng);
      if (!p) p = source.random(rng);
      if (!take(std::move(p))) break;
    }
  }
  if (source.cancelled()) return Status(Code::kCancelled, "suggestion cancelled");
  return out;
}

Result<std::vector<double>> Engine::Impl::score(const std::vector<Point>& candidates_in,
                                                const std::vector<Point>& pending_in,
                                                Engine::ScoreReference reference) const {
  std::vector<Point> candidates, pending;
  for (size_t i = 0; i < candidates_in.size(); ++i) {
    auto p = canonical(candidates_in[i], at("candidates", i));
    if (!p) return p.status();
    candidates.push_back(std::move(p.value()));
  }
  for (size_t i = 0; i < pending_in.size(); ++i) {
    auto p = canonical(pending_in[i], at("pending", i));
    if (!p) return p.status();
    pending.push_back(std::move(p.value()));
  }
  std::sort(pending.begin(), pending.end());
  return score_bo(*this, candidates, pending, hash_combine(config.seed, events),
                  reference == Engine::ScoreReference::kWidest);
}

// ---------------------------------------------------------------------------
// Engine

Result<Engine> Engine::create(EngineConfig config) {
  auto impl = Impl::build(std::move(config));
  if (!impl) return impl.status();
  return Engine(std::move(impl.value()));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::Engine(const Engine& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
Engine& Engine::operator=(const Engine& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

Result<std::vector<Point>> Engine::suggest(size_t n, const std::vector<Point>& pending,
                                           const std::atomic<bool>* cancel) const {
  return impl_->suggest(n, pending, cancel);
}

Result<std::vector<double>> Engine::score(const std::vector<Point>& candidates,
                                          const std::vector<Point>& pending,
                                          ScoreReference reference) const {
  return impl_->score(candidates, pending, reference);
}

void Engine::prefit() const {
  if (impl_->config.algorithm == "bo") prefit_bo(*impl_);
}

Status Engine::observe(const Point& point_in, const std::map<std::string, double>& values) {
  Impl& s = *impl_;
  auto point = s.canonical(point_in, "point");
  if (!point) return point.status();
  std::vector<std::pair<size_t, double>> accepted;
  for (const auto& [name, v] : values) {
    auto it = std::find_if(s.metrics.begin(), s.metrics.end(),
                           [&key = name](const MetricInfo& m) { return m.name == key; });
    if (it == s.metrics.end()) continue;
    if (!std::isfinite(v))
      return invalid("value of '" + name + "' is not finite", "values." + name);
    if (it->log_transform && v <= 0) {
      return invalid("'" + name + "' is log-transformed and needs a positive value",
                     "values." + name);
    }
    accepted.emplace_back(static_cast<size_t>(it - s.metrics.begin()), v);
  }
  const size_t index = s.point_state(point.value());
  for (const auto& [m, v] : accepted) {
    s.points[index].values[m].push_back(v);
    s.rows[m].push_back({index, v});
  }
  ++s.events;
  return Status::ok();
}

Status Engine::observe_failure(const Point& point_in) {
  Impl& s = *impl_;
  auto point = s.canonical(point_in, "point");
  if (!point) return point.status();
  s.points[s.point_state(point.value())].failed = true;
  ++s.events;
  return Status::ok();
}

std::vector<size_t> Engine::pareto_indices() const {
  const Impl& s = *impl_;
  std::vector<size_t> ids;
  std::vector<Objectives> ys;
  for (size_t i = 0; i < s.points.size(); ++i) {
    if (!s.complete(s.points[i]) || !s.hard_feasible(s.points[i].point)) continue;
    bool feasible = true;
    for (const auto& c : s.constraints) {
      if (c.analytic) continue;
      const auto v = s.observed(i, c.metric);
      feasible = feasible && v && c.satisfied(*v);
    }
    if (!feasible) continue;
    Objectives y(s.num_objectives);
    for (size_t m = 0; m < s.num_objectives; ++m) y[m] = s.metrics[m].sign * *s.observed(i, m);
    ids.push_back(i);
    ys.push_back(std::move(y));
  }
  std::vector<size_t> out;
  for (size_t k : pareto_front(ys)) out.push_back(ids[k]);
  return out;
}

std::vector<PointRecord> Engine::points() const {
  const Impl& s = *impl_;
  std::vector<PointRecord> out;
  for (size_t i = 0; i < s.points.size(); ++i) {
    PointRecord r;
    r.point = s.points[i].point;
    r.failed = s.points[i].failed;
    r.complete = s.complete(s.points[i]);
    for (size_t m = 0; m < s.metrics.size(); ++m) {
      if (auto v = s.observed(i, m)) r.values[s.metrics[m].name] = *v;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<double> Engine::analytic_metric(const std::string& name, const Point& point) const {
  const int a = analytic_index(name);
  if (a < 0 || !impl_->space.check(point, "point")) return std::nullopt;
  return impl_->analytic(static_cast<size_t>(a), impl_->space.canonical(point));
}

size_t Engine::num_events() const {
  return impl_->events;
}
const EngineConfig& Engine::config() const {
  return impl_->config;
}

}  // namespace autodistill::bo
