// The daemon's proposer: the BO engine (daemon/bo/) behind the Proposer
// interface, for every algorithm a study may name ("bo", the default, and
// the paper's baselines "random", "firefly", "nsga2").
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/space.hpp"
#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/log.hpp"
#include "autodistill/daemon/proposer.hpp"
#include "autodistill/student_settings.hpp"

namespace autodistill::daemon {

namespace {

// The naming rule of ObjectiveTransform::Auto (specs that declare no transform).
bool latency_like(const std::string& name) {
  return name.find("latency") != std::string::npos || name == "params" || name == "flops";
}

Status invalid(std::string message, std::string field) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}

bo::FactorKind kind_of(wire::FactorKind kind) {
  switch (kind) {
    case wire::FactorKind::Ordinal:
      return bo::FactorKind::kOrdinal;
    case wire::FactorKind::Categorical:
      return bo::FactorKind::kCategorical;
    case wire::FactorKind::Integer:
      return bo::FactorKind::kInteger;
    case wire::FactorKind::Continuous:
      return bo::FactorKind::kContinuous;
  }
  return bo::FactorKind::kOrdinal;
}

bo::Point to_point(const wire::StudySpecT& spec, const Params& params) {
  bo::Point p(spec.factors.size(), 0.0);
  for (size_t i = 0; i < spec.factors.size(); ++i) {
    const wire::FactorT& f = *spec.factors[i];
    auto it = std::find_if(params.begin(), params.end(),
                           [&](const wire::ParamValueT& v) { return v.name == f.name; });
    if (it == params.end()) continue;
    if (f.kind == wire::FactorKind::Categorical) {
      auto c = std::find(f.categories.begin(), f.categories.end(), it->category);
      p[i] = static_cast<double>(c - f.categories.begin());
    } else {
      p[i] = it->number;
    }
  }
  return p;
}

Params to_params(const wire::StudySpecT& spec, const bo::Point& p) {
  Params params;
  for (size_t i = 0; i < spec.factors.size(); ++i) {
    const wire::FactorT& f = *spec.factors[i];
    wire::ParamValueT v;
    v.name = f.name;
    if (f.kind == wire::FactorKind::Categorical) {
      size_t index = static_cast<size_t>(std::llround(p[i]));
      v.category = f.categories.at(std::min(index, f.categories.size() - 1));
    } else {
      v.number = p[i];
    }
    params.push_back(std::move(v));
  }
  return params;
}

class BoProposer final : public Proposer {
 public:
  BoProposer(const wire::StudySpecT& spec, bo::Engine engine)
      : spec_(std::make_shared<const wire::StudySpecT>(spec)), engine_(std::move(engine)) {}

  void add_known(const Params& params) override { pending_.insert(to_point(*spec_, params)); }

  void observe(const Params& params, const std::map<std::string, double>& values) override {
    if (Status s = engine_.observe(to_point(*spec_, params), values); !s) {
      LOG_WARN("proposer: observation not used: " << s.to_string());
    }
  }

  void observe_failure(const Params& params) override {
    bo::Point p = to_point(*spec_, params);
    pending_.erase(p);
    if (Status s = engine_.observe_failure(p); !s) {
      LOG_WARN("proposer: failure not recorded: " << s.to_string());
    }
  }

  void finish(const Params& params) override { pending_.erase(to_point(*spec_, params)); }

  SuggestJob prepare(size_t n, CancelFlag cancel) const override {
    // The engine copy shares the synchronized cache of fitted models with
    // engine_ (engine.hpp), so the job may run while engine_ keeps observing.
    return [engine = engine_, pending = std::vector<bo::Point>(pending_.begin(), pending_.end()),
            spec = spec_, n, cancel = std::move(cancel)]() -> std::vector<Params> {
      auto points = engine.suggest(n, pending, cancel.get());
      if (!points) {
        if (points.status().code() == Code::kCancelled) return {};
        LOG_ERROR("proposer: " << points.status().to_string());
        return {};
      }
      std::vector<Params> out;
      for (const bo::Point& p : points.value()) out.push_back(to_params(*spec, p));
      return out;
    };
  }

  std::function<void()> background() const override {
    return [engine = engine_] { engine.prefit(); };
  }

  // Tells a hopeless candidate (skip_dominated_flash): the widest reference,
  // so a candidate the alternating reference's front turn leaves outside its
  // box (e.g. more accurate than the front but slower than its nadir) still
  // counts.
  double score(const Params& params) const override {
    auto scores =
        engine_.score({to_point(*spec_, params)}, {}, bo::Engine::ScoreReference::kWidest);
    if (!scores || scores.value().empty()) return 0.0;
    return scores.value().front();
  }

 private:
  std::shared_ptr<const wire::StudySpecT> spec_;
  bo::Engine engine_;
  std::set<bo::Point> pending_;  // proposed, not yet finished or failed
};

}  // namespace

