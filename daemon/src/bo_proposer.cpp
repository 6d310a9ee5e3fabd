// The daemon's proposer: the BO engine (daemon/bo/) behind the Proposer
// interface, for every algorithm a study may name ("bo", the default, and
// the paper's baselines "random", "firefly", "nsga2").
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "autodistill/bo/engine.hpp"
#include "autodistill/daemon/log.hpp"
#include "autodistill/daemon/proposer.hpp"

namespace autodistill::daemon {

namespace {

bool latency_like(const std::string& name) {
  return name.find("latency") != std::string::npos || name == "params" || name == "flops";
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

class BoProposer final : public Proposer {
 public:
  BoProposer(const wire::StudySpecT& spec, bo::Engine engine)
      : spec_(spec), engine_(std::move(engine)) {}

  void add_known(const Params& params) override { pending_.insert(to_point(params)); }

  void observe(const Params& params, const std::map<std::string, double>& values) override {
    if (Status s = engine_.observe(to_point(params), values); !s) {
      LOG_WARN("proposer: observation not used: " << s.to_string());
    }
  }

  void observe_failure(const Params& params) override {
    bo::Point p = to_point(params);
    pending_.erase(p);
    if (Status s = engine_.observe_failure(p); !s) {
      LOG_WARN("proposer: failure not recorded: " << s.to_string());
    }
  }

  void finish(const Params& params) override { pending_.erase(to_point(params)); }

  std::vector<Params> propose(size_t n) override {
    std::vector<bo::Point> pending(pending_.begin(), pending_.end());
    auto points = engine_.suggest(n, pending);
    if (!points) {
      LOG_ERROR("proposer: " << points.status().to_string());
      return {};
    }
    std::vector<Params> out;
    for (const bo::Point& p : points.value()) {
      pending_.insert(p);
      out.push_back(to_params(p));
    }
    return out;
  }

 private:
  bo::Point to_point(const Params& params) const {
    bo::Point p(spec_.factors.size(), 0.0);
    for (size_t i = 0; i < spec_.factors.size(); ++i) {
      const wire::FactorT& f = *spec_.factors[i];
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

  Params to_params(const bo::Point& p) const {
    Params params;
    for (size_t i = 0; i < spec_.factors.size(); ++i) {
      const wire::FactorT& f = *spec_.factors[i];
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

  wire::StudySpecT spec_;
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
    objective.log_transform = latency_like(o->name);
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
      c.metrics.push_back(bo::MetricSpec{k->metric, latency_like(k->metric)});
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
    auto settings = nlohmann::json::parse(spec.settings_json.empty() ? "{}" : spec.settings_json,
                                          nullptr, false);
    // settings.student: the teacher-derived sizes (docs/probe.md).
    if (settings.is_object() && settings.contains("student") && settings["student"].is_object()) {
      const auto& sizes = settings["student"];
      student.vocab_size = sizes.value("vocab_size", student.vocab_size);
      student.max_seq_length = sizes.value("max_positions", student.max_seq_length);
    }
    c.student = student;
  }
  c.algorithm = spec.algorithm.empty() ? "bo" : spec.algorithm;
  c.seed = spec.seed;
  return c;
}

Status validate_search(const wire::StudySpecT& spec) {
  Status s = bo::validate(engine_config(spec));
  if (s) return s;
  return Status(s.code(), s.message(), s.field().empty() ? "spec" : "spec." + s.field());
}

std::unique_ptr<Proposer> make_proposer(const wire::StudySpecT& spec, uint64_t) {
  auto engine = bo::Engine::create(engine_config(spec));
  if (!engine) {
    LOG_ERROR("proposer: " << engine.status().to_string());
    return nullptr;
  }
  return std::make_unique<BoProposer>(spec, std::move(engine.value()));
}

}  // namespace autodistill::daemon
