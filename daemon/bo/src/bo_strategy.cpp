// The "bo" strategy: per-metric GP models, the believed Pareto front, the
// acquisition (EHVI x probability of feasibility) over a candidate set with
// kriging-believer fantasies, and the evolutionary candidate search used when
// the space is too large to score every point.

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "autodistill/bo/candidate_posterior.hpp"
#include "autodistill/bo/ehvi.hpp"
#include "autodistill/bo/pareto.hpp"
#include "engine_impl.hpp"
#include "model_cache.hpp"

namespace autodistill::bo {
namespace {

// Two measured values closer than this (in a metric's standardized units)
// are a tie.
constexpr double kTieTolerance = 1e-9;

double norm_cdf(double z) {
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

Eigen::MatrixXd encode_all(const Space& space, const std::vector<Point>& points) {
  Eigen::MatrixXd U(static_cast<Eigen::Index>(space.dims()),
                    static_cast<Eigen::Index>(points.size()));
  for (size_t i = 0; i < points.size(); ++i)
    space.encode(points[i], U.col(static_cast<Eigen::Index>(i)).data());
  return U;
}

// One metric's model for one call: a GP on the residual w(g) - prior(x),
// where g is the (log-)transformed value, w the output warp (output_warp.hpp;
// the identity for a metric with a warm start) and prior the warm-start GP's
// mean (0 without a warm start). z = (w(g) - a) / s is the metric's common
// scale: the GP's and the acquisition's, so hypervolume is measured on the
// warped scale, where outliers are compressed (docs/bo.md).
struct MetricModel {
  bool ready = false;
  Gp gp;
  const Gp* prior = nullptr;
  OutputWarp warp;
  double a = 0.0;
  double s = 1.0;

  Eigen::VectorXd prior_g(const Eigen::MatrixXd& U) const {
    if (prior == nullptr) return Eigen::VectorXd::Zero(U.cols());
    Eigen::VectorXd m;
    prior->predict(U, &m, nullptr);
    return (m.array() * prior->y_std() + prior->y_mean()).matrix();
  }
  // Posterior mean in z units at U.
  Eigen::VectorXd mean_z(const Eigen::MatrixXd& U) const {
    Eigen::VectorXd m;
    gp.predict(U, &m, nullptr);
    return ((prior_g(U).array() + gp.y_mean() + gp.y_std() * m.array() - a) / s).matrix();
  }
  double z(double g) const { return (warp(g) - a) / s; }
};

std::vector<std::optional<Gp>> fit_priors(const Engine::Impl& impl) {
  std::vector<std::optional<Gp>> prior(impl.metrics.size());
  const auto mask = impl.categorical_mask();
  for (size_t m = 0; m < impl.metrics.size(); ++m) {
    std::vector<std::vector<double>> units;
    std::vector<double> g;
    for (const auto& o : impl.config.warm_start) {
      auto it = o.values.find(impl.metrics[m].name);
      if (it == o.values.end()) continue;
      units.push_back(impl.space.encode(impl.space.canonical(o.point)));
      g.push_back(impl.transform(m, it->second));
    }
    if (g.size() < 2) continue;
    Eigen::MatrixXd X(static_cast<Eigen::Index>(impl.space.dims()),
                      static_cast<Eigen::Index>(g.size()));
    for (size_t i = 0; i < units.size(); ++i) {
      X.col(static_cast<Eigen::Index>(i)) =
          Eigen::Map<const Eigen::VectorXd>(units[i].data(), X.rows());
    }
    GpFitOptions options;
    options.random_starts = impl.config.bo.gp_random_starts;
    options.max_iterations = impl.config.bo.gp_max_iterations;
    options.seed = hash_combine(impl.config.seed, hash_combine(0x9e1057aULL, m));
    prior[m] =
        Gp::fit(std::move(X),
                Eigen::Map<const Eigen::VectorXd>(g.data(), static_cast<Eigen::Index>(g.size())),
                mask, options);
  }
  return prior;
}

// Identifies the first `count` rows of a metric (points and values).
uint64_t fingerprint(const Engine::Impl& impl, size_t m, size_t count) {
  uint64_t h = hash_combine(m, count);
  for (size_t i = 0; i < count; ++i) {
    const auto& row = impl.rows[m][i];
    for (double v : impl.points[row.point].point) h = hash_combine(h, std::bit_cast<uint64_t>(v));
    h = hash_combine(h, std::bit_cast<uint64_t>(row.value));
  }
  return h;
}

// The GP data of a metric from its first `count` measurements: one column
// per distinct point (first-seen order), the mean residual and the number of
// measurements behind it.
struct Aggregated {
  Eigen::MatrixXd X;
  Eigen::VectorXd r;
  Eigen::VectorXd replicates;
};

Aggregated aggregate(const Engine::Impl& impl, size_t m, size_t count,
                     const Eigen::VectorXd& residual) {
  const auto& rows = impl.rows[m];
  std::map<size_t, size_t> slot;  // point -> column
  std::vector<size_t> order;
  std::vector<double> sum, n;
  for (size_t i = 0; i < count; ++i) {
    auto [it, inserted] = slot.emplace(rows[i].point, order.size());
    if (inserted) {
      order.push_back(rows[i].point);
      sum.push_back(0.0);
      n.push_back(0.0);
    }
    sum[it->second] += residual[static_cast<Eigen::Index>(i)];
    n[it->second] += 1.0;
  }
  const auto d = static_cast<Eigen::Index>(impl.space.dims());
  Aggregated a{Eigen::MatrixXd(d, static_cast<Eigen::Index>(order.size())),
               Eigen::VectorXd(static_cast<Eigen::Index>(order.size())),
               Eigen::VectorXd(static_cast<Eigen::Index>(order.size()))};
  for (size_t k = 0; k < order.size(); ++k) {
    const auto col = static_cast<Eigen::Index>(k);
    a.X.col(col) = Eigen::Map<const Eigen::VectorXd>(impl.points[order[k]].unit.data(), d);
    a.r[col] = sum[k] / n[k];
    a.replicates[col] = n[k];
  }
  return a;
}

// Every `stride`-th column so that at most `limit` remain (deterministic).
Aggregated thin(Aggregated a, size_t limit) {
  const auto total = static_cast<size_t>(a.r.size());
  if (total <= limit) return a;
  Aggregated t{Eigen::MatrixXd(a.X.rows(), static_cast<Eigen::Index>(limit)),
               Eigen::VectorXd(static_cast<Eigen::Index>(limit)),
               Eigen::VectorXd(static_cast<Eigen::Index>(limit))};
  for (size_t k = 0; k < limit; ++k) {
    const auto src = static_cast<Eigen::Index>(k * total / limit);
    const auto dst = static_cast<Eigen::Index>(k);
    t.X.col(dst) = a.X.col(src);
    t.r[dst] = a.r[src];
    t.replicates[dst] = a.replicates[src];
  }
  return t;
}

// The units and (log-)transformed values of a metric's first `count` rows.
void metric_data(const Engine::Impl& impl, size_t m, size_t count, Eigen::MatrixXd* X,
                 Eigen::VectorXd* g) {
  const auto& rows = impl.rows[m];
  const auto d = static_cast<Eigen::Index>(impl.space.dims());
  X->resize(d, static_cast<Eigen::Index>(count));
  g->resize(static_cast<Eigen::Index>(count));
  for (size_t i = 0; i < count; ++i) {
    const auto& unit = impl.points[rows[i].point].unit;
    X->col(static_cast<Eigen::Index>(i)) = Eigen::Map<const Eigen::VectorXd>(unit.data(), d);
    (*g)[static_cast<Eigen::Index>(i)] = impl.transform(m, rows[i].value);
  }
}

// The output warp and hyper-parameters of metric m fitted on its first `s`
// rows, from the shared cache or fitted now and cached. A pure function of
// those rows and the config.
MetricFit fitted(const Engine::Impl& impl, size_t m, size_t s, const Gp* prior) {
  const uint64_t key = fingerprint(impl, m, s);
  if (std::optional<MetricFit> cached = impl.cache->find(m, s, key)) return *cached;
  Eigen::MatrixXd X;
  Eigen::VectorXd g;
  metric_data(impl, m, s, &X, &g);
  MetricFit fit;
  // Warped: every metric without a warm start and without a measured
  // constraint. On a constrained metric the warp re-scales the region around
  // the bound (the hypervolume there) and steered the search out of it (the
  // table 1 latency-constraint test: 94 % -> 77 % feasible suggestions).
  const bool constrained =
      std::any_of(impl.constraints.begin(), impl.constraints.end(),
                  [&](const ResolvedConstraint& c) { return !c.analytic && c.metric == m; });
  if (impl.config.bo.warp_outputs && prior == nullptr && !constrained)
    fit.warp = OutputWarp::fit(std::vector<double>(g.begin(), g.end()));
  MetricModel residual;
  residual.prior = prior;
  Eigen::VectorXd r = g.unaryExpr([&](double v) { return fit.warp(v); }) - residual.prior_g(X);
  GpFitOptions options;
  options.random_starts = impl.config.bo.gp_random_starts;
  options.max_iterations = impl.config.bo.gp_max_iterations;
  options.seed = hash_combine(impl.config.seed, hash_combine(m, s));
  Aggregated data = thin(aggregate(impl, m, s, r), impl.config.bo.max_fit_points);
  fit.hypers = Gp::fit(std::move(data.X), data.r, impl.categorical_mask(), options,
                       std::move(data.replicates))
                   .hypers();
  impl.cache->insert(m, s, key, fit);
  return fit;
}

// The metric's model on all its data. With `search`, also the same model
// (same hyper-parameters, prior and scale) conditioned on an even subset of
// at most BoOptions::search_model_points distinct points, left not ready
// when the data are no larger than that.
MetricModel build_model(const Engine::Impl& impl, size_t m,
                        const std::vector<std::optional<Gp>>& priors, MetricModel* search) {
  MetricModel model;
  const size_t n = impl.rows[m].size();
  if (n < 2) return model;
  Eigen::MatrixXd X;
  Eigen::VectorXd g;
  metric_data(impl, m, n, &X, &g);
  if (priors[m]) model.prior = &*priors[m];
  const MetricFit fit = fitted(impl, m, impl.hypers_point(n), model.prior);
  const GpHypers& hypers = fit.hypers;
  model.warp = fit.warp;
  const Eigen::VectorXd w = g.unaryExpr([&](double v) { return fit.warp(v); });
  const Eigen::VectorXd r = w - model.prior_g(X);
  const auto mask = impl.categorical_mask();
  Aggregated all = aggregate(impl, m, n, r);
  const size_t limit = impl.config.bo.search_model_points;
  if (search != nullptr && static_cast<size_t>(all.r.size()) > limit) {
    Aggregated subset = thin(all, limit);
    search->gp =
        Gp::with_hypers(std::move(subset.X), subset.r, mask, hypers, std::move(subset.replicates));
    search->ready = true;
  }
  model.gp = Gp::with_hypers(std::move(all.X), all.r, mask, hypers, std::move(all.replicates));
  model.a = w.mean();
  const double sd = std::sqrt((w.array() - model.a).square().mean());
  model.s = sd > 1e-12 * std::max(1.0, std::abs(model.a)) ? sd : 1.0;
  model.ready = true;
  if (search != nullptr) {
    search->prior = model.prior;
    search->warp = model.warp;
    search->a = model.a;
    search->s = model.s;
  }
  return model;
}

// Everything about the current data that one suggest() or score() call needs.
class BoContext {
 public:
  // `search`: also build the evolutionary search's subset models.
  // `widest`: the observed reference rule alone (Engine::ScoreReference).
  BoContext(const Engine::Impl& impl, uint64_t seed, bool search, bool widest = false)
      : impl_(impl),
        priors_(impl.cache->priors([&] { return fit_priors(impl); })),
        widest_(widest) {
    search_models_.resize(impl.metrics.size());
    for (size_t m = 0; m < impl.metrics.size(); ++m) {
      models_.push_back(build_model(impl, m, priors_, search ? &search_models_[m] : nullptr));
    }
    ready_ = std::all_of(models_.begin(), models_.begin() + static_cast<long>(impl.num_objectives),
                         [](const MetricModel& mm) { return mm.ready; });
    for (const auto& c : impl.constraints) has_measured_ = has_measured_ || !c.analytic;
    scalarization_.weights = impl.config.bo.scalarization_weights;
    scalarization_.samples = impl.config.bo.scalarization_samples;
    scalarization_.seed = seed;
    if (ready_) build_incumbent();
  }

  bool ready() const { return ready_; }
  const Engine::Impl& impl() const { return impl_; }
  const MetricModel& model(size_t m) const { return models_[m]; }
  // The cheaper model that ranks the evolutionary search's intermediate
  // generations: the subset model when the data are large, else model(m).
  const MetricModel& search_model(size_t m) const {
    return search_models_[m].ready ? search_models_[m] : models_[m];
  }
  const std::vector<Objectives>& incumbent() const { return incumbent_; }
  const Objectives& ref() const { return ref_; }
  // The second reference (BoOptions::front_reference_weight), empty when unused.
  const Objectives& front_ref() const { return front_ref_; }
  const Objectives& upper() const { return upper_; }
  bool has_measured_constraints() const { return has_measured_; }
  const ScalarizationOptions& scalarization() const { return scalarization_; }

  // Probability that a metric with posterior N(mean_z, sd_z^2) satisfies a constraint.
  double feasibility(const ResolvedConstraint& c, double mean_z, double sd_z) const {
    const MetricInfo& info = impl_.metrics[c.metric];
    if (info.log_transform && c.bound <= 0) return 1.0;  // ">= non-positive" always holds
    const double zb = models_[c.metric].z(impl_.transform(c.metric, c.bound));
    const double le = sd_z > 0 ? norm_cdf((zb - mean_z) / sd_z) : (mean_z <= zb ? 1.0 : 0.0);
    return c.comparison == Comparison::kLessEqual ? le : 1.0 - le;
  }

 private:
  void build_incumbent() {
    const size_t k = impl_.num_objectives;
    std::vector<Point> complete;
    std::vector<size_t> ids;
    for (size_t i = 0; i < impl_.points.size(); ++i) {
      const PointState& p = impl_.points[i];
      if (impl_.complete(p) && impl_.hard_feasible(p.point)) {
        complete.push_back(p.point);
        ids.push_back(i);
      }
    }
    const Eigen::MatrixXd U = encode_all(impl_.space, complete);
    std::vector<Eigen::VectorXd> means(impl_.metrics.size());
    for (size_t m = 0; m < impl_.metrics.size(); ++m) {
      if (models_[m].ready && !complete.empty()) means[m] = models_[m].mean_z(U);
    }
    for (size_t c = 0; c < complete.size(); ++c) {
      bool feasible = true;
      for (const auto& con : impl_.constraints) {
        if (con.analytic || !models_[con.metric].ready) continue;
        const auto v = impl_.observed(ids[c], con.metric);
        const double believed = means[con.metric][static_cast<Eigen::Index>(c)];
        feasible = feasible && (v ? con.satisfied(*v) : feasibility(con, believed, 0.0) > 0.5);
      }
      if (!feasible) continue;
      Objectives y(k);
      for (size_t j = 0; j < k; ++j)
        y[j] = impl_.metrics[j].sign * means[j][static_cast<Eigen::Index>(c)];
      incumbent_.push_back(std::move(y));
    }
    // Reference point: configured; else the worst observed value minus 10%
    // of the observed range, or with BoOptions::reference_from_front the
    // believed front's nadir minus 10% of its range. Upper corner of the
    // hypervolume box (BoOptions::bound_repeated_best): an objective whose
    // best measured value was measured at as many distinct points as the
    // space has varying factors (at least 2) is bounded at its best observed
    // value (2 and 3 objectives).
    ref_.resize(k);
    upper_.assign(k, std::numeric_limits<double>::infinity());
    const BoOptions& bo = impl_.config.bo;
    // BoOptions::front_reference_every: the front rule on every k-th
    // suggestion (by the number of complete points), the observed rule on
    // the others. BoOptions::front_reference_weight: both; the acquisition
    // adds the front rule's EHVI, weighted, to the observed rule's.
    const bool every_front =
        bo.front_reference_every > 0 && complete.size() % bo.front_reference_every == 0;
    const bool use_front = !widest_ && (bo.reference_from_front || every_front);
    const bool second = !widest_ && bo.front_reference_weight > 0 && !use_front;
    Objectives inferred;
    if (use_front || second) {
      inferred = bo.front_reference_gap
                     ? front_gap_reference(incumbent_)
                     : layered_front_reference(incumbent_, bo.front_reference_layers,
                                               bo.front_reference_margin);
    }
    if (second) front_ref_.resize(k);
    const size_t ties_needed = std::max<size_t>(2, impl_.varying_factors);
    for (size_t j = 0; j < k; ++j) {
      const double sign = impl_.metrics[j].sign;
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      std::vector<double> values;
      for (const auto& row : impl_.rows[j]) {
        const double y = sign * models_[j].z(impl_.transform(j, row.value));
        lo = std::min(lo, y);
        hi = std::max(hi, y);
        values.push_back(y);
      }
      if (bo.observed_reference_quantile > 0 && !values.empty())
        lo = quantile(std::move(values), bo.observed_reference_quantile);
      const double observed_ref = lo - (hi > lo ? 0.1 * (hi - lo) : 0.1);
      const std::optional<double> reference = declared_reference(j);
      const bool has_front = j < inferred.size() && std::isfinite(inferred[j]);
      const double front_ref = has_front ? std::max(inferred[j], observed_ref) : observed_ref;
      if (reference) {
        ref_[j] = sign * models_[j].z(impl_.transform(j, *reference));
      } else {
        ref_[j] = use_front ? front_ref : observed_ref;
      }
      if (second) front_ref_[j] = reference ? ref_[j] : front_ref;
      if (!impl_.config.bo.bound_repeated_best || k < 2 || k > 3) continue;
      std::set<size_t> at_best;  // distinct points
      for (const auto& row : impl_.rows[j]) {
        const double y = sign * models_[j].z(impl_.transform(j, row.value));
        if (y >= hi - kTieTolerance) at_best.insert(row.point);
      }
      if (at_best.size() < ties_needed) continue;
      upper_[j] = hi;  // ExpectedHvi clamps the believed front to it
    }
    // A constraint on an objective bounds the useful region: nothing beyond
    // the bound adds hypervolume.
    for (const auto& c : impl_.constraints) {
      if (c.analytic || c.metric >= k) continue;
      const MetricInfo& info = impl_.metrics[c.metric];
      if (info.log_transform && c.bound <= 0) continue;
      const double y = info.sign * models_[c.metric].z(impl_.transform(c.metric, c.bound));
      const bool bounds_below = (c.comparison == Comparison::kLessEqual) == (info.sign < 0);
      if (bounds_below) ref_[c.metric] = std::max(ref_[c.metric], y);
      if (bounds_below && !front_ref_.empty())
        front_ref_[c.metric] = std::max(front_ref_[c.metric], y);
    }
  }

  // The reference of objective j in raw units: configured, or measured at
  // the baseline point; nullopt when neither.
  std::optional<double> declared_reference(size_t j) const {
    const ObjectiveSpec& spec = impl_.config.objectives[j];
    if (spec.reference) return spec.reference;
    if (!spec.reference_at_baseline) return std::nullopt;
    auto it = impl_.index.find(*impl_.config.baseline);
    if (it == impl_.index.end()) return std::nullopt;
    return impl_.observed(it->second, j);
  }

  const Engine::Impl& impl_;
  const std::vector<std::optional<Gp>>& priors_;
  std::vector<MetricModel> models_;
  std::vector<MetricModel> search_models_;
  bool ready_ = false;
  bool widest_ = false;  // the observed reference rule alone
  bool has_measured_ = false;
  std::vector<Objectives> incumbent_;
  Objectives ref_;
  Objectives front_ref_;
  Objectives upper_;
  ScalarizationOptions scalarization_;
};

// The acquisition over a set of candidates (then the pending points, which
// are fantasized at construction), with kriging-believer updates as batch
// members are chosen.
class Batch {
 public:
  // `search`: use the context's search models (evolutionary search ranking).
  // `cancel`: stop fantasizing the pending points once set (the batch is
  // then unusable, and the caller discards it).
  Batch(const BoContext& ctx, const std::vector<Point>& candidates,
        const std::vector<Point>& pending, bool search = false,
        const std::atomic<bool>* cancel = nullptr)
      : ctx_(ctx), num_candidates_(candidates.size()) {
    const Engine::Impl& impl = ctx.impl();
    std::vector<Point> all = candidates;
    all.insert(all.end(), pending.begin(), pending.end());
    const Eigen::MatrixXd U = encode_all(impl.space, all);
    const size_t nm = impl.metrics.size();
    post_.resize(nm);
    offset_.resize(nm);
    scale_.assign(nm, 0.0);
    known_.assign(nm, std::vector<std::optional<double>>(all.size()));
    for (size_t m = 0; m < nm; ++m) {
      const MetricModel& model = search ? ctx.search_model(m) : ctx.model(m);
      if (!model.ready) continue;
      post_[m] = std::make_unique<CandidatePosterior>(model.gp, U);
      offset_[m] = ((model.prior_g(U).array() + model.gp.y_mean() - model.a) / model.s).matrix();
      scale_[m] = model.gp.y_std() / model.s;
      for (size_t i = 0; i < all.size(); ++i) {
        auto it = impl.index.find(all[i]);
        if (it == impl.index.end()) continue;
        if (auto v = impl.observed(it->second, m)) known_[m][i] = model.z(impl.transform(m, *v));
      }
    }
    ehvi_ =
        std::make_unique<ExpectedHvi>(ctx.incumbent(), ctx.ref(), ctx.scalarization(), ctx.upper());
    if (!ctx.front_ref().empty()) {
      front_ehvi_ = std::make_unique<ExpectedHvi>(ctx.incumbent(), ctx.front_ref(),
                                                  ctx.scalarization(), ctx.upper());
    }
    front_feasible_ = !ctx.incumbent().empty();
    for (size_t p = 0; p < pending.size(); ++p) {
      if (cancel && cancel->load(std::memory_order_relaxed)) return;
      believe(num_candidates_ + p);
    }
  }

  size_t size() const { return num_candidates_; }

  double acquisition(size_t i) const {
    const double pf = feasibility(i);
    if (ctx_.has_measured_constraints() && !front_feasible_) return pf;
    if (pf <= 0.0) return 0.0;
    const size_t k = ctx_.impl().num_objectives;
    Objectives mean(k), sd(k);
    for (size_t j = 0; j < k; ++j) {
      mean[j] = ctx_.impl().metrics[j].sign * mean_z(j, i);
      sd[j] = sd_z(j, i);
    }
    double a = (*ehvi_)(mean.data(), sd.data());
    if (front_ehvi_)
      a += ctx_.impl().config.bo.front_reference_weight * (*front_ehvi_)(mean.data(), sd.data());
    return a * pf;
  }

  // Fallback when every acquisition value is 0: total predictive spread.
  double uncertainty(size_t i) const {
    double s = 0.0;
    for (size_t j = 0; j < ctx_.impl().num_objectives; ++j) s += sd_z(j, i);
    return s * feasibility(i);
  }

  void believe(size_t i) {
    const auto col = static_cast<Eigen::Index>(i);
    bool feasible = true;
    for (const auto& c : ctx_.impl().constraints) {
      if (c.analytic || !post_[c.metric]) continue;
      feasible = feasible && ctx_.feasibility(c, mean_z(c.metric, i), 0.0) > 0.5;
    }
    const size_t k = ctx_.impl().num_objectives;
    Objectives y(k);
    for (size_t j = 0; j < k; ++j) y[j] = ctx_.impl().metrics[j].sign * mean_z(j, i);
    for (size_t m = 0; m < post_.size(); ++m) {
      if (post_[m] && !known_[m][i]) post_[m]->add_fantasy(col);
    }
    if (feasible) {
      ehvi_->add(y);
      if (front_ehvi_) front_ehvi_->add(y);
      front_feasible_ = true;
    }
  }

 private:
  double mean_z(size_t m, size_t i) const {
    if (known_[m][i]) return *known_[m][i];
    const auto col = static_cast<Eigen::Index>(i);
    return offset_[m][col] + scale_[m] * post_[m]->mean()[col];
  }
  double sd_z(size_t m, size_t i) const {
    if (known_[m][i]) return 0.0;
    return scale_[m] * std::sqrt(post_[m]->var()[static_cast<Eigen::Index>(i)]);
  }
  double feasibility(size_t i) const {
    double pf = 1.0;
    for (const auto& c : ctx_.impl().constraints) {
      if (c.analytic || !post_[c.metric]) continue;
      pf *= ctx_.feasibility(c, mean_z(c.metric, i), sd_z(c.metric, i));
    }
    return pf;
  }

  const BoContext& ctx_;
  size_t num_candidates_;
  std::vector<std::unique_ptr<CandidatePosterior>> post_;
  std::vector<Eigen::VectorXd> offset_;
  std::vector<double> scale_;
  std::vector<std::vector<std::optional<double>>> known_;
  std::unique_ptr<ExpectedHvi> ehvi_;
  std::unique_ptr<ExpectedHvi> front_ehvi_;  // BoOptions::front_reference_weight
  bool front_feasible_ = false;
};

// Evolutionary search of the acquisition for spaces too large to score
// exhaustively: random feasible points and mutations of evaluated ones,
// then generations of elitist selection, uniform crossover and Gaussian
// mutation in the unit encoding. The generations are ranked on the search
// models (BoOptions::search_model_points), which makes a generation cost
// O(population * min(n, limit)^2) instead of O(population * n^2); the caller
// scores the returned pool on the full models. Returns the best distinct
// points seen.
std::vector<Point> evolve_pool(const BoContext& ctx, const CandidateSource& source,
                               const std::vector<Point>& pending, size_t batch_size, Rng& rng) {
  const Engine::Impl& impl = ctx.impl();
  const Space& space = impl.space;
  const size_t pop = static_cast<size_t>(impl.config.bo.evolution_population);
  const int generations = impl.config.bo.evolution_generations;
  const size_t d = space.dims();
  std::map<Point, double> seen;
  std::vector<Point> population;
  std::set<Point> in_population;
  auto add = [&](const Point& p) {
    if (seen.count(p) == 0 && source.is_available(p) && in_population.insert(p).second)
      population.push_back(p);
  };
  auto mutate = [&](std::vector<double> u) {
    const double rate = std::max(1.0 / static_cast<double>(d), 0.2);
    for (size_t f = 0; f < d; ++f) {
      if (rng.uniform() >= rate) continue;
      u[f] =
          space.categorical(f) ? rng.uniform() : std::clamp(u[f] + 0.15 * rng.normal(), 0.0, 1.0);
    }
    return space.decode(u);
  };
  for (size_t i = 0; i < impl.points.size() && population.size() < pop / 4; ++i) {
    if (impl.complete(impl.points[i])) add(mutate(impl.points[i].unit));
  }
  for (size_t t = 0; population.size() < pop && t < 4 * pop && !source.cancelled(); ++t) {
    if (auto p = source.random(rng)) add(*p);
  }
  for (int g = 0; g < generations && !population.empty() && !source.cancelled(); ++g) {
    Batch batch(ctx, population, pending, /*search=*/true, source.cancel_flag());
    if (source.cancelled()) break;
    std::vector<std::pair<double, size_t>> ranked;
    for (size_t i = 0; i < population.size(); ++i) {
      const double v = batch.acquisition(i);
      seen[population[i]] = v;
      ranked.emplace_back(-v, i);
    }
    if (g + 1 == generations) break;
    std::sort(ranked.begin(), ranked.end());
    const size_t elites = std::min(ranked.size(), std::max<size_t>(2, pop / 4));
    std::vector<std::vector<double>> parents;
    for (size_t e = 0; e < elites; ++e)
      parents.push_back(space.encode(population[ranked[e].second]));
    population.clear();
    in_population.clear();
    for (size_t t = 0; population.size() < pop && t < 8 * pop && !source.cancelled(); ++t) {
      std::vector<double> u = parents[rng.below(parents.size())];
      if (rng.uniform() < 0.5) {
        const auto& other = parents[rng.below(parents.size())];
        for (size_t f = 0; f < d; ++f) {
          if (rng.uniform() < 0.5) u[f] = other[f];
        }
      }
      add(mutate(std::move(u)));
    }
  }
  std::vector<std::pair<double, Point>> best;
  for (auto& [p, v] : seen) best.emplace_back(-v, p);
  std::stable_sort(best.begin(), best.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // BoOptions::search_pool: only the best few go on to the full models (at
  // least the batch), since scoring them costs O(pool * n^2).
  const size_t keep = impl.config.bo.search_pool > 0
                          ? std::min(pop, std::max(impl.config.bo.search_pool, batch_size))
                          : pop;
  std::vector<Point> pool;
  for (size_t i = 0; i < best.size() && i < keep; ++i) pool.push_back(best[i].second);
  return pool;
}

}  // namespace

std::shared_ptr<ModelCache> make_model_cache() {
  return std::make_shared<ModelCache>();
}

std::vector<Point> suggest_bo(const Engine::Impl& impl, size_t n, const std::vector<Point>& pending,
                              CandidateSource& source, Rng& rng) {
  std::vector<Point> out;
  const bool exhaustive =
      source.enumerated() && source.num_available() <= impl.config.bo.exhaustive_limit;
  if (source.cancelled()) return out;
  BoContext ctx(impl, rng.next(), /*search=*/!exhaustive);
  std::vector<Point> pool;
  if (ctx.ready() && !source.cancelled()) {
    pool = exhaustive ? source.available_points() : evolve_pool(ctx, source, pending, n, rng);
  }
  if (!pool.empty() && !source.cancelled()) {
    Batch batch(ctx, pool, pending, /*search=*/false, source.cancel_flag());
    std::vector<char> chosen(pool.size(), 0);
    while (out.size() < n && !source.cancelled()) {
      auto pick = [&](auto value) {
        long best = -1;
        double best_v = 0.0;
        for (size_t i = 0; i < pool.size(); ++i) {
          if (chosen[i]) continue;
          const double v = value(i);
          if (std::isfinite(v) && v > best_v) {
            best_v = v;
            best = static_cast<long>(i);
          }
        }
        return best;
      };
      long best = pick([&](size_t i) { return batch.acquisition(i); });
      if (best < 0) best = pick([&](size_t i) { return batch.uncertainty(i); });
      if (best < 0) break;
      const auto b = static_cast<size_t>(best);
      chosen[b] = 1;
      source.exclude(pool[b]);
      out.push_back(pool[b]);
      batch.believe(b);
    }
  }
  // Too little data for the models, or nothing worth scoring: random points.
  while (out.size() < n && !source.cancelled()) {
    auto p = source.random(rng);
    if (!p) break;
    source.exclude(*p);
    out.push_back(std::move(*p));
  }
  return out;
}

void prefit_bo(const Engine::Impl& impl) {
  const auto& priors = impl.cache->priors([&] { return fit_priors(impl); });
  for (size_t m = 0; m < impl.metrics.size(); ++m) {
    const size_t n = impl.rows[m].size();
    if (n < 2) continue;
    const Gp* prior = priors[m] ? &*priors[m] : nullptr;
    // The fit in use now (after a restart it may be missing), then the one
    // that becomes due with the data of now and is used refit_lag later.
    fitted(impl, m, impl.hypers_point(n), prior);
    fitted(impl, m, impl.refit_point(n), prior);
  }
}

std::vector<double> score_bo(const Engine::Impl& impl, const std::vector<Point>& candidates,
                             const std::vector<Point>& pending, uint64_t seed, bool widest) {
  BoContext ctx(impl, seed, /*search=*/false, widest);
  std::vector<double> out(candidates.size(), 0.0);
  if (!ctx.ready() || candidates.empty()) return out;
  Batch batch(ctx, candidates, pending);
  for (size_t i = 0; i < candidates.size(); ++i) out[i] = batch.acquisition(i);
  return out;
}

}  // namespace autodistill::bo