bo::EngineConfig engine_config(const wire::StudySpecT& spec) {
  bo::EngineConfig c;
  for (const auto& f : spec.factors) {
    bo::Factor factor;
    factor.name = f->name;
    factor.kind = kind_of(f->kind);
    factor.values = f->values;
    factor.categories = f->categories;
    factor.low = f->low;
    factor.high = f->high;
    c.space.factors.push_back(std::move(factor));
  }
  std::set<std::string> names;
  for (const auto& o : spec.objectives) {
    bo::ObjectiveSpec objective;
    objective.name = o->name;
    objective.maximize = o->direction == wire::Direction::Maximize;
    objective.log_transform = log_transformed(spec, o->name);
    if (o->reference) objective.reference = *o->reference;
    objective.reference_at_baseline = o->reference_baseline;
    c.objectives.push_back(std::move(objective));
    names.insert(o->name);
  }
  for (const auto& k : spec.constraints) {
    bo::ConstraintSpec constraint;
    constraint.metric = k->metric;
    constraint.comparison = k->comparison == wire::Comparison::LessEqual
                                ? bo::Comparison::kLessEqual
                                : bo::Comparison::kGreaterEqual;
    constraint.bound = k->bound;
    c.constraints.push_back(constraint);
    const bool analytic =
        spec.kind == wire::StudyKind::Distill && (k->metric == "params" || k->metric == "flops");
    if (!analytic && names.insert(k->metric).second) {
      c.metrics.push_back(bo::MetricSpec{k->metric, log_transformed(spec, k->metric)});
    }
  }
  if (spec.kind == wire::StudyKind::Distill) {
    bool heads = false, bottleneck = false;
    for (const auto& f : spec.factors) {
      heads = heads || f->name == "num_heads";
      bottleneck = bottleneck || f->name == "bottleneck_size";
    }
    if (heads && bottleneck) c.space.divisibility.push_back({"num_heads", "bottleneck_size"});
    bo::StudentSettings student;
    // settings.student: the teacher-derived sizes (docs/probe.md); a value
    // that is not an integer keeps the default (validate_spec refuses it).
    auto settings =
        parse_json(spec.settings_json.empty() ? "{}" : spec.settings_json, "spec.settings_json");
    if (settings && settings->is_object() && settings->contains("student") &&
        (*settings)["student"].is_object()) {
      StudentArch read = student.options;
      read.vocab_size = student.vocab_size;
      read.max_positions = student.max_seq_length;
      read.type_vocab_size = student.type_vocab_size;
      // A stored spec passed validate_student_settings (the same reader); a
      // bad field keeps the defaults from it on.
      (void)read_student_settings((*settings)["student"], read);
      student.vocab_size = read.vocab_size;
      student.max_seq_length = read.max_positions;
      student.type_vocab_size = read.type_vocab_size;
      copy_student_options(read, student.options);
    }
    c.student = student;
  }
  if (spec.kind == wire::StudyKind::Distill && !spec.baseline.empty()) {
    c.baseline = to_point(spec, baseline_params(spec));
  }
  c.algorithm = spec.algorithm.empty() ? "bo" : spec.algorithm;
  c.seed = spec.seed;
  return c;
}

bool log_transformed(const wire::StudySpecT& spec, const std::string& metric) {
  for (const auto& o : spec.objectives) {
    if (!o || o->name != metric) continue;
    if (o->transform == wire::ObjectiveTransform::Log) return true;
    if (o->transform == wire::ObjectiveTransform::Identity) return false;
    break;
  }
  return latency_like(metric);
}

Status check_measurements(const wire::StudySpecT& spec,
                          const std::map<std::string, double>& values) {
  for (const auto& [name, v] : values) {
    if (!std::isfinite(v)) {
      return invalid("objective \"" + name + "\" is not finite", "objectives." + name);
    }
    if (v <= 0 && log_transformed(spec, name)) {
      std::ostringstream why;
      why << "objective \"" << name << "\" is " << v
          << ": its transform is log, which needs positive values (declare \"transform\": \"none\" "
             "for a metric that can be zero or negative)";
      return invalid(why.str(), "objectives." + name);
    }
  }
  return Status::ok();
}

namespace {

// The objectives' transform and reference fields (before the engine's checks).
Status validate_objective_options(const wire::StudySpecT& spec) {
  for (size_t i = 0; i < spec.objectives.size(); ++i) {
    if (!spec.objectives[i]) continue;
    const wire::ObjectiveT& o = *spec.objectives[i];
    const std::string field = "spec.objectives[" + std::to_string(i) + "]";
    if (o.transform < wire::ObjectiveTransform::MIN ||
        o.transform > wire::ObjectiveTransform::MAX) {
      return invalid("unknown transform (Auto, Identity or Log)", field + ".transform");
    }
    if (o.reference && o.reference_baseline) {
      return invalid("give either a reference value or the baseline's, not both",
                     field + ".reference_baseline");
    }
    if (o.reference_baseline && (spec.kind != wire::StudyKind::Distill || spec.baseline.empty())) {
      return invalid(
          "a reference at the baseline needs a distill study with a baseline architecture",
          field + ".reference_baseline");
    }
    if (o.reference && !std::isfinite(*o.reference)) {
      return invalid("reference is not finite", field + ".reference");
    }
    if (o.reference && *o.reference <= 0 && log_transformed(spec, o.name)) {
      std::ostringstream why;
      why << "reference " << *o.reference << " of \"" << o.name
          << "\" must be > 0: its transform is log (declare \"transform\": \"none\" otherwise)";
      return invalid(why.str(), field + ".reference");
    }
  }
  return Status::ok();
}

}  // namespace

