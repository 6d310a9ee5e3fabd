#include "wire_convert.hpp"

#include "autodistill/wire/codec.hpp"
#include "autodistill/wire/object_fields.hpp"

namespace autodistill::client_wire {

namespace {

using wire::copy_list;
using wire::enum_cast;

// Each concept's fields, listed once for both directions (to_wire and
// to_model): the client model and the wire tables name them alike.

struct FactorFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.name = in.name;
    out.kind = enum_cast<decltype(out.kind)>(in.kind);
    out.values = in.values;
    out.categories = in.categories;
    out.low = in.low;
    out.high = in.high;
  }
};

struct ObjectiveFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.name = in.name;
    out.direction = enum_cast<decltype(out.direction)>(in.direction);
    out.transform = enum_cast<decltype(out.transform)>(in.transform);
    if (in.reference) out.reference = *in.reference;
    out.reference_baseline = in.reference_baseline;
  }
};

struct ConstraintFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.metric = in.metric;
    out.comparison = enum_cast<decltype(out.comparison)>(in.comparison);
    out.bound = in.bound;
  }
};

struct SelectionFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.rule = enum_cast<decltype(out.rule)>(in.rule);
    out.k = in.k;
    out.metric = in.metric;
  }
};

// A study spec's fields but its selection.
struct StudySpecFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.name = in.name;
    out.kind = enum_cast<decltype(out.kind)>(in.kind);
    copy_list(in.factors, out.factors, FactorFields{});
    copy_list(in.objectives, out.objectives, ObjectiveFields{});
    copy_list(in.constraints, out.constraints, ConstraintFields{});
    out.teacher_digest = in.teacher_digest;
    out.corpus_digest = in.corpus_digest;
    out.hardware_tag = in.hardware_tag;
    out.max_trials = in.max_trials;
    out.parallelism = in.parallelism;
    out.max_attempts = in.max_attempts;
    out.regular_ranks = in.regular_ranks;
    out.algorithm = in.algorithm;
    out.seed = in.seed;
    out.settings_json = in.settings_json;
    out.warm_start_study = in.warm_start_study;
    copy_list(in.baseline, out.baseline, wire::ParamFields{});
    out.max_wall_seconds = in.max_wall_seconds;
    out.skip_dominated_flash = in.skip_dominated_flash;
  }
};

std::vector<Metric> metrics(const std::vector<std::unique_ptr<wire::MetricT>>& in) {
  std::vector<Metric> out;
  copy_list(in, out, wire::MetricFields{});
  return out;
}

}  // namespace

wire::StudySpecT to_wire(const StudySpec& spec) {
  wire::StudySpecT out;
  StudySpecFields{}(spec, out);
  if (spec.selection) {
    out.selection = std::make_unique<wire::SelectionT>();
    SelectionFields{}(*spec.selection, *out.selection);
  }
  return out;
}

StudySpec to_model(const wire::StudySpecT& spec) {
  StudySpec out;
  StudySpecFields{}(spec, out);
  if (spec.selection) SelectionFields{}(*spec.selection, out.selection.emplace());
  return out;
}

StudyInfo to_model(const wire::StudyInfoT& study) {
  StudyInfo out;
  out.study_id = study.study_id;
  out.idempotency_key = study.idempotency_key;
  if (study.spec) out.spec = to_model(*study.spec);
  out.state = enum_cast<StudyState>(study.state);
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
  out.kind = enum_cast<TrialKind>(trial.kind);
  out.state = enum_cast<TrialState>(trial.state);
  out.attempt = trial.attempt;
  copy_list(trial.params, out.params, wire::ParamFields{});
  out.objectives = metrics(trial.objectives);
  out.metrics = metrics(trial.metrics);
  copy_list(trial.artifacts, out.artifacts, wire::ArtifactFields{});
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
  out.trial_kind = enum_cast<TrialKind>(event.trial_kind);
  out.values = metrics(event.values);
  out.duration_ms = event.duration_ms;
  return out;
}

WorkerInfo to_model(const wire::WorkerInfoT& worker) {
  WorkerInfo out;
  out.worker_id = worker.worker_id;
  out.role = enum_cast<WorkerRole>(worker.role);
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
