#pragma once
// The client's data model: what a study is made of (StudySpec) and what the
// daemon reports about it (StudyInfo, TrialInfo, Event, WorkerInfo). Plain
// value types that mirror the client tables of messages/autodistill.fbs
// field for field, so that programs using the client never see FlatBuffers
// or ZeroMQ. docs/study-spec.md describes the spec; docs/protocol.md the
// meaning of every reported field.
//
// Thread-safety: plain values; the free functions are pure and thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill {

// ---------------------------------------------------------------------------
// Study specification (the request side)
// ---------------------------------------------------------------------------

enum class StudyKind : uint8_t {
  kDistill = 0,   // candidates are student architectures: probe + flash trials
  kExternal = 1,  // candidates go to External workers that ask for the study
};

enum class FactorKind : uint8_t {
  kOrdinal = 0,      // ordered discrete numbers, `values`
  kCategorical = 1,  // unordered labels, `categories`
  kInteger = 2,      // every integer in [low, high]
  kContinuous = 3,   // real numbers in [low, high]
};

enum class Direction : uint8_t { kMinimize = 0, kMaximize = 1 };

enum class Comparison : uint8_t { kLessEqual = 0, kGreaterEqual = 1 };

// One dimension of the design space. Only the members of its kind are used:
// `values` (ordinal), `categories` (categorical), `low`/`high` (integer and
// continuous).
struct Factor {
  std::string name;
  FactorKind kind = FactorKind::kOrdinal;
  std::vector<double> values;
  std::vector<std::string> categories;
  double low = 0;
  double high = 0;

  friend bool operator==(const Factor&, const Factor&) = default;
};

// How the daemon's BO engine models an objective's values. kAuto (the
// default, and what a spec without "transform" means): log for names
// containing "latency" and for params / flops, identity otherwise. kLog
// needs values > 0: a reference <= 0 is refused at submit, and a trial that
// reports a value <= 0 fails.
enum class ObjectiveTransform : uint8_t { kAuto = 0, kNone = 1, kLog = 2 };

struct Objective {
  std::string name;
  Direction direction = Direction::kMinimize;
  ObjectiveTransform transform = ObjectiveTransform::kAuto;
  // The region of interest: hypervolume (what the search maximizes) counts
  // only beyond the reference of every objective that has one. nullopt: the
  // worst observed value minus 10 % of the observed range.
  std::optional<double> reference = std::nullopt;
  // Distill studies with a baseline: the reference is the baseline's
  // measured value ("reference": "baseline" in a spec file). Exclusive with
  // `reference`.
  bool reference_baseline = false;

  friend bool operator==(const Objective&, const Objective&) = default;
};

// `metric` <= `bound` (kLessEqual) or `metric` >= `bound` (kGreaterEqual).
struct Constraint {
  std::string metric;
  Comparison comparison = Comparison::kLessEqual;
  double bound = 0;

  friend bool operator==(const Constraint&, const Constraint&) = default;
};

// One factor's value in a candidate: `category` for categorical factors,
// `number` for every other kind.
struct ParamValue {
  std::string name;
  double number = 0;
  std::string category;

  friend bool operator==(const ParamValue&, const ParamValue&) = default;
};

enum class SelectionRule : uint8_t {
  kPareto = 0,  // every feasible Pareto-optimal candidate (at most `k` when k > 0)
  kTopK = 1,    // the `k` feasible candidates with the best `metric`
};

// Which explored candidates a Distill study regularly distills.
struct Selection {
  SelectionRule rule = SelectionRule::kPareto;
  uint32_t k = 0;      // Pareto: 0 = no cap; TopK: required, >= 1
  std::string metric;  // TopK: the objective to rank by (its direction applies)

  friend bool operator==(const Selection&, const Selection&) = default;
};

// What to search and how. The client checks only shape and types; the
// daemon validates the meaning (non-empty space, unique values, known
// objectives, teacher and corpus present, ...) at submit.
struct StudySpec {
  std::string name;
  StudyKind kind = StudyKind::kDistill;
  std::vector<Factor> factors;
  std::vector<Objective> objectives;
  std::vector<Constraint> constraints;
  std::string teacher_digest;  // Distill: sha256 of the teacher blob
  std::string corpus_digest;   // Distill: sha256 of the corpus blob
  std::string hardware_tag;    // probe trials go only to workers with this tag
  uint32_t max_trials = 0;     // candidates to evaluate (exploration budget)
  uint32_t parallelism = 0;    // candidates in flight at once; 0 = daemon default
  uint32_t max_attempts = 0;   // per trial; 0 = daemon default
  std::string algorithm;       // proposer; empty = daemon default
  uint64_t seed = 0;
  std::string settings_json;      // a JSON object passed to workers verbatim; empty = none
  uint64_t warm_start_study = 0;  // 0 = none; an earlier study whose observations seed the BO
  // Distill: a reference architecture evaluated first (candidate 0) with the
  // same flash budget; empty = none.
  std::vector<ParamValue> baseline;
  // Distill: which candidates get regular distillation; nullopt = Pareto.
  std::optional<Selection> selection;
  uint32_t max_wall_seconds = 0;      // exploration stops proposing after this; 0 = no limit
  bool skip_dominated_flash = false;  // Distill: no flash for latency-dominated candidates
  // Distill: Regular trials run data-parallel on this many Distill workers
  // at once (a gang, docs/protocol.md "Gangs"); 0 or 1 = one worker each.
  uint32_t regular_ranks = 0;