Status validate_search(const wire::StudySpecT& spec) {
  if (Status s = validate_objective_options(spec); !s) return s;
  Status s = bo::validate(engine_config(spec));
  if (s) return s;
  return Status(s.code(), s.message(), s.field().empty() ? "spec" : "spec." + s.field());
}

std::vector<Params> Proposer::propose(size_t n) {
  std::vector<Params> out = prepare(n, nullptr)();
  for (const Params& p : out) add_known(p);
  return out;
}

std::unique_ptr<Proposer> make_proposer(const wire::StudySpecT& spec, uint64_t study_id,
                                        const std::vector<PriorObservation>& warm_start) {
  bo::EngineConfig config = engine_config(spec);
  if (!warm_start.empty()) {
    auto space = bo::Space::build(config.space);
    if (!space) {
      LOG_ERROR("proposer: " << space.status().to_string());
      return nullptr;
    }
    for (const PriorObservation& prior : warm_start) {
      bo::Observation o;
      o.point = to_point(spec, prior.params);
      if (!space.value().check(o.point, "point")) continue;
      for (const auto& [name, v] : prior.values) {
        if (std::isfinite(v) && (!log_transformed(spec, name) || v > 0)) o.values[name] = v;
      }
      if (!o.values.empty()) config.warm_start.push_back(std::move(o));
    }
    LOG_INFO("study " << study_id << ": warm start from " << config.warm_start.size() << " of "
                      << warm_start.size() << " earlier measurements");
  }
  auto engine = bo::Engine::create(std::move(config));
  if (!engine) {
    LOG_ERROR("proposer: " << engine.status().to_string());
    return nullptr;
  }
  return std::make_unique<BoProposer>(spec, std::move(engine.value()));
}

Params baseline_params(const wire::StudySpecT& spec) {
  Params out;
  if (spec.baseline.empty()) return out;
  for (const auto& f : spec.factors) {
    for (const auto& v : spec.baseline) {
      if (v && v->name == f->name) out.push_back(*v);
    }
  }
  return out;
}

Status validate_baseline(const wire::StudySpecT& spec) {
  if (spec.baseline.empty()) return Status::ok();
  auto invalid = [](std::string message, std::string field) {
    return Status(Code::kInvalidArgument, std::move(message), std::move(field));
  };
  if (spec.kind != wire::StudyKind::Distill) {
    return invalid("a baseline architecture needs a distill study", "spec.baseline");
  }
  std::set<std::string> named;
  for (size_t i = 0; i < spec.baseline.size(); ++i) {
    const std::string field = "spec.baseline[" + std::to_string(i) + "]";
    if (!spec.baseline[i]) return invalid("missing value", field);
    const wire::ParamValueT& v = *spec.baseline[i];
    auto f = std::find_if(spec.factors.begin(), spec.factors.end(),
                          [&](const auto& x) { return x && x->name == v.name; });
    if (f == spec.factors.end()) {
      return invalid("\"" + v.name + "\" is not a factor of the design space", field + ".name");
    }
    if (!named.insert(v.name).second) {
      return invalid("factor \"" + v.name + "\" is named twice", field + ".name");
    }
    const wire::FactorT& factor = **f;
    if (factor.kind == wire::FactorKind::Categorical) {
      if (std::find(factor.categories.begin(), factor.categories.end(), v.category) ==
          factor.categories.end()) {
        return invalid("\"" + v.category + "\" is not a category of \"" + v.name + "\"",
                       field + ".category");
      }
      continue;
    }
    if (!v.category.empty()) {
      return invalid("\"" + v.name + "\" takes a number, not a category", field + ".category");
    }
    const double x = v.number;
    bool ok = std::isfinite(x);
    std::string domain;
    if (factor.kind == wire::FactorKind::Ordinal) {
      ok = ok && std::find(factor.values.begin(), factor.values.end(), x) != factor.values.end();
      domain = "one of the factor's values";
    } else {
      ok = ok && x >= factor.low && x <= factor.high &&
           (factor.kind == wire::FactorKind::Continuous || x == std::floor(x));
      domain = factor.kind == wire::FactorKind::Integer ? "an integer in [low, high]"
                                                        : "a number in [low, high]";
    }
    if (!ok) {
      return invalid("value of \"" + v.name + "\" must be " + domain, field + ".number");
    }
  }
  for (const auto& f : spec.factors) {
    if (f && !named.count(f->name)) {
      return invalid("the baseline does not name factor \"" + f->name + "\"", "spec.baseline");
    }
  }
  if (!is_valid_candidate(spec, baseline_params(spec))) {
    return invalid("num_heads must divide bottleneck_size", "spec.baseline");
  }
  return Status::ok();
}

}  // namespace autodistill::daemon
