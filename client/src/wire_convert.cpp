#include "wire_convert.hpp"

#include "autodistill/wire/codec.hpp"

namespace autodistill::client_wire {

namespace {

template <class To, class From>
To cast(From value) {
  return static_cast<To>(static_cast<std::underlying_type_t<From>>(value));
}

std::vector<Metric> metrics(const std::vector<std::unique_ptr<wire::MetricT>>& in) {
  std::vector<Metric> out;
  for (const auto& m : in) {
    if (m) out.push_back({m->name, m->value});
  }
  return out;
}

}  // namespace

wire::StudySpecT to_wire(const StudySpec& spec) {
  wire::StudySpecT out;
  out.name = spec.name;
  out.kind = cast<wire::StudyKind>(spec.kind);
  for (const Factor& f : spec.factors) {
    auto factor = std::make_unique<wire::FactorT>();
    factor->name = f.name;
    factor->kind = cast<wire::FactorKind>(f.kind);
    factor->values = f.values;
    factor->categories = f.categories;
    factor->low = f.low;
    factor->high = f.high;
    out.factors.push_back(std::move(factor));
  }
  for (const Objective& o : spec.objectives) {
    auto objective = std::make_unique<wire::ObjectiveT>();
    objective->name = o.name;
    objective->direction = cast<wire::Direction>(o.direction);
    objective->transform = cast<wire::ObjectiveTransform>(o.transform);
    if (o.reference) objective->reference = *o.reference;
    objective->reference_baseline = o.reference_baseline;
    out.objectives.push_back(std::move(objective));
  }
  for (const Constraint& c : spec.constraints) {
    auto constraint = std::make_unique<wire::ConstraintT>();
    constraint->metric = c.metric;
    constraint->comparison = cast<wire::Comparison>(c.comparison);
    constraint->bound = c.bound;
    out.constraints.push_back(std::move(constraint));
  }
  out.teacher_digest = spec.teacher_digest;
  out.corpus_digest = spec.corpus_digest;
  out.hardware_tag = spec.hardware_tag;
  out.max_trials = spec.max_trials;
  out.parallelism = spec.parallelism;
  out.max_attempts = spec.max_attempts;
  out.regular_ranks = spec.regular_ranks;
  out.algorithm = spec.algorithm;
  out.seed = spec.seed;
  out.settings_json = spec.settings_json;
  out.warm_start_study = spec.warm_start_study;
  for (const ParamValue& p : spec.baseline) {
    auto value = std::make_unique<wire::ParamValueT>();
    value->name = p.name;
    value->number = p.number;
    value->category = p.category;
    out.baseline.push_back(std::move(value));
  }
  if (spec.selection) {
    out.selection = std::make_unique<wire::SelectionT>();
    out.selection->rule = cast<wire::SelectionRule>(spec.selection->rule);
    out.selection->k = spec.selection->k;
    out.selection->metric = spec.selection->metric;
  }
  out.max_wall_seconds = spec.max_wall_seconds;
  out.skip_dominated_flash = spec.skip_dominated_flash;
  return out;
}

StudySpec to_model(const wire::StudySpecT& spec) {
  StudySpec out;
  out.name = spec.name;
  out.kind = cast<StudyKind>(spec.kind);
  for (const auto& f : spec.factors) {
    if (!f) continue;
    out.factors.push_back(
        {f->name, cast<FactorKind>(f->kind), f->values, f->categories, f->low, f->high});
  }
  for (const auto& o : spec.objectives) {
    if (!o) continue;
    Objective objective{o->name, cast<Direction>(o->direction),
                        cast<ObjectiveTransform>(o->transform), std::nullopt,
                        o->reference_baseline};
    if (o->reference) objective.reference = *o->reference;
    out.objectives.push_back(std::move(objective));
  }
  for (const auto& c : spec.constraints) {
    if (c) out.constraints.push_back({c->metric, cast<Comparison>(c->comparison), c->bound});
  }
  out.teacher_digest = spec.teacher_digest;
  out.corpus_digest = spec.corpus_digest;
  out.hardware_tag = spec.hardware_tag;
  out.max_trials = spec.max_trials;
  out.parallelism = spec.parallelism;
  out.max_attempts = spec.max_attempts;
  out.regular_ranks = spec.regular_ranks;
  out.algorithm = spec.algorithm;
  out.seed = spec.seed;
  out.settings_json = spec.settings_json;
  out.warm_start_study = spec.warm_start_study;
  for (const auto& p : spec.baseline) {
    if (p) out.baseline.push_back({p->name, p->number, p->category});
  }
  if (spec.selection) {
    out.selection = Selection{cast<SelectionRule>(spec.selection->rule), spec.selection->k,
                              spec.selection->metric};
  }
  out.max_wall_seconds = spec.max_wall_seconds;
  out.skip_dominated_flash = spec.skip_dominated_flash;
  return out;
}

StudyInfo to_model(const wire::StudyInfoT& study) {
  StudyInfo out;
  out.study_id = study.study_id;
  out.idempotency_key = study.idempotency_key;
  if (study.spec) out.spec = to_model(*study.spec);
  out.state = cast<StudyState>(study.state);
  out.message = study.message;
  out.created_ms = study.created_ms;
  out.updated_ms = study.updated_ms;
  out.trials_total = study.trials_total;
  out.trials_completed = study.trials_completed;
  out.trials_failed = study.trials_failed;
  out.trials_running = study.trials_running;
  out.pareto = study.pareto;
  return out;
}

TrialInfo to_model(const wire::TrialInfoT& trial) {
  TrialInfo out;
  out.trial_id = trial.trial_id;
  out.study_id = trial.study_id;
  out.candidate = trial.candidate;
  out.kind = cast<TrialKind>(trial.kind);
  out.state = cast<TrialState>(trial.state);
  out.attempt = trial.attempt;
  for (const auto& p : trial.params) {
    if (p) out.params.push_back({p->name, p->number, p->category});
  }
  out.objectives = metrics(trial.objectives);
  out.metrics = metrics(trial.metrics);
  for (const auto& a : trial.artifacts) {
    if (a) out.artifacts.push_back({a->name, a->digest, a->size});
  }
  out.worker_id = trial.worker_id;
  if (trial.error && trial.error->code != wire::ErrorCode::Ok) {
    out.error = wire::from_wire(trial.error.get());
  }
  out.progress = trial.progress;
  out.hardware_fingerprint = trial.hardware_fingerprint;
  out.created_ms = trial.created_ms;
  out.started_ms = trial.started_ms;
  out.finished_ms = trial.finished_ms;
  return out;
}

Event to_model(const wire::EventT& event) {
  Event out;
  out.study_id = event.study_id;
  out.seq = event.seq;
  out.time_ms = event.time_ms;
  out.kind = event.kind;
  out.trial_id = event.trial_id;
  out.attempt = event.attempt;
  out.message = event.message;
  out.fraction = event.fraction;
  out.candidate = event.candidate;
  out.trial_kind = cast<TrialKind>(event.trial_kind);
  out.values = metrics(event.values);
  out.duration_ms = event.duration_ms;
  return out;
}

WorkerInfo to_model(const wire::WorkerInfoT& worker) {
  WorkerInfo out;
  out.worker_id = worker.worker_id;
  out.role = cast<WorkerRole>(worker.role);
  if (const wire::HardwareT* hw = worker.hardware.get()) {
    out.hardware = {hw->tag,     hw->cpu_model,     hw->cores,
                    hw->threads, hw->memory_bytes,  hw->accelerator,
                    hw->driver,  hw->torch_version, hw->fingerprint};
  }
  out.slots = worker.slots;
  out.connected = worker.connected;
  out.last_seen_ms = worker.last_seen_ms;
  for (const auto& r : worker.running) {
    if (r) out.running.push_back({r->trial_id, r->attempt});
  }
  out.studies = worker.studies;
  return out;
}

}  // namespace autodistill::client_wire