  friend bool operator==(const StudySpec&, const StudySpec&) = default;
};

// ---------------------------------------------------------------------------
// What the daemon reports
// ---------------------------------------------------------------------------

enum class StudyState : uint8_t {
  kQueued = 0,
  kExploring = 1,
  kSelecting = 2,
  kFinalizing = 3,
  kSucceeded = 4,
  kFailed = 5,
  kCancelled = 6,
};

// kFinetune: a GLUE fine-tuning of a delivered student or the teacher (docs/glue.md).
enum class TrialKind : uint8_t {
  kProbe = 0,
  kFlash = 1,
  kRegular = 2,
  kExternal = 3,
  kFinetune = 4
};

enum class TrialState : uint8_t {
  kQueued = 0,
  kLeased = 1,
  kCompleted = 2,
  kFailed = 3,
  kCancelled = 4,
};

enum class WorkerRole : uint8_t { kDistill = 0, kProbe = 1, kExternal = 2 };

struct Metric {
  std::string name;
  double value = 0;

  friend bool operator==(const Metric&, const Metric&) = default;
};

// A file a trial produced, stored as a blob (fetch it with
// Client::fetch_artifact(digest, path)).
struct Artifact {
  std::string name;
  std::string digest;
  uint64_t size = 0;

  friend bool operator==(const Artifact&, const Artifact&) = default;
};

struct TrialInfo {
  uint64_t trial_id = 0;
  uint64_t study_id = 0;
  uint32_t candidate = 0;  // candidate index within the study
  TrialKind kind = TrialKind::kProbe;
  TrialState state = TrialState::kQueued;
  uint32_t attempt = 0;
  std::vector<ParamValue> params;
  std::vector<Metric> objectives;
  std::vector<Metric> metrics;
  std::vector<Artifact> artifacts;
  std::string worker_id;
  Status error;  // why the trial failed; ok otherwise
  float progress = 0;
  std::string hardware_fingerprint;
  // Unix epoch ms; 0 = not known / not yet. created: queued; started: its
  // current attempt was leased (the run time is finished_ms - started_ms);
  // finished: it reached a terminal state.
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
};

struct StudyInfo {
  uint64_t study_id = 0;
  std::string idempotency_key;
  StudySpec spec;
  StudyState state = StudyState::kQueued;
  std::string message;
  int64_t created_ms = 0;  // unix epoch milliseconds
  int64_t updated_ms = 0;
  uint32_t trials_total = 0;
  uint32_t trials_completed = 0;
  uint32_t trials_failed = 0;
  uint32_t trials_running = 0;
  std::vector<uint64_t> pareto;  // trial ids of the current Pareto set
};

// One change in a study. `kind` is one of: study_state, trial_queued,
// trial_leased, trial_progress, trial_completed, trial_failed,
// trial_requeued, trial_cancelled, flash_skipped, selected,
// wall_budget_spent. Every kind but trial_progress is durable, with a `seq`
// that increases strictly per study; trial_progress (a running trial's
// latest heartbeat) is streamed only, with the seq of the last durable event.
struct Event {
  uint64_t study_id = 0;
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind;
  uint64_t trial_id = 0;
  uint32_t attempt = 0;
  std::string message;
  float fraction = 0;  // trial_progress: 0..1
  // Trial events (trial_id != 0): the trial's candidate and kind.
  uint32_t candidate = 0;
  TrialKind trial_kind = TrialKind::kProbe;
  // trial_completed: the objectives (a latency measurement adds
  // median_ci_low_ms / median_ci_high_ms); trial_progress: the worker's
  // metrics so far (e.g. loss).
  std::vector<Metric> values;
  int64_t duration_ms = 0;  // trial_completed|failed|cancelled: the ended attempt's run time
};

struct Hardware {
  std::string tag;
  std::string cpu_model;
  uint32_t cores = 0;
  uint32_t threads = 0;
  uint64_t memory_bytes = 0;
  std::string accelerator;
  std::string driver;
  std::string torch_version;
  std::string fingerprint;
};

struct TrialRef {
  uint64_t trial_id = 0;
  uint32_t attempt = 0;
};

struct WorkerInfo {
  std::string worker_id;
  WorkerRole role = WorkerRole::kDistill;
  Hardware hardware;
  uint32_t slots = 0;
  bool connected = false;
  int64_t last_seen_ms = 0;
  std::vector<TrialRef> running;
  std::vector<uint64_t> studies;
};

// ---------------------------------------------------------------------------
// Names: the lower-case words used in study specs, JSON output and the CLI
// ("exploring", "maximize", "categorical", ...).
// ---------------------------------------------------------------------------

const char* to_string(StudyKind kind);
const char* to_string(FactorKind kind);
const char* to_string(Direction direction);
const char* to_string(ObjectiveTransform transform);
const char* to_string(StudyState state);
const char* to_string(TrialKind kind);
const char* to_string(TrialState state);
const char* to_string(WorkerRole role);
const char* to_string(SelectionRule rule);

// The inverse of to_string for the words a study spec uses; nullopt when
// `name` is not one of them.
std::optional<StudyKind> parse_study_kind(std::string_view name);
std::optional<FactorKind> parse_factor_kind(std::string_view name);
std::optional<Direction> parse_direction(std::string_view name);
std::optional<ObjectiveTransform> parse_objective_transform(std::string_view name);
std::optional<SelectionRule> parse_selection_rule(std::string_view name);

// Succeeded, Failed or Cancelled: the study will not change any more.
bool is_terminal(StudyState state);

}  // namespace autodistill
