#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/artifact_check.hpp"
#include "autodistill/daemon/log.hpp"
#include "autodistill/daemon/pareto.hpp"
#include "autodistill/daemon/probe_handoff.hpp"
#include "autodistill/wire/digest.hpp"
#include "autodistill/wire/hardware_tag.hpp"

namespace autodistill::daemon {

using wire::Message;
using wire::Role;
using wire::StudyKind;
using wire::StudyState;
using wire::TrialKind;
using wire::TrialState;

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr uint32_t kMaxSlots = 1024;
constexpr uint32_t kReplayBatch = 1000;
constexpr const char* kDaemonVersion = "autodistilld 0.1.0";
// skip_dominated_flash: a probed candidate whose expected hypervolume
// improvement (standardized objective units) is at most this is hopeless
// (calibration in docs/study-spec.md and tests/daemon/proposer_test.cpp).
constexpr double kSkipFlashScore = 1e-2;
// ... judged only once this many candidates of the study are complete (the
// engine's models need two measurements of every objective).
constexpr size_t kSkipFlashAfter = 2;
// Worker-registry pruning and partial-upload expiry run at most this often.
constexpr int64_t kHousekeepingMs = 1000;
// Worker rows deleted per housekeeping pass at most (bounds one batch).
constexpr uint32_t kPruneBatch = 10000;

bool is_terminal(int study_state) {
  return study_state >= static_cast<int>(StudyState::Succeeded);
}

const char* study_state_name(int state) {
  return wire::EnumNameStudyState(static_cast<StudyState>(state));
}

Role role_of(TrialKind kind) {
  switch (kind) {
    case TrialKind::Probe:
      return Role::Probe;
    case TrialKind::Flash:
    case TrialKind::Regular:
    case TrialKind::Finetune:
      return Role::Distill;
    case TrialKind::External:
      return Role::External;
  }
  return Role::External;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The objectives a trial of `kind` must report.
std::vector<std::string> objectives_for(const wire::StudySpecT& spec, TrialKind kind) {
  std::vector<std::string> out;
  for (const auto& o : spec.objectives) {
    bool wanted = kind == TrialKind::External ||
                  (kind == TrialKind::Probe ? contains(distill_probe_metrics(), o->name)
                                            : contains(distill_accuracy_metrics(), o->name));
    if (wanted) out.push_back(o->name);
  }
  return out;
}

// Does the study need measurements from trials of this kind at all?
bool study_uses(const wire::StudySpecT& spec, TrialKind kind) {
  const auto& names =
      kind == TrialKind::Probe ? distill_probe_metrics() : distill_accuracy_metrics();
  for (const auto& o : spec.objectives) {
    if (contains(names, o->name)) return true;
  }
  for (const auto& c : spec.constraints) {
    if (contains(names, c->metric)) return true;
  }
  return false;
}

std::vector<std::unique_ptr<wire::MetricT>> to_metrics(const std::string& json) {
  std::vector<std::unique_ptr<wire::MetricT>> out;
  for (auto& [k, v] : metrics_from_json(json)) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = k;
    m->value = v;
    out.push_back(std::move(m));
  }
  return out;
}

std::string metrics_json(const std::vector<std::unique_ptr<wire::MetricT>>& metrics) {
  std::map<std::string, double> m;
  for (const auto& x : metrics) {
    if (x) m[x->name] = x->value;
  }
  return metrics_to_json(m);
}

// Canonical keys of the probe cache: the architecture as a JSON object
// sorted by factor name, and the study's serving setting (settings.serving).
std::string arch_key(const Params& params) {
  nlohmann::json arch = nlohmann::json::object();
  for (const auto& p : params) {
    if (p.category.empty())
      arch[p.name] = p.number;
    else
      arch[p.name] = p.category;
  }
  return arch.dump();
}

// How `trials` failed, for a study's message: "all 5 trials failed; last
// error: ..." or "3 of 5 trials failed, 2 cancelled; last error: ..."
// (`what` names the trials).
std::string failure_summary(const std::vector<TrialRow>& trials, const std::string& what) {
  size_t failed = 0, cancelled = 0;
  const TrialRow* last = nullptr;
  for (const TrialRow& t : trials) {
    if (t.state == static_cast<int>(TrialState::Cancelled)) ++cancelled;
    if (t.state != static_cast<int>(TrialState::Failed)) continue;
    ++failed;
    if (last == nullptr || t.updated_ms >= last->updated_ms) last = &t;
  }
  std::string why =
      failed == trials.size()
          ? "all " + std::to_string(failed) + " " + what + " failed"
          : std::to_string(failed) + " of " + std::to_string(trials.size()) + " " + what +
                " failed" + (cancelled > 0 ? ", " + std::to_string(cancelled) + " cancelled" : "");
  if (last != nullptr) why += "; last error: " + last->error_message;
  return why;
}

// Why a study ends with nothing completed.
std::string none_completed(const std::vector<TrialRow>& trials, const std::string& what) {
  const bool all_failed = std::all_of(trials.begin(), trials.end(), [](const TrialRow& t) {
    return t.state == static_cast<int>(TrialState::Failed);
  });
  return (all_failed ? "" : "no candidate completed: ") + failure_summary(trials, what);
}

std::string serving_key(const std::string& settings_json) {
  auto settings = parse_json(settings_json.empty() ? "{}" : settings_json, "spec.settings_json");
  if (settings && settings->is_object() && settings->contains("serving")) {
    return (*settings)["serving"].dump();
  }
  return "{}";
}

// The objects of a result's payload: {"name": value} of the metrics.
nlohmann::json metrics_object(const std::vector<std::unique_ptr<wire::MetricT>>& metrics) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& m : metrics) {
    if (m) out[m->name] = m->value;
  }
  return out;
}

}  // namespace

struct Controller::Study {
  StudyRow row;
  wire::StudySpecT spec;
  uint32_t parallelism = 1;
  uint32_t max_attempts = 1;
  std::unique_ptr<Proposer> proposer;
  uint32_t next_candidate = 0;
  bool has_baseline = false;  // candidate 0 is spec.baseline
  bool exhausted = false;
  bool wall_spent = false;        // max_wall_seconds passed: nothing new is proposed
  bool suggesting = false;        // a suggestion job is in flight
  std::map<uint32_t, int> open;   // candidate -> non-terminal trials
  std::set<uint32_t> failed;      // candidates with a failed trial
  std::set<uint32_t> skipped;     // candidates whose flash was skipped
  size_t complete = 0;            // candidates whose flash completed
  std::deque<uint64_t> ready[3];  // queued trial ids, by Role (stale ids are skipped)
  uint64_t seq = 0;               // last durable event seq
  int state() const { return row.state; }
};

struct Controller::Trial {
  TrialRow row;
  int64_t ready_ms = 0;  // when it was last queued (dispatch latency)
  Role role = Role::External;
  std::vector<std::string> objectives;
  float progress = 0;
  // Workers whose lease of this trial expired: other workers are preferred.
  std::set<std::string> expired_with;
};

struct Controller::Worker {
  std::string peer;
  std::string worker_id;
  std::string curve_key;  // the session's CURVE key; empty without CURVE
  Role role = Role::External;
  wire::HardwareT hardware;
  uint32_t slots = 1;
  std::vector<uint64_t> studies;
  uint32_t credits = 0;
  int64_t last_seen_ms = 0;
  int64_t last_sent_ms = 0;
  std::set<uint64_t> leased;
};

Controller::Controller(const Config& config, Store& store, BlobStore& blobs, Clock clock)
    : config_(config), store_(store), blobs_(blobs), now_(std::move(clock)) {}

Controller::~Controller() = default;

// ---------------------------------------------------------------------------
// Recovery

void Controller::reset_memory() {
  ++epoch_;  // results of suggestion jobs in flight are dropped
  studies_.clear();
  trials_.clear();
  for (auto& [peer, w] : workers_) w->leased.clear();
}

Status Controller::recover() {
  reset_memory();
  auto known_workers = store_.list_workers();
  if (!known_workers) return known_workers.status();
  for (const WorkerRow& row : known_workers.value()) {
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(row.hardware.data()),
                            row.hardware.size());
    if (!v.VerifyBuffer<wire::Hardware>(nullptr)) continue;
    const auto* hw = flatbuffers::GetRoot<wire::Hardware>(row.hardware.data());
    if (hw->fingerprint() && hw->fingerprint()->size() > 0) {
      fingerprints_by_tag_[hw->tag() ? hw->tag()->str() : ""].insert(hw->fingerprint()->str());
    }
  }
  auto rows = store_.active_studies();
  if (!rows) return rows.status();
  const int64_t now = now_();
  size_t trial_count = 0;
  for (const StudyRow& row : rows.value()) {
    Study* s = nullptr;
    try {
      s = load_study(row);
    } catch (const std::exception& e) {
      // A stored study never takes recovery down (issue #11).
      fail_unloadable(row.id, Status(Code::kInternal, e.what()));
    }
    if (s == nullptr) continue;
    auto seq = store_.max_event_seq(row.id);
    if (!seq) return seq.status();
    s->seq = seq.value();
    auto trials = store_.trials_of_study(row.id);
    if (!trials) return trials.status();
    std::set<uint32_t> seen_candidates;
    for (TrialRow& t : trials.value()) {
      s->next_candidate = std::max(s->next_candidate, t.candidate + 1);
      Params params = params_from_json(t.params_json);
      if (seen_candidates.insert(t.candidate).second) s->proposer->add_known(params);
      if (t.state == static_cast<int>(TrialState::Completed)) {
        s->proposer->observe(params, metrics_from_json(t.objectives_json));
        if (t.kind == static_cast<int>(TrialKind::Flash)) s->complete++;
        continue;
      }
      if (t.state == static_cast<int>(TrialState::Failed)) s->failed.insert(t.candidate);
      // In a study that is still active, a cancelled flash trial was skipped.
      if (t.state == static_cast<int>(TrialState::Cancelled) &&
          t.kind == static_cast<int>(TrialKind::Flash)) {
        s->skipped.insert(t.candidate);
      }
      if (t.state >= static_cast<int>(TrialState::Completed)) continue;
      auto trial = std::make_unique<Trial>();
      trial->row = std::move(t);
      TrialKind kind = static_cast<TrialKind>(trial->row.kind);
      trial->role = role_of(kind);
      trial->objectives = objectives_for(s->spec, kind);
      if (trial->row.state == static_cast<int>(TrialState::Leased)) {
        // Give running workers time to reconnect and say Hello again.
        trial->row.lease_expires_ms =
            std::max(trial->row.lease_expires_ms, now + static_cast<int64_t>(config_.lease_ms));
        if (Worker* w = session_of(trial->row.worker_id)) w->leased.insert(trial->row.id);
      } else {
        trial->ready_ms = now;
        s->ready[static_cast<int>(trial->role)].push_back(trial->row.id);
      }
      s->open[trial->row.candidate]++;
      ++trial_count;
      trials_.emplace(trial->row.id, std::move(trial));
    }
    // Candidates with no open trial are no longer pending for the proposer.
    std::set<uint32_t> finished;
    for (const TrialRow& t : trials.value()) {
      if (s->open.count(t.candidate) || !finished.insert(t.candidate).second) continue;
      Params params = params_from_json(t.params_json);
      if (s->failed.count(t.candidate) || s->skipped.count(t.candidate))
        s->proposer->observe_failure(params);
      else
        s->proposer->finish(params);
    }
    if (s->state() == static_cast<int>(StudyState::Queued)) {
      set_study_state(*s, static_cast<int>(StudyState::Exploring), "");
    }
    if (s->state() == static_cast<int>(StudyState::Selecting)) {
      select_for_regular(*s);  // it stopped between selecting and queueing
    }
    maybe_advance(*s);
  }
  LOG_INFO("recovered " << studies_.size() << " active studies, " << trial_count
                        << " active trials");
  return Status::ok();
}

void Controller::fail_unloadable(uint64_t study_id, const Status& why) {
  const std::string message = "the stored study cannot be loaded: " + why.to_string();
  LOG_ERROR("study " << study_id << ": " << message << "; marking it failed");
  store_.update_study(study_id, static_cast<int>(StudyState::Failed), message, now_());
}

Controller::Study* Controller::load_study(const StudyRow& row) {
  auto spec = unpack_spec(row.spec);
  if (!spec) {
    fail_unloadable(row.id, spec.status());
    return nullptr;
  }
  // Checked again: the row may predate today's checks, or be written by hand.
  if (Status s = validate_stored_spec(spec.value(), config_); !s) {
    fail_unloadable(row.id, s);
    return nullptr;
  }
  auto s = std::make_unique<Study>();
  s->row = row;
  s->spec = std::move(spec.value());
  s->parallelism = s->spec.parallelism ? s->spec.parallelism : config_.default_parallelism;
  s->max_attempts = s->spec.max_attempts ? s->spec.max_attempts : config_.max_attempts;
  s->has_baseline = !s->spec.baseline.empty();
  s->proposer = make_proposer(s->spec, row.id, warm_start_of(s->spec, row.created_ms));
  if (!s->proposer) {
    fail_unloadable(row.id, Status(Code::kInvalidArgument, "its design space cannot be searched"));
    return nullptr;
  }
  Study* raw = s.get();
  studies_[row.id] = std::move(s);
  return raw;
}

std::vector<PriorObservation> Controller::warm_start_of(const wire::StudySpecT& spec,
                                                        int64_t created_ms) {
  std::vector<PriorObservation> out;
  if (spec.warm_start_study == 0) return out;
  auto trials = store_.trials_of_study(spec.warm_start_study);
  if (!trials) {
    LOG_WARN("warm start: " << trials.status().to_string());
    return out;
  }
  // Per candidate, the objectives of its completed exploration trials that
  // finished before this study was created (the same set after a restart).
  std::map<uint32_t, PriorObservation> by_candidate;
  for (const TrialRow& t : trials.value()) {
    if (t.kind == static_cast<int>(TrialKind::Regular) ||
        t.state != static_cast<int>(TrialState::Completed) || t.updated_ms > created_ms) {
      continue;
    }
    PriorObservation& o = by_candidate[t.candidate];
    if (o.params.empty()) o.params = params_from_json(t.params_json);
    for (auto& [k, v] : metrics_from_json(t.objectives_json)) o.values[k] = v;
  }
  for (auto& [candidate, o] : by_candidate) out.push_back(std::move(o));
  return out;
}

Result<std::optional<wire::StudySpecT>> Controller::find_visible_spec(uint64_t id) {
  auto row = store_.get_study(id);
  if (!row) return row.status();
  if (!row.value() || !visible(*row.value())) return std::optional<wire::StudySpecT>();
  auto spec = unpack_spec(row.value()->spec);
  if (!spec) return spec.status();
  return std::optional<wire::StudySpecT>(std::move(spec.value()));
}

uint32_t Controller::explored(const Study& s) const {
  return s.next_candidate - (s.has_baseline && s.next_candidate > 0 ? 1 : 0);
}

// ---------------------------------------------------------------------------
// Inbound

bool Controller::visible(const StudyRow& row) const {
  return caller_.empty() || row.owner == caller_ || admin_keys_.count(caller_) > 0;
}

bool Controller::admit(Endpoint ep, const std::string& peer, int64_t now) {
  if (config_.max_messages_per_second == 0) return true;
  const double rate = config_.max_messages_per_second;
  auto [it, fresh] = buckets_.try_emplace({static_cast<int>(ep), peer});
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = 2 * rate;
    b.refilled_ms = now;
  }
  b.tokens = std::min(2 * rate, b.tokens + rate * static_cast<double>(now - b.refilled_ms) / 1000);
  b.refilled_ms = now;
  if (b.tokens < 1) {
    if (now - b.last_refusal_ms >= 1000) {
      b.last_refusal_ms = now;
      LOG_WARN("rate limit: a " << (ep == Endpoint::kWorker ? "worker" : "client")
                                << " connection exceeds " << rate << " messages/s");
    }
    return false;
  }
  b.tokens -= 1;
  return true;
}

void Controller::on_message(Endpoint endpoint, const std::string& peer, const void* data,
                            size_t size, const std::string& user) {
  caller_ = user;
  (endpoint == Endpoint::kWorker ? metrics_.messages_worker : metrics_.messages_client)++;
  auto env = wire::decode(data, size);
  if (!env) {
    metrics_.bad_messages++;
    LOG_WARN((endpoint == Endpoint::kWorker ? "worker" : "client")
             << " peer sent a bad message (" << size << " bytes): " << env.status().to_string());
    reply_error(endpoint, peer, 0, env.status());
    return;
  }
  if (!admit(endpoint, peer, now_())) {
    metrics_.rate_limited++;
    return reply_error(endpoint, peer, env->request_id,
                       Status(Code::kResourceExhausted,
                              "rate limit of " + std::to_string(config_.max_messages_per_second) +
                                  " messages/s exceeded; slow down",
                              "rate"));
  }
  if (endpoint == Endpoint::kWorker) {
    on_worker(peer, env.value());
  } else {
    on_client(peer, env.value());
  }
}

void Controller::on_worker(const std::string& peer, wire::EnvelopeT& env) {
  const uint64_t rid = env.request_id;
  switch (env.body.type) {
    case Message::Hello:
      return on_hello(peer, rid, *env.body.AsHello());
    case Message::BlobGet:
    case Message::BlobPut:
    case Message::BlobStat:
      return on_blob(Endpoint::kWorker, peer, rid, env);
    default:
      break;
  }
  auto it = workers_.find(peer);
  if (it == workers_.end()) {
    reply_error(Endpoint::kWorker, peer, rid,
                Status(Code::kUnknownPeer, "no session: send Hello first"));
    return;
  }
  Worker& w = *it->second;
  w.last_seen_ms = now_();
  switch (env.body.type) {
    case Message::Pull:
      return on_pull(w, *env.body.AsPull());
    case Message::Heartbeat:
      return on_heartbeat(w, *env.body.AsHeartbeat());
    case Message::Result:
      return on_result(w, rid, *env.body.AsResult());
    case Message::Failure:
      return on_failure(w, rid, *env.body.AsFailure());
    case Message::Bye:
      return on_bye(peer, *env.body.AsBye());
    default:
      reply_error(Endpoint::kWorker, peer, rid,
                  Status(Code::kInvalidArgument,
                         std::string(wire::message_name(env.body.type)) +
                             " is not a worker-protocol request",
                         "body"));
  }
}

void Controller::on_client(const std::string& peer, wire::EnvelopeT& env) {
  const uint64_t rid = env.request_id;
  switch (env.body.type) {
    case Message::Submit:
      return on_submit(peer, rid, *env.body.AsSubmit());
    case Message::GetStudy:
      return on_get(peer, rid, *env.body.AsGetStudy());
    case Message::ListStudies:
      return on_list(peer, rid, *env.body.AsListStudies());
    case Message::Watch:
      return on_watch(peer, rid, *env.body.AsWatch());
    case Message::CancelStudy:
      return on_cancel(peer, rid, *env.body.AsCancelStudy());
    case Message::ListWorkers:
      return on_list_workers(peer, rid);
    case Message::BlobGet:
    case Message::BlobPut:
    case Message::BlobStat:
      return on_blob(Endpoint::kClient, peer, rid, env);
    default:
      reply_error(Endpoint::kClient, peer, rid,
                  Status(Code::kInvalidArgument,
                         std::string(wire::message_name(env.body.type)) +
                             " is not a client-protocol request",
                         "body"));
  }
}

// --- worker protocol

void Controller::on_hello(const std::string& peer, uint64_t rid, wire::HelloT& hello) {
  note_request(Endpoint::kWorker, peer, rid);
  auto reject = [&](Status status) {
    LOG_WARN("rejecting worker \"" << hello.worker_id << "\": " << status.to_string());
    wire::RejectT r;
    r.error = std::make_unique<wire::ErrorT>(wire::to_wire(status));
    send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(r)));
  };
  if (shutting_down_) return reject(Status(Code::kUnavailable, "daemon is shutting down"));
  if (hello.worker_id.empty() || hello.worker_id.size() > 256) {
    return reject(
        Status(Code::kInvalidArgument, "worker_id must be 1..256 characters", "worker_id"));
  }
  if (hello.role > Role::MAX || hello.role < Role::MIN) {
    return reject(Status(Code::kInvalidArgument, "unknown role", "role"));
  }
  if (hello.slots == 0 || hello.slots > kMaxSlots) {
    return reject(Status(Code::kInvalidArgument, "slots must be 1..1024", "slots"));
  }
  if (hello.hardware) {
    if (Status s = wire::check_hardware_tag(hello.hardware->tag, "hardware.tag"); !s) {
      return reject(s);
    }
  }
  if (hello.role == Role::External && hello.studies.empty()) {
    return reject(
        Status(Code::kInvalidArgument, "an external worker must name its studies", "studies"));
  }
  // An External worker's studies: each must exist, and one must still run
  // unless the worker has reports to deliver (`running`).
  Status ended;
  bool any_active = false;
  for (size_t i = 0; i < hello.studies.size(); ++i) {
    const std::string field = "studies[" + std::to_string(i) + "]";
    const uint64_t id = hello.studies[i];
    int state = -1;
    if (auto live = studies_.find(id); live != studies_.end()) {
      state = live->second->state();
    } else if (auto row = store_.get_study(id); !row) {
      return reject(row.status());
    } else if (row.value()) {
      state = row.value()->state;
    }
    if (state < 0) return reject(Status(Code::kNotFound, "no study " + std::to_string(id), field));
    if (!is_terminal(state)) {
      any_active = true;
    } else if (ended) {
      ended = Status(Code::kFailedPrecondition,
                     "study " + std::to_string(id) + " already " + study_state_name(state) +
                         (hello.studies.size() > 1 ? ", as every study this worker names" : ""),
                     field);
    }
  }
  if (!any_active && !ended && hello.running.empty()) return reject(ended);
  // Under CURVE a worker_id belongs to the key of its first Hello: another
  // key cannot take over its session or its leases.
  if (!caller_.empty()) {
    auto known = store_.get_worker(hello.worker_id);
    if (!known) return reject(known.status());
    if (known.value() && !known.value()->curve_key.empty() && known.value()->curve_key != caller_) {
      return reject(Status(Code::kPermissionDenied,
                           "worker_id \"" + hello.worker_id +
                               "\" belongs to another CURVE key; choose another worker_id",
                           "worker_id"));
    }
  }
  // A reconnecting worker replaces its old session; its leases stay. A
  // connection that had a session (maybe under another worker_id) ends it.
  end_session(peer);
  if (auto old = peer_of_worker_.find(hello.worker_id); old != peer_of_worker_.end()) {
    end_session(old->second);
  }
  auto w = std::make_unique<Worker>();
  w->peer = peer;
  w->worker_id = hello.worker_id;
  w->curve_key = caller_;
  w->role = hello.role;
  if (hello.hardware) w->hardware = *hello.hardware;
  w->slots = hello.slots;
  w->studies = hello.studies;
  w->last_seen_ms = now_();
  const int64_t lease_until = w->last_seen_ms + config_.lease_ms;
  for (const auto& ref : hello.running) {
    if (!ref) continue;
    // Only the worker's own leases: a Hello cannot claim another's trial.
    auto t = trials_.find(ref->trial_id);
    if (t == trials_.end() || t->second->row.state != static_cast<int>(TrialState::Leased) ||
        t->second->row.attempt != ref->attempt || t->second->row.worker_id != hello.worker_id) {
      continue;
    }
    t->second->row.lease_expires_ms = std::max(t->second->row.lease_expires_ms, lease_until);
    w->leased.insert(ref->trial_id);
  }
  WorkerRow row;
  row.worker_id = w->worker_id;
  row.role = static_cast<int>(w->role);
  {
    flatbuffers::FlatBufferBuilder b;
    b.Finish(wire::Hardware::Pack(b, &w->hardware));
    row.hardware.assign(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  }
  row.slots = w->slots;
  row.studies_json = nlohmann::json(w->studies).dump();
  row.first_seen_ms = row.last_seen_ms = w->last_seen_ms;
  row.curve_key = caller_;
  store_.upsert_worker(row);
  LOG_INFO("worker \"" << w->worker_id << "\" joined (role " << wire::EnumNameRole(w->role)
                       << ", tag \"" << w->hardware.tag << "\", " << w->slots << " slots, "
                       << w->leased.size() << " running trials kept)");
  if (!w->hardware.fingerprint.empty()) {
    fingerprints_by_tag_[w->hardware.tag].insert(w->hardware.fingerprint);
  }
  peer_of_worker_[w->worker_id] = peer;
  workers_[peer] = std::move(w);

  wire::WelcomeT welcome;
  welcome.heartbeat_interval_ms = config_.heartbeat_interval_ms;
  welcome.liveness = config_.liveness;
  welcome.lease_ms = config_.lease_ms;
  welcome.max_chunk_bytes = config_.max_chunk_bytes;
  welcome.daemon_version = kDaemonVersion;
  send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(welcome)));
}

void Controller::on_pull(Worker& w, const wire::PullT& pull) {
  // Credit never exceeds the worker's slots, so one connection cannot hoard
  // the queue. (Not slots minus running trials: after a reconnect a Pull may
  // overtake the re-sent Results that free those slots, and the credit it
  // carried would be lost.)
  w.credits = std::min<uint32_t>(w.slots, w.credits + pull.credits);
}

void Controller::on_heartbeat(Worker& w, const wire::HeartbeatT& hb) {
  const int64_t now = now_();
  for (const auto& p : hb.progress) {
    if (!p) continue;
    auto it = trials_.find(p->trial_id);
    if (it == trials_.end()) continue;
    Trial& t = *it->second;
    if (t.row.state != static_cast<int>(TrialState::Leased) || t.row.attempt != p->attempt ||
        t.row.worker_id != w.worker_id) {
      continue;
    }
    t.row.lease_expires_ms = now + config_.lease_ms;
    t.progress = std::clamp(p->fraction, 0.0f, 1.0f);
    auto s = studies_.find(t.row.study_id);
    if (s == studies_.end() || !watchers_.count(t.row.study_id)) continue;
    wire::EventT e;  // progress is streamed to watchers, not stored
    e.study_id = t.row.study_id;
    e.seq = s->second->seq;
    e.time_ms = now;
    e.kind = "trial_progress";
    e.trial_id = t.row.id;
    e.attempt = t.row.attempt;
    e.message = p->message;
    e.fraction = t.progress;
    batch_events_[t.row.study_id].push_back(std::move(e));
  }
}

Status Controller::may_report(const Worker& w, uint64_t trial_id, uint32_t attempt) {
  const std::string what =
      "trial " + std::to_string(trial_id) + " attempt " + std::to_string(attempt);
  int kind = 0;
  auto live = trials_.find(trial_id);
  if (live != trials_.end()) {
    kind = live->second->row.kind;
  } else {
    auto row = store_.get_trial(trial_id);
    if (!row) return row.status();
    if (!row.value()) {
      return Status(Code::kNotFound, "no trial " + std::to_string(trial_id), "trial_id");
    }
    kind = row.value()->kind;
  }
  const TrialKind trial_kind = static_cast<TrialKind>(kind);
  if (role_of(trial_kind) != w.role) {
    return Status(Code::kPermissionDenied,
                  std::string("a ") + wire::EnumNameRole(w.role) + " worker cannot report " + what +
                      ", a " + wire::EnumNameTrialKind(trial_kind) + " trial",
                  "trial_id");
  }
  // The session holding the current attempt's lease.
  if (live != trials_.end() && attempt == live->second->row.attempt &&
      live->second->row.state == static_cast<int>(TrialState::Leased) &&
      live->second->row.worker_id == w.worker_id) {
    return Status::ok();
  }
  // The worker that held that (earlier) attempt: a late report.
  if (live == trials_.end() || attempt < live->second->row.attempt) {
    auto holder = store_.lease_holder(trial_id, attempt);
    if (!holder) return holder.status();
    if (holder.value() && *holder.value() == w.worker_id) return Status::ok();
    return Status(Code::kPermissionDenied,
                  what + " was " +
                      (holder.value() ? "leased to another worker" : std::string("never leased")) +
                      ", not to \"" + w.worker_id + "\"",
                  "attempt");
  }
  return Status(Code::kPermissionDenied,
                what + " is not leased to \"" + w.worker_id + "\"" +
                    (attempt > live->second->row.attempt ? " (that attempt was never leased)" : ""),
                "attempt");
}

void Controller::refuse_report(const Worker& w, uint64_t rid, const char* what, const Status& why) {
  metrics_.reports_refused++;
  LOG_WARN("refused a " << what << " from worker \"" << w.worker_id << "\": " << why.to_string());
  reply_error(Endpoint::kWorker, w.peer, rid, why);
}

void Controller::on_result(Worker& w, uint64_t rid, const wire::ResultT& result) {
  const std::string peer = w.peer;
  note_request(Endpoint::kWorker, peer, rid);
  if (Status allowed = may_report(w, result.trial_id, result.attempt); !allowed) {
    return refuse_report(w, rid, "result", allowed);
  }
  auto ack = [&] {
    wire::AckT a;
    a.trial_id = result.trial_id;
    a.attempt = result.attempt;
    send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(a)));
  };
  // The worker delivers again: its run of lease expiries is over.
  if (auto p = penalties_.find(w.worker_id); p != penalties_.end()) p->second.expiries = 0;
  nlohmann::json payload = {{"objectives", metrics_object(result.objectives)},
                            {"metrics", metrics_object(result.metrics)},
                            {"fingerprint", result.hardware_fingerprint},
                            {"elapsed_ms", result.elapsed_ms}};
  auto it = trials_.find(result.trial_id);
  if (it == trials_.end()) {
    // Finished or cancelled: kept for the record (once), not counted; the
    // worker held that attempt (may_report), so its outbox may drain.
    store_.insert_result(result.trial_id, result.attempt, "late_result", payload.dump(), now_());
    return ack();
  }
  Trial& t = *it->second;
  if (!store_.insert_result(t.row.id, result.attempt, "result", payload.dump(), now_())) {
    return ack();  // already recorded: a redelivery
  }
  metrics_.results++;
  // A late result from an earlier attempt still counts (once): stop the
  // attempt that is running now.
  if (result.attempt != t.row.attempt && t.row.state == static_cast<int>(TrialState::Leased)) {
    if (const Worker* holder = session_of(t.row.worker_id)) {
      wire::CancelT c;
      c.trial_id = t.row.id;
      c.attempt = t.row.attempt;
      c.reason = "a result for attempt " + std::to_string(result.attempt) + " arrived first";
      send(Endpoint::kWorker, holder->peer, wire::encode_message(0, std::move(c)));
    }
  }
  std::map<std::string, double> objectives;
  for (const auto& m : result.objectives) {
    if (m) objectives[m->name] = m->value;
  }
  Status problem;
  for (const std::string& name : t.objectives) {
    auto o = objectives.find(name);
    if (o == objectives.end())
      problem = Status(Code::kTrialError, "result lacks objective \"" + name + "\"", "objectives");
    else if (!std::isfinite(o->second))
      problem = Status(Code::kTrialError, "objective \"" + name + "\" is not finite", "objectives");
    if (!problem) break;
  }
  nlohmann::json artifacts = nlohmann::json::array();
  std::vector<DeliveredFile> delivered;
  for (const auto& a : result.artifacts) {
    if (!a || !problem) continue;
    auto size = blobs_.size_of(a->digest);
    if (!size) {
      problem =
          Status(Code::kTrialError,
                 "artifact \"" + a->name + "\" names blob " + a->digest + " that was not uploaded",
                 "artifacts." + a->name);
    } else if (size.value() != a->size) {
      problem = Status(Code::kTrialError,
                       "artifact \"" + a->name + "\" is announced as " + std::to_string(a->size) +
                           " bytes; its blob has " + std::to_string(size.value()),
                       "artifacts." + a->name);
    }
    artifacts.push_back({{"name", a->name}, {"digest", a->digest}, {"size", a->size}});
    delivered.push_back(DeliveredFile{a->name, a->digest, a->size, blobs_.path_of(a->digest)});
  }
  // What a Regular trial delivers is the study's student: checked first.
  if (problem && t.row.kind == static_cast<int>(TrialKind::Regular)) {
    problem = check_student_artifacts(delivered);
  }
  if (!problem) {
    LOG_WARN("trial " << t.row.id << " attempt " << result.attempt << " from worker \""
                      << w.worker_id << "\": " << problem.to_string());
    t.row.error_code = static_cast<int>(problem.code());
    t.row.error_message = problem.message();
    t.row.error_field = problem.field();
    finish_trial(t, static_cast<int>(TrialState::Failed));
    return ack();
  }
  t.row.attempt = result.attempt;
  t.row.objectives_json = metrics_to_json(objectives);
  t.row.metrics_json = metrics_json(result.metrics);
  t.row.artifacts_json = artifacts.dump();
  t.row.fingerprint = result.hardware_fingerprint;
  t.progress = 1;
  if (auto s = studies_.find(t.row.study_id); s != studies_.end()) {
    Params params = params_from_json(t.row.params_json);
    s->second->proposer->observe(params, objectives);
    if (t.row.kind == static_cast<int>(TrialKind::Probe) && !t.row.fingerprint.empty()) {
      ProbeRow probe;
      probe.arch = arch_key(params);
      probe.serving = serving_key(s->second->spec.settings_json);
      probe.fingerprint = t.row.fingerprint;
      probe.objectives_json = t.row.objectives_json;
      probe.metrics_json = t.row.metrics_json;
      probe.trial_id = t.row.id;
      probe.created_ms = now_();
      store_.put_probe(probe);
    }
  }
  finish_trial(t, static_cast<int>(TrialState::Completed));
  ack();
}

void Controller::on_failure(Worker& w, uint64_t rid, const wire::FailureT& failure) {
  const std::string peer = w.peer;
  note_request(Endpoint::kWorker, peer, rid);
  if (Status allowed = may_report(w, failure.trial_id, failure.attempt); !allowed) {
    return refuse_report(w, rid, "failure", allowed);
  }
  Status error = wire::from_wire(failure.error.get());
  nlohmann::json payload = {{"code", static_cast<int>(error.code())},
                            {"message", error.message()},
                            {"field", error.field()},
                            {"retryable", failure.retryable}};
  bool fresh =
      store_.insert_result(failure.trial_id, failure.attempt, "failure", payload.dump(), now_());
  auto it = trials_.find(failure.trial_id);
  if (fresh && it != trials_.end() && it->second->row.attempt == failure.attempt) {
    Trial& t = *it->second;
    t.row.error_code = static_cast<int>(error.code());
    t.row.error_message = error.message();
    t.row.error_field = error.field();
    requeue_or_fail(t, "worker reported: " + error.to_string(), failure.retryable);
  }
  wire::AckT a;
  a.trial_id = failure.trial_id;
  a.attempt = failure.attempt;
  send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(a)));
}

void Controller::on_bye(const std::string& peer, const wire::ByeT& bye) {
  auto it = workers_.find(peer);
  if (it == workers_.end()) return;
  std::vector<uint64_t> leased(it->second->leased.begin(), it->second->leased.end());
  for (uint64_t id : leased) {
    auto t = trials_.find(id);
    if (t != trials_.end()) requeue_or_fail(*t->second, "worker left", true);
  }
  drop_worker(peer, "said Bye (" + bye.reason + ")");
}

// --- client protocol

void Controller::on_submit(const std::string& peer, uint64_t rid, wire::SubmitT& submit) {
  note_request(Endpoint::kClient, peer, rid);
  auto fail = [&](Status s) { reply_error(Endpoint::kClient, peer, rid, s); };
  if (shutting_down_) return fail(Status(Code::kUnavailable, "daemon is shutting down"));
  if (!submit.spec) return fail(Status(Code::kInvalidArgument, "missing spec", "spec"));
  if (submit.idempotency_key.size() > 256) {
    return fail(Status(Code::kInvalidArgument, "longer than 256 characters", "idempotency_key"));
  }
  const std::string packed = pack_spec(*submit.spec);
  if (!submit.idempotency_key.empty()) {
    auto existing = store_.find_study_by_key(submit.idempotency_key);
    if (!existing) return fail(existing.status());
    if (existing.value()) {
      if (!visible(*existing.value())) {
        return fail(Status(Code::kAlreadyExists,
                           "idempotency key is used by another client's study", "idempotency_key"));
      }
      if (existing.value()->spec != packed) {
        return fail(Status(Code::kAlreadyExists,
                           "idempotency key already names study " +
                               std::to_string(existing.value()->id) + " with a different spec",
                           "idempotency_key"));
      }
      auto info = study_info(*existing.value(), nullptr);
      if (!info) return fail(info.status());
      wire::StudyReplyT reply;
      reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
      reply.created = false;
      return send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
    }
  }
  if (studies_.size() >= config_.max_active_studies) {
    return fail(Status(Code::kResourceExhausted,
                       "the daemon already runs " + std::to_string(studies_.size()) +
                           " studies (max_active_studies); retry when one finishes",
                       "spec"));
  }
  Status valid = validate_spec(
      *submit.spec, config_, [this](const std::string& d) { return blobs_.contains(d); },
      [this](uint64_t id) { return find_visible_spec(id); });
  if (!valid) return fail(valid);

  StudyRow row;
  row.idempotency_key = submit.idempotency_key;
  row.spec = packed;
  row.state = static_cast<int>(StudyState::Queued);
  row.created_ms = row.updated_ms = now_();
  row.owner = caller_;
  row.id = store_.insert_study(row);
  if (row.id == 0) return;  // the store failed: commit() answers this request
  Study* s = load_study(row);
  if (s == nullptr) return;
  event(*s, "study_state", 0, 0, "Queued");
  set_study_state(*s, static_cast<int>(StudyState::Exploring), "");
  if (s->has_baseline) {
    // Candidate 0, outside the max_trials budget, evaluated first.
    Params baseline = baseline_params(s->spec);
    s->proposer->add_known(baseline);
    add_candidate(*s, std::move(baseline));
  }
  refill(*s);
  maybe_advance(*s);
  LOG_INFO("study " << row.id << " \"" << s->spec.name << "\" submitted ("
                    << wire::EnumNameStudyKind(s->spec.kind) << ", " << s->spec.max_trials
                    << " candidates)");
  auto info = study_info(s->row, nullptr);
  if (!info) return fail(info.status());
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
  reply.created = true;
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_get(const std::string& peer, uint64_t rid, const wire::GetStudyT& get) {
  note_request(Endpoint::kClient, peer, rid);
  auto row = store_.get_study(get.study_id);
  if (!row) return reply_error(Endpoint::kClient, peer, rid, row.status());
  if (!row.value() || !visible(*row.value())) {
    return reply_error(
        Endpoint::kClient, peer, rid,
        Status(Code::kNotFound, "no study " + std::to_string(get.study_id), "study_id"));
  }
  auto trials = store_.trials_of_study(get.study_id);
  if (!trials) return reply_error(Endpoint::kClient, peer, rid, trials.status());
  auto info = study_info(*row.value(), &trials.value());
  if (!info) return reply_error(Endpoint::kClient, peer, rid, info.status());
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
  if (get.include_trials) {
    for (const TrialRow& t : trials.value()) {
      reply.trials.push_back(std::make_unique<wire::TrialInfoT>(trial_info(t)));
    }
  }
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_list(const std::string& peer, uint64_t rid, const wire::ListStudiesT& list) {
  note_request(Endpoint::kClient, peer, rid);
  auto rows = store_.list_studies(list.limit);
  if (!rows) return reply_error(Endpoint::kClient, peer, rid, rows.status());
  wire::StudyListT reply;
  for (const StudyRow& row : rows.value()) {
    if (!visible(row)) continue;
    auto info = study_info(row, nullptr);
    if (!info) return reply_error(Endpoint::kClient, peer, rid, info.status());
    reply.studies.push_back(std::make_unique<wire::StudyInfoT>(std::move(info.value())));
  }
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_watch(const std::string& peer, uint64_t rid, const wire::WatchT& watch) {
  note_request(Endpoint::kClient, peer, rid);
  auto row = store_.get_study(watch.study_id);
  if (!row) return reply_error(Endpoint::kClient, peer, rid, row.status());
  if (!row.value() || !visible(*row.value())) {
    return reply_error(
        Endpoint::kClient, peer, rid,
        Status(Code::kNotFound, "no study " + std::to_string(watch.study_id), "study_id"));
  }
  uint64_t after = watch.after_seq;
  const bool terminal = is_terminal(row.value()->state) && !studies_.count(watch.study_id);
  while (true) {
    auto events = store_.events_after(watch.study_id, after, kReplayBatch);
    if (!events) return reply_error(Endpoint::kClient, peer, rid, events.status());
    wire::EventBatchT batch;
    for (const EventRow& e : events.value()) {
      auto out = std::make_unique<wire::EventT>();
      out->study_id = e.study_id;
      out->seq = e.seq;
      out->time_ms = e.time_ms;
      out->kind = e.kind;
      out->trial_id = e.trial_id;
      out->attempt = e.attempt;
      out->message = e.message;
      after = e.seq;
      batch.events.push_back(std::move(out));
    }
    const bool last = events.value().size() < kReplayBatch;
    batch.end = last && terminal;
    if (!batch.events.empty() || batch.end) {
      send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(batch)));
    }
    if (last) break;
  }
  if (!terminal) {
    auto& list = watchers_[watch.study_id];
    list.erase(
        std::remove_if(list.begin(), list.end(), [&](const Watcher& w) { return w.peer == peer; }),
        list.end());
    list.push_back(Watcher{peer, rid});
    // Events of this batch not yet replayed are streamed by flush_events().
    watcher_seq_[{watch.study_id, peer}] = after;
  }
}

void Controller::on_cancel(const std::string& peer, uint64_t rid,
                           const wire::CancelStudyT& cancel) {
  note_request(Endpoint::kClient, peer, rid);
  auto it = studies_.find(cancel.study_id);
  if (it != studies_.end() && !visible(it->second->row)) it = studies_.end();
  if (it == studies_.end() || is_terminal(it->second->state())) {
    auto row = store_.get_study(cancel.study_id);
    if (!row) return reply_error(Endpoint::kClient, peer, rid, row.status());
    if (!row.value() || !visible(*row.value())) {
      return reply_error(
          Endpoint::kClient, peer, rid,
          Status(Code::kNotFound, "no study " + std::to_string(cancel.study_id), "study_id"));
    }
    return reply_error(
        Endpoint::kClient, peer, rid,
        Status(Code::kFailedPrecondition,
               std::string("study already ") + study_state_name(row.value()->state), "study_id"));
  }
  cancel_study(*it->second, cancel.reason.empty() ? "cancelled by client" : cancel.reason);
  auto info = study_info(it->second->row, nullptr);
  if (!info) return reply_error(Endpoint::kClient, peer, rid, info.status());
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_list_workers(const std::string& peer, uint64_t rid) {
  note_request(Endpoint::kClient, peer, rid);
  auto rows = store_.list_workers();
  if (!rows) return reply_error(Endpoint::kClient, peer, rid, rows.status());
  wire::WorkerListT reply;
  for (const WorkerRow& row : rows.value()) {
    auto info = std::make_unique<wire::WorkerInfoT>();
    info->worker_id = row.worker_id;
    info->role = static_cast<Role>(row.role);
    info->slots = row.slots;
    info->last_seen_ms = row.last_seen_ms;
    if (auto studies = parse_json(row.studies_json, "studies"); studies && studies->is_array()) {
      for (const auto& id : studies.value()) {
        if (id.is_number_unsigned()) info->studies.push_back(id.get<uint64_t>());
      }
    }
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(row.hardware.data()),
                            row.hardware.size());
    if (v.VerifyBuffer<wire::Hardware>(nullptr)) {
      info->hardware = std::make_unique<wire::HardwareT>();
      flatbuffers::GetRoot<wire::Hardware>(row.hardware.data())->UnPackTo(info->hardware.get());
    }
    if (const Worker* w = session_of(row.worker_id)) {
      info->connected = true;
      info->last_seen_ms = w->last_seen_ms;
      for (uint64_t id : w->leased) {
        auto ref = std::make_unique<wire::TrialRefT>();
        ref->trial_id = id;
        auto t = trials_.find(id);
        ref->attempt = t == trials_.end() ? 0 : t->second->row.attempt;
        info->running.push_back(std::move(ref));
      }
    }
    reply.workers.push_back(std::move(info));
  }
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_blob(Endpoint ep, const std::string& peer, uint64_t rid, wire::EnvelopeT& env) {
  note_request(ep, peer, rid);
  if (auto* stat = env.body.AsBlobStat()) {
    if (!wire::is_valid_digest(stat->digest)) {
      return reply_error(ep, peer, rid,
                         Status(Code::kInvalidArgument, "not a sha256 hex digest", "digest"));
    }
    wire::BlobPutAckT ack;
    ack.digest = stat->digest;
    ack.complete = blobs_.contains(stat->digest);
    ack.next_offset = ack.complete ? 0 : blobs_.partial_size(stat->digest);
    return send(ep, peer, wire::encode_message(rid, std::move(ack)));
  }
  if (auto* put = env.body.AsBlobPut()) {
    if (put->data.size() > config_.max_chunk_bytes) {
      return reply_error(
          ep, peer, rid,
          Status(Code::kResourceExhausted,
                 "chunk exceeds max_chunk_bytes " + std::to_string(config_.max_chunk_bytes),
                 "data"));
    }
    wire::BlobPutAckT ack;
    ack.digest = put->digest;
    if (blobs_.contains(put->digest)) {
      ack.complete = true;
      return send(ep, peer, wire::encode_message(rid, std::move(ack)));
    }
    if (uint64_t free_bytes = blobs_.free_bytes();
        put->total_size > put->offset &&
        free_bytes < (put->total_size - put->offset) + config_.min_free_disk_bytes) {
      return reply_error(
          ep, peer, rid,
          Status(Code::kResourceExhausted,
                 "not enough free disk for " + std::to_string(put->total_size - put->offset) +
                     " more bytes (" + std::to_string(free_bytes) + " free, min_free_disk_bytes " +
                     std::to_string(config_.min_free_disk_bytes) + " kept)",
                 "total_size"));
    }
    bool published = false;
    metrics_.blob_bytes_in += put->data.size();
    Status s = blobs_.append(put->digest, put->offset, put->total_size, put->data, &published);
    if (!s) return reply_error(ep, peer, rid, s);
    if (published) {
      store_.insert_blob(put->digest, put->total_size, now_());
      LOG_INFO("blob " << put->digest.substr(0, 12) << " stored (" << put->total_size << " bytes)");
    }
    ack.next_offset = put->offset + put->data.size();
    ack.complete = published;
    return send(ep, peer, wire::encode_message(rid, std::move(ack)));
  }
  if (auto* get = env.body.AsBlobGet()) {
    wire::BlobChunkT chunk;
    chunk.digest = get->digest;
    chunk.offset = get->offset;
    uint32_t length =
        std::min(get->length ? get->length : config_.max_chunk_bytes, config_.max_chunk_bytes);
    Status s = blobs_.read(get->digest, get->offset, length, &chunk.data, &chunk.total_size);
    if (!s) return reply_error(ep, peer, rid, s);
    metrics_.blob_bytes_out += chunk.data.size();
    return send(ep, peer, wire::encode_message(rid, std::move(chunk)));
  }
}

// ---------------------------------------------------------------------------
// State machine

void Controller::refill(Study& s) {
  if (s.state() != static_cast<int>(StudyState::Exploring) || shutting_down_ || s.suggesting) {
    return;
  }
  if (!s.wall_spent && s.spec.max_wall_seconds > 0 &&
      now_() - s.row.created_ms >= int64_t{1000} * s.spec.max_wall_seconds) {
    s.wall_spent = true;
    event(s, "wall_budget_spent", 0, 0,
          "max_wall_seconds " + std::to_string(s.spec.max_wall_seconds) + " passed after " +
              std::to_string(explored(s)) + " candidates; no new candidates");
    LOG_INFO("study " << s.row.id << ": max_wall_seconds passed; exploration stops proposing");
  }
  if (s.exhausted || s.wall_spent || s.open.size() >= s.parallelism ||
      explored(s) >= s.spec.max_trials) {
    return;
  }
  const size_t want =
      std::min<size_t>(s.parallelism - s.open.size(), s.spec.max_trials - explored(s));
  s.suggesting = true;
  ++suggestions_in_flight_;
  auto seconds = std::make_shared<double>(0.0);
  SuggestJob job = [inner = s.proposer->prepare(want, cancel_suggestions_), seconds] {
    const auto started = std::chrono::steady_clock::now();
    std::vector<Params> out = inner();
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  };
  auto deliver = [this, id = s.row.id, epoch = epoch_, seconds](std::vector<Params> proposals) {
    --suggestions_in_flight_;
    metrics_.suggestion.observe(*seconds);
    on_suggestions(id, epoch, std::move(proposals));
  };
  if (runner_) {
    runner_(std::move(job), std::move(deliver));
  } else {
    deliver(job());
  }
}

void Controller::on_suggestions(uint64_t study_id, uint64_t epoch, std::vector<Params> proposals) {
  if (epoch != epoch_) return;
  auto it = studies_.find(study_id);
  if (it == studies_.end()) return;
  Study& s = *it->second;
  // Cancelled, ended or shutting down meanwhile: nothing was stored, so
  // nothing is lost (after a restart the study suggests again).
  if (s.state() != static_cast<int>(StudyState::Exploring) || shutting_down_) {
    s.suggesting = false;
    return;
  }
  if (proposals.empty()) {
    s.exhausted = true;
    LOG_INFO("study " << s.row.id << ": the design space is exhausted after " << explored(s)
                      << " candidates");
  }
  // Pending for the proposer before any is added: a cached probe can finish
  // a candidate at once, and the next suggestion must see all of them.
  for (const Params& p : proposals) s.proposer->add_known(p);
  for (Params& p : proposals) add_candidate(s, std::move(p));
  s.suggesting = false;
  maybe_advance(s);
}

void Controller::add_candidate(Study& s, Params params) {
  const uint32_t candidate = s.next_candidate++;
  const std::string params_json = params_to_json(params);
  const std::string note = s.has_baseline && candidate == 0 ? " baseline" : "";
  if (s.spec.kind == StudyKind::External) {
    queue_trial(s, candidate, TrialKind::External, params_json, note);
  } else if (!study_uses(s.spec, TrialKind::Probe)) {
    if (study_uses(s.spec, TrialKind::Flash)) {
      queue_trial(s, candidate, TrialKind::Flash, params_json, note);
    }
  } else if (std::map<std::string, double> cached;
             complete_from_cache(s, candidate, params, params_json, &cached)) {
    after_probe(s, candidate, params, cached);  // probe first: here from the cache
  } else {
    queue_trial(s, candidate, TrialKind::Probe, params_json, note);
  }
  if (!s.open.count(candidate)) {
    // Nothing left to run (a cached probe and no flash).
    if (s.skipped.count(candidate))
      s.proposer->observe_failure(params);
    else
      s.proposer->finish(params);
  }
}

bool Controller::queue_trial(Study& s, uint32_t candidate, TrialKind kind,
                             const std::string& params_json, const std::string& note) {
  auto t = std::make_unique<Trial>();
  t->row.study_id = s.row.id;
  t->row.candidate = candidate;
  t->row.kind = static_cast<int>(kind);
  t->row.state = static_cast<int>(TrialState::Queued);
  t->row.attempt = 1;
  t->row.params_json = params_json;
  t->row.updated_ms = now_();
  t->row.id = store_.insert_trial(t->row);
  if (t->row.id == 0) return false;  // the batch fails at commit
  t->role = role_of(kind);
  t->objectives = objectives_for(s.spec, kind);
  t->ready_ms = t->row.updated_ms;
  s.ready[static_cast<int>(t->role)].push_back(t->row.id);
  s.open[candidate]++;
  event(s, "trial_queued", t->row.id, 1, wire::EnumNameTrialKind(kind) + note);
  trials_.emplace(t->row.id, std::move(t));
  return true;
}

bool Controller::after_probe(Study& s, uint32_t candidate, const Params& params,
                             const std::map<std::string, double>& probe_values) {
  if (s.spec.kind != StudyKind::Distill || !study_uses(s.spec, TrialKind::Flash)) return false;
  const std::string params_json = params_to_json(params);
  const bool baseline = s.has_baseline && candidate == 0;
  const std::string why =
      s.spec.skip_dominated_flash && !baseline ? hopeless(s, params, probe_values) : "";
  if (why.empty()) {
    return queue_trial(s, candidate, TrialKind::Flash, params_json, baseline ? " baseline" : "");
  }
  TrialRow row;
  row.study_id = s.row.id;
  row.candidate = candidate;
  row.kind = static_cast<int>(TrialKind::Flash);
  row.state = static_cast<int>(TrialState::Cancelled);
  row.attempt = 1;
  row.params_json = params_json;
  row.error_code = static_cast<int>(Code::kCancelled);
  row.error_message = "skipped: " + why;
  row.updated_ms = now_();
  row.id = store_.insert_trial(row);
  if (row.id == 0) return false;
  store_.update_trial(row);  // insert_trial() stores no outcome fields
  s.skipped.insert(candidate);
  metrics_.flash_skipped++;
  event(s, "flash_skipped", row.id, 1, why);
  LOG_INFO("study " << s.row.id << " candidate " << candidate << ": flash skipped (" << why << ")");
  return false;
}

std::string Controller::hopeless(Study& s, const Params& params,
                                 const std::map<std::string, double>& probe_values) {
  // A measured probe metric outside a constraint: it can never be selected.
  for (const auto& c : s.spec.constraints) {
    auto v = probe_values.find(c->metric);
    if (v == probe_values.end()) continue;
    const bool le = c->comparison == wire::Comparison::LessEqual;
    if (le ? v->second > c->bound : v->second < c->bound) {
      std::ostringstream why;
      why << c->metric << " " << v->second << " violates the constraint " << c->metric
          << (le ? " <= " : " >= ") << c->bound;
      return why.str();
    }
  }
  // The engine's expected hypervolume improvement given the measured probe
  // metrics, against the complete candidates (the baseline included).
  if (s.complete < kSkipFlashAfter) return "";
  const double score = s.proposer->score(params);
  if (score > kSkipFlashScore) return "";
  std::ostringstream why;
  why << "expected hypervolume improvement " << score << " <= " << kSkipFlashScore
      << " given its measured probe metrics";
  return why.str();
}

bool Controller::complete_from_cache(Study& s, uint32_t candidate, const Params& params,
                                     const std::string& params_json,
                                     std::map<std::string, double>* measured) {
  auto tag = fingerprints_by_tag_.find(s.spec.hardware_tag);
  if (tag == fingerprints_by_tag_.end()) return false;
  const std::string arch = arch_key(params);
  const std::string serving = serving_key(s.spec.settings_json);
  const std::vector<std::string> wanted = objectives_for(s.spec, TrialKind::Probe);
  for (const std::string& fingerprint : tag->second) {
    auto hit = store_.find_probe(arch, serving, fingerprint);
    if (!hit || !hit.value()) continue;
    std::map<std::string, double> cached = metrics_from_json(hit.value()->objectives_json);
    std::map<std::string, double> objectives;
    for (const std::string& name : wanted) {
      if (!cached.count(name)) break;
      objectives[name] = cached[name];
    }
    if (objectives.size() != wanted.size()) continue;
    std::map<std::string, double> metrics = metrics_from_json(hit.value()->metrics_json);
    metrics["cached_from_trial"] = static_cast<double>(hit.value()->trial_id);
    TrialRow row;
    row.study_id = s.row.id;
    row.candidate = candidate;
    row.kind = static_cast<int>(TrialKind::Probe);
    row.state = static_cast<int>(TrialState::Completed);
    row.params_json = params_json;
    row.updated_ms = now_();
    row.id = store_.insert_trial(row);
    if (row.id == 0) return false;
    row.objectives_json = metrics_to_json(objectives);
    row.metrics_json = metrics_to_json(metrics);
    row.fingerprint = fingerprint;
    row.progress = 1;
    store_.update_trial(row);
    event(s, "trial_completed", row.id, 1,
          "cached measurement of trial " + std::to_string(hit.value()->trial_id));
    s.proposer->observe(params, objectives);
    *measured = std::move(objectives);
    return true;
  }
  return false;
}

void Controller::lease(Study& s, Trial& t, Worker& w) {
  t.row.state = static_cast<int>(TrialState::Leased);
  t.row.worker_id = w.worker_id;
  t.row.updated_ms = now_();
  t.row.lease_expires_ms = t.row.updated_ms + config_.lease_ms;
  store_.update_trial(t.row);
  store_.record_lease(t.row.id, t.row.attempt, w.worker_id);
  metrics_.dispatch.observe(static_cast<double>(t.row.updated_ms - t.ready_ms) / 1000.0);
  w.credits--;
  w.leased.insert(t.row.id);
  event(s, "trial_leased", t.row.id, t.row.attempt, w.worker_id);

  wire::AssignT a;
  a.trial_id = t.row.id;
  a.attempt = t.row.attempt;
  a.study_id = s.row.id;
  a.kind = static_cast<TrialKind>(t.row.kind);
  a.lease_ms = config_.lease_ms;
  for (auto& p : params_from_json(t.row.params_json)) {
    a.params.push_back(std::make_unique<wire::ParamValueT>(std::move(p)));
  }
  a.objectives = t.objectives;
  a.settings_json = s.spec.settings_json;
  if (a.kind == TrialKind::Regular) {
    // The worker writes the candidate's measured latency into the manifest.
    if (auto trials = store_.trials_of_study(s.row.id); trials) {
      if (auto probe = completed_probe(trials.value(), t.row.candidate)) {
        a.settings_json = settings_with_probe(a.settings_json, *probe);
      }
    }
  }
  a.teacher_digest = s.spec.teacher_digest;
  a.corpus_digest = s.spec.corpus_digest;
  a.hardware_tag = s.spec.hardware_tag;
  send(Endpoint::kWorker, w.peer, wire::encode_message(0, std::move(a)));
}

void Controller::requeue_or_fail(Trial& t, const std::string& reason, bool retryable) {
  auto found = studies_.find(t.row.study_id);
  if (found == studies_.end()) return drop_orphan(t);
  Study& s = *found->second;
  if (Worker* holder = session_of(t.row.worker_id)) holder->leased.erase(t.row.id);
  const bool active = s.state() == static_cast<int>(StudyState::Exploring) ||
                      s.state() == static_cast<int>(StudyState::Finalizing);
  if (retryable && active && t.row.attempt < s.max_attempts) {
    LOG_INFO("trial " << t.row.id << " attempt " << t.row.attempt << ": " << reason
                      << "; re-queued as attempt " << t.row.attempt + 1);
    t.row.attempt++;
    t.row.state = static_cast<int>(TrialState::Queued);
    t.row.worker_id.clear();
    t.row.lease_expires_ms = 0;
    t.row.updated_ms = now_();
    t.progress = 0;
    t.ready_ms = t.row.updated_ms;
    store_.update_trial(t.row);
    s.ready[static_cast<int>(t.role)].push_front(t.row.id);
    event(s, "trial_requeued", t.row.id, t.row.attempt, reason);
    return;
  }
  LOG_WARN("trial " << t.row.id << " failed after attempt " << t.row.attempt << ": " << reason);
  if (t.row.error_message.empty()) {
    t.row.error_code = static_cast<int>(Code::kTrialError);
    t.row.error_message = reason;
  }
  finish_trial(t, static_cast<int>(TrialState::Failed));
}

void Controller::finish_trial(Trial& t, int state) {
  const uint64_t id = t.row.id;
  auto found = studies_.find(t.row.study_id);
  if (found == studies_.end()) return drop_orphan(t);
  Study& s = *found->second;
  if (Worker* holder = session_of(t.row.worker_id)) holder->leased.erase(id);
  t.row.state = state;
  t.row.lease_expires_ms = 0;
  t.row.updated_ms = now_();
  store_.update_trial(t.row);
  const char* kind = state == static_cast<int>(TrialState::Completed) ? "trial_completed"
                     : state == static_cast<int>(TrialState::Failed)  ? "trial_failed"
                                                                      : "trial_cancelled";
  event(s, kind, id, t.row.attempt, t.row.error_message);
  const uint32_t candidate = t.row.candidate;
  const bool failed = state == static_cast<int>(TrialState::Failed);
  const bool completed = state == static_cast<int>(TrialState::Completed);
  const TrialKind trial_kind = static_cast<TrialKind>(t.row.kind);
  const Params params = params_from_json(t.row.params_json);
  const std::map<std::string, double> values = metrics_from_json(t.row.objectives_json);
  trials_.erase(id);  // t is gone from here on

  if (completed && trial_kind == TrialKind::Flash) s.complete++;
  // Probe first: the candidate's flash trial follows its completed probe.
  if (completed && trial_kind == TrialKind::Probe &&
      s.state() == static_cast<int>(StudyState::Exploring)) {
    after_probe(s, candidate, params, values);
  }

  auto open = s.open.find(candidate);
  if (open != s.open.end() && --open->second <= 0) s.open.erase(open);
  if (failed && s.failed.insert(candidate).second) {
    s.proposer->observe_failure(params);
    // The candidate can no longer be complete: stop its sibling trials.
    std::vector<uint64_t> siblings;
    for (auto& [tid, other] : trials_) {
      if (other->row.study_id == s.row.id && other->row.candidate == candidate) {
        siblings.push_back(tid);
      }
    }
    for (uint64_t tid : siblings) {
      auto sibling = trials_.find(tid);
      if (sibling == trials_.end()) continue;
      Trial& other = *sibling->second;
      if (other.row.state == static_cast<int>(TrialState::Leased)) {
        if (const Worker* h = session_of(other.row.worker_id)) {
          wire::CancelT c;
          c.trial_id = tid;
          c.attempt = other.row.attempt;
          c.reason = "a sibling trial of the candidate failed";
          send(Endpoint::kWorker, h->peer, wire::encode_message(0, std::move(c)));
        }
      }
      finish_trial(other, static_cast<int>(TrialState::Cancelled));
    }
  }
  if (!s.open.count(candidate)) {
    if (s.skipped.count(candidate) && !s.failed.count(candidate))
      s.proposer->observe_failure(params);
    else if (!s.failed.count(candidate))
      s.proposer->finish(params);
    candidate_finished(s, candidate);
  }
}

void Controller::candidate_finished(Study& s, uint32_t) {
  maybe_advance(s);
}

void Controller::maybe_advance(Study& s) {
  if (s.state() == static_cast<int>(StudyState::Exploring)) {
    refill(s);
    const bool budget_spent = explored(s) >= s.spec.max_trials || s.exhausted || s.wall_spent;
    if (!budget_spent || !s.open.empty() || s.suggesting || shutting_down_) return;
    if (s.spec.kind == StudyKind::Distill && study_uses(s.spec, TrialKind::Flash)) {
      select_for_regular(s);
      return;
    }
    auto trials = store_.trials_of_study(s.row.id);
    size_t completed = 0;
    if (trials) {
      for (const TrialRow& t : trials.value()) {
        completed += t.state == static_cast<int>(TrialState::Completed);
      }
    }
    if (completed > 0) {
      set_study_state(s, static_cast<int>(StudyState::Succeeded),
                      std::to_string(s.next_candidate - s.failed.size()) + " of " +
                          std::to_string(s.next_candidate) + " candidates evaluated");
    } else {
      set_study_state(s, static_cast<int>(StudyState::Failed),
                      trials ? none_completed(trials.value(), "trials") : "every candidate failed");
    }
  } else if (s.state() == static_cast<int>(StudyState::Finalizing)) {
    if (!s.open.empty()) return;
    // The students are the Regular trials' output: say which failed.
    std::vector<TrialRow> regular;
    if (auto trials = store_.trials_of_study(s.row.id)) {
      for (TrialRow& t : trials.value()) {
        if (t.kind == static_cast<int>(TrialKind::Regular)) regular.push_back(std::move(t));
      }
    }
    size_t done = 0;
    for (const TrialRow& t : regular) done += t.state == static_cast<int>(TrialState::Completed);
    if (done == regular.size()) {
      set_study_state(s, static_cast<int>(StudyState::Succeeded),
                      "regular distillation of the selected candidates done");
    } else if (done == 0) {
      set_study_state(s, static_cast<int>(StudyState::Failed),
                      none_completed(regular, "regular trials"));
    } else {
      set_study_state(s, static_cast<int>(StudyState::Succeeded),
                      std::to_string(done) + " of " + std::to_string(regular.size()) +
                          " regular distillations done; " +
                          failure_summary(regular, "regular trials"));
    }
  }
}

void Controller::select_for_regular(Study& s) {
  set_study_state(s, static_cast<int>(StudyState::Selecting), "");
  auto trials = store_.trials_of_study(s.row.id);
  if (!trials) return;
  std::vector<uint32_t> chosen = selected_candidates(s.spec, trials.value());
  if (chosen.empty()) {
    set_study_state(s, static_cast<int>(StudyState::Failed),
                    s.complete > 0 && !s.spec.constraints.empty()
                        ? "no candidate completed within the constraints"
                        : none_completed(trials.value(), "trials"));
    return;
  }
  for (uint32_t c : chosen) {
    const TrialRow* source = nullptr;
    for (const TrialRow& t : trials.value()) {
      if (t.candidate == c) source = &t;
    }
    auto t = std::make_unique<Trial>();
    t->row.study_id = s.row.id;
    t->row.candidate = c;
    t->row.kind = static_cast<int>(TrialKind::Regular);
    t->row.state = static_cast<int>(TrialState::Queued);
    t->row.attempt = 1;
    t->row.params_json = source->params_json;
    t->row.updated_ms = now_();
    t->row.id = store_.insert_trial(t->row);
    if (t->row.id == 0) return;
    t->role = Role::Distill;
    t->objectives = objectives_for(s.spec, TrialKind::Regular);
    t->ready_ms = t->row.updated_ms;
    s.ready[static_cast<int>(Role::Distill)].push_back(t->row.id);
    s.open[c]++;
    event(s, "trial_queued", t->row.id, 1, "Regular");
    trials_.emplace(t->row.id, std::move(t));
  }
  const bool topk = s.spec.selection && s.spec.selection->rule == wire::SelectionRule::TopK;
  std::string list;
  for (uint32_t c : chosen) list += (list.empty() ? "" : ", ") + std::to_string(c);
  event(s, "selected", 0, 0, "candidates " + list);
  set_study_state(
      s, static_cast<int>(StudyState::Finalizing),
      std::to_string(chosen.size()) + (topk ? " top-k" : " Pareto") + " candidates chosen");
}

void Controller::set_study_state(Study& s, int state, const std::string& message) {
  if (s.row.state == state) return;
  s.row.state = state;
  s.row.message = message;
  s.row.updated_ms = now_();
  store_.update_study(s.row.id, state, message, s.row.updated_ms);
  event(s, "study_state", 0, 0,
        std::string(study_state_name(state)) + (message.empty() ? "" : ": " + message));
  if (is_terminal(state)) {
    ended_studies_.insert(s.row.id);
    LOG_INFO("study " << s.row.id << " " << study_state_name(state)
                      << (message.empty() ? "" : ": " + message));
  }
}

void Controller::cancel_study(Study& s, const std::string& reason) {
  set_study_state(s, static_cast<int>(StudyState::Cancelled), reason);
  std::vector<uint64_t> ids;
  for (auto& [id, t] : trials_) {
    if (t->row.study_id == s.row.id) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    auto it = trials_.find(id);
    if (it == trials_.end()) continue;
    Trial& t = *it->second;
    if (t.row.state == static_cast<int>(TrialState::Leased)) {
      if (const Worker* h = session_of(t.row.worker_id)) {
        wire::CancelT c;
        c.trial_id = id;
        c.attempt = t.row.attempt;
        c.reason = reason;
        send(Endpoint::kWorker, h->peer, wire::encode_message(0, std::move(c)));
      }
    }
    finish_trial(t, static_cast<int>(TrialState::Cancelled));
  }
}

void Controller::dispatch() {
  if (shutting_down_) return;
  const int64_t now = now_();
  for (auto& [peer, w] : workers_) {
    if (w->credits == 0 || quarantined(w->worker_id, now)) continue;
    while (w->credits > 0) {
      auto [s, t] = take_trial_for(*w, now);
      if (t == nullptr) break;
      lease(*s, *t, *w);
    }
  }
}

bool Controller::eligible(const Worker& w, uint64_t study_id, const Study& s) const {
  if (w.role == Role::External &&
      std::find(w.studies.begin(), w.studies.end(), study_id) == w.studies.end()) {
    return false;
  }
  return w.role != Role::Probe || s.spec.hardware_tag.empty() ||
         s.spec.hardware_tag == w.hardware.tag;
}

bool Controller::another_worker_for(const Worker& w, uint64_t study_id, const Study& s,
                                    const Trial& t, int64_t now) const {
  for (const auto& [peer, other] : workers_) {
    if (other.get() != &w && other->role == w.role && !t.expired_with.count(other->worker_id) &&
        !quarantined(other->worker_id, now) && eligible(*other, study_id, s)) {
      return true;
    }
  }
  return false;
}

std::pair<Controller::Study*, Controller::Trial*> Controller::take_trial_for(const Worker& w,
                                                                             int64_t now) {
  const int role = static_cast<int>(w.role);
  for (auto& [id, s] : studies_) {
    if (s->state() != static_cast<int>(StudyState::Exploring) &&
        s->state() != static_cast<int>(StudyState::Finalizing)) {
      continue;
    }
    auto& queue = s->ready[role];
    if (queue.empty() || !eligible(w, id, *s)) continue;
    for (size_t i = 0; i < queue.size();) {
      auto t = trials_.find(queue[i]);
      if (t == trials_.end() || t->second->row.state != static_cast<int>(TrialState::Queued)) {
        queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));  // stale
        continue;
      }
      // A trial whose lease this worker let expire goes to another worker
      // when one could take it.
      if (t->second->expired_with.count(w.worker_id) &&
          another_worker_for(w, id, *s, *t->second, now)) {
        ++i;
        continue;
      }
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));
      return {s.get(), t->second.get()};
    }
  }
  return {nullptr, nullptr};
}

Controller::Worker* Controller::session_of(const std::string& worker_id) {
  auto p = peer_of_worker_.find(worker_id);
  if (p == peer_of_worker_.end()) return nullptr;
  auto w = workers_.find(p->second);
  return w == workers_.end() ? nullptr : w->second.get();
}

void Controller::end_session(const std::string& peer) {
  auto it = workers_.find(peer);
  if (it == workers_.end()) return;
  if (auto p = peer_of_worker_.find(it->second->worker_id);
      p != peer_of_worker_.end() && p->second == peer) {
    peer_of_worker_.erase(p);
  }
  workers_.erase(it);
}

void Controller::drop_worker(const std::string& peer, const std::string& why) {
  auto it = workers_.find(peer);
  if (it == workers_.end()) return;
  LOG_INFO("worker \"" << it->second->worker_id << "\" " << why);
  store_.touch_worker(it->second->worker_id, it->second->last_seen_ms);
  end_session(peer);
}

void Controller::drop_orphan(Trial& t) {
  // Unreachable while every live trial's study is live (recover() and
  // the state machine keep it so); kept safe rather than trusted.
  LOG_ERROR("trial " << t.row.id << " of study " << t.row.study_id
                     << " has no live study; forgotten until the next restart");
  if (Worker* holder = session_of(t.row.worker_id)) holder->leased.erase(t.row.id);
  trials_.erase(t.row.id);
}

bool Controller::quarantined(const std::string& worker_id, int64_t now) const {
  auto p = penalties_.find(worker_id);
  return p != penalties_.end() && p->second.until_ms > now;
}

void Controller::penalize(Trial& t, int64_t now) {
  const std::string& id = t.row.worker_id;
  if (id.empty()) return;
  t.expired_with.insert(id);
  Penalty& p = penalties_[id];
  p.expiries++;
  p.last_ms = now;
  // One expiry may be bad luck (a stalled host, a network blip): it only
  // steers this trial elsewhere. From the second in a row, no new work.
  if (p.expiries < 2) return;
  const uint64_t ms =
      std::min<uint64_t>(config_.quarantine_max_ms, static_cast<uint64_t>(config_.quarantine_ms)
                                                        << std::min<uint32_t>(p.expiries - 2, 20));
  p.until_ms = std::max(p.until_ms, now + static_cast<int64_t>(ms));
  if (ms == 0) return;
  metrics_.quarantines++;
  LOG_WARN("worker \"" << id << "\" let the lease of trial " << t.row.id << " attempt "
                       << t.row.attempt << " expire (" << p.expiries
                       << " in a row): no new work for it for " << ms / 1000.0 << " s");
}

void Controller::housekeeping(int64_t now) {
  if (now - last_housekeeping_ms_ < kHousekeepingMs) return;
  last_housekeeping_ms_ = now;
  for (auto it = penalties_.begin(); it != penalties_.end();) {
    // Forgotten (the run of expiries is over) a quarantine_max_ms after the
    // last expiry and the end of its quarantine.
    const bool stale = std::max(it->second.until_ms, it->second.last_ms) +
                           static_cast<int64_t>(config_.quarantine_max_ms) <
                       now;
    it = stale ? penalties_.erase(it) : std::next(it);
  }
  if (config_.worker_retention_seconds > 0) {
    const int64_t cutoff = now - static_cast<int64_t>(std::min<uint64_t>(
                                     config_.worker_retention_seconds, uint64_t{1} << 40)) *
                                     1000;
    auto ids = store_.workers_unseen_since(cutoff, kPruneBatch);
    if (!ids) {
      LOG_WARN("pruning workers: " << ids.status().to_string());
    } else if (!ids.value().empty()) {
      std::set<std::string> holding;  // a worker holding a lease keeps its row
      for (const auto& [id, t] : trials_) {
        if (t->row.state == static_cast<int>(TrialState::Leased)) holding.insert(t->row.worker_id);
      }
      size_t pruned = 0;
      for (const std::string& id : ids.value()) {
        if (peer_of_worker_.count(id) || holding.count(id)) continue;
        store_.delete_worker(id);
        ++pruned;
      }
      if (pruned > 0) {
        LOG_INFO("pruned " << pruned << " workers not seen for " << config_.worker_retention_seconds
                           << " s");
      }
    }
  }
  if (config_.partial_upload_max_age_seconds > 0) {
    const size_t expired = blobs_.expire_partials(static_cast<int64_t>(
        std::min<uint64_t>(config_.partial_upload_max_age_seconds, uint64_t{1} << 40)));
    if (expired > 0) {
      LOG_INFO("deleted " << expired << " unfinished uploads untouched for "
                          << config_.partial_upload_max_age_seconds << " s");
    }
  }
}

void Controller::tick() {
  const int64_t now = now_();
  std::vector<uint64_t> expired;
  for (auto& [id, t] : trials_) {
    if (t->row.state == static_cast<int>(TrialState::Leased) && t->row.lease_expires_ms <= now) {
      expired.push_back(id);
    }
  }
  std::sort(expired.begin(), expired.end());
  for (uint64_t id : expired) {
    auto it = trials_.find(id);
    if (it == trials_.end()) continue;
    metrics_.lease_expiries++;
    Trial& t = *it->second;
    const std::string reason = "lease expired (worker \"" + t.row.worker_id + "\")";
    penalize(t, now);
    requeue_or_fail(t, reason, true);
  }

  const int64_t silence = static_cast<int64_t>(config_.liveness) * config_.heartbeat_interval_ms;
  std::vector<std::string> dead;
  for (auto& [peer, w] : workers_) {
    if (now - w->last_seen_ms > silence) {
      dead.push_back(peer);
    } else if (now - w->last_sent_ms >= config_.heartbeat_interval_ms) {
      w->last_sent_ms = now;
      send(Endpoint::kWorker, peer, wire::encode_message(0, wire::HeartbeatT{}));
    }
  }
  for (const std::string& peer : dead) drop_worker(peer, "went silent; dropped");

  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = now - it->second.refilled_ms > 60'000 ? buckets_.erase(it) : std::next(it);
  }
  housekeeping(now);

  if (now - last_keepalive_ms_ >= config_.heartbeat_interval_ms) {
    last_keepalive_ms_ = now;
    for (auto& [study, list] : watchers_) {
      for (const Watcher& w : list) {
        send(Endpoint::kClient, w.peer, wire::encode_message(w.request_id, wire::EventBatchT{}));
      }
    }
  }
  dispatch();
}

void Controller::begin_shutdown() {
  shutting_down_ = true;
  cancel_suggestions_->store(true);
  LOG_INFO("shutting down: no new work is assigned");
  if (suggestions_in_flight_ > 0) {
    LOG_INFO("shutting down: suggestion cancelled (" << suggestions_in_flight_ << " in flight)");
  }
}

// ---------------------------------------------------------------------------
// Batching

void Controller::event(Study& s, const std::string& kind, uint64_t trial_id, uint32_t attempt,
                       const std::string& message) {
  EventRow row;
  row.study_id = s.row.id;
  row.seq = ++s.seq;
  row.time_ms = now_();
  row.kind = kind;
  row.trial_id = trial_id;
  row.attempt = attempt;
  row.message = message;
  store_.insert_event(row);
  if (!watchers_.count(s.row.id)) return;
  wire::EventT e;
  e.study_id = row.study_id;
  e.seq = row.seq;
  e.time_ms = row.time_ms;
  e.kind = row.kind;
  e.trial_id = row.trial_id;
  e.attempt = row.attempt;
  e.message = row.message;
  batch_events_[s.row.id].push_back(std::move(e));
}

void Controller::send(Endpoint ep, const std::string& peer, std::string bytes) {
  outbox_.push_back(Outbound{ep, peer, std::move(bytes)});
}

void Controller::reply_error(Endpoint ep, const std::string& peer, uint64_t rid,
                             const Status& status) {
  send(ep, peer, wire::encode_error(rid, status));
}

void Controller::note_request(Endpoint ep, const std::string& peer, uint64_t rid) {
  batch_requests_.push_back(PendingRequest{ep, peer, rid});
}

void Controller::flush_events() {
  for (auto& [study, events] : batch_events_) {
    auto w = watchers_.find(study);
    if (w == watchers_.end()) continue;
    const bool ended = ended_studies_.count(study) > 0;
    for (const Watcher& watcher : w->second) {
      uint64_t& seen = watcher_seq_[{study, watcher.peer}];
      wire::EventBatchT batch;
      for (const wire::EventT& e : events) {
        if (e.kind != "trial_progress" && e.seq <= seen) continue;
        batch.events.push_back(std::make_unique<wire::EventT>(e));
        if (e.kind != "trial_progress") seen = e.seq;
      }
      batch.end = ended;
      if (batch.events.empty() && !batch.end) continue;
      send(Endpoint::kClient, watcher.peer,
           wire::encode_message(watcher.request_id, std::move(batch)));
    }
  }
  // Watchers of studies that ended with no new events this batch.
  for (uint64_t study : ended_studies_) {
    if (batch_events_.count(study)) continue;
    auto w = watchers_.find(study);
    if (w == watchers_.end()) continue;
    for (const Watcher& watcher : w->second) {
      wire::EventBatchT batch;
      batch.end = true;
      send(Endpoint::kClient, watcher.peer,
           wire::encode_message(watcher.request_id, std::move(batch)));
    }
  }
  for (uint64_t study : ended_studies_) {
    if (auto w = watchers_.find(study); w != watchers_.end()) {
      for (const Watcher& watcher : w->second) watcher_seq_.erase({study, watcher.peer});
      watchers_.erase(w);
    }
    studies_.erase(study);
  }
  batch_events_.clear();
  ended_studies_.clear();
}

std::vector<Outbound> Controller::commit() {
  dispatch();
  const bool wrote = store_.has_pending_writes();
  const auto started = std::chrono::steady_clock::now();
  Status status = store_.commit();
  if (wrote) {
    metrics_.store_commit.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (!status) metrics_.commit_failures++;
  std::vector<Outbound> out;
  if (status) {
    flush_events();
    out.swap(outbox_);
    batch_requests_.clear();
    return out;
  }
  // Nothing of this batch happened: answer its requests with the error,
  // forget sessions (workers Hello again), and rebuild from the store.
  LOG_ERROR("commit failed, batch of " << batch_requests_.size()
                                       << " requests rolled back: " << status.to_string());
  for (const PendingRequest& r : batch_requests_) {
    out.push_back(Outbound{r.endpoint, r.peer, wire::encode_error(r.request_id, status)});
  }
  outbox_.clear();
  batch_requests_.clear();
  batch_events_.clear();
  ended_studies_.clear();
  watchers_.clear();
  watcher_seq_.clear();
  workers_.clear();
  peer_of_worker_.clear();
  if (Status s = recover(); !s) LOG_ERROR("recovery after a failed commit: " << s.to_string());
  if (Status s = store_.commit(); !s) LOG_ERROR("commit after recovery: " << s.to_string());
  outbox_.clear();
  return out;
}

// ---------------------------------------------------------------------------
// Observability

std::string Controller::render_metrics() {
  std::string out = metrics_.render();
  auto gauge_header = [&](const char* name, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  if (auto studies = store_.studies_by_state()) {
    gauge_header("autodistill_studies", "Studies by state.");
    for (int st = 0; st <= static_cast<int>(StudyState::MAX); ++st) {
      auto it = studies.value().find(st);
      out += metric_line("autodistill_studies", {{"state", study_state_name(st)}},
                         it == studies.value().end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  if (auto trials = store_.trials_by_state()) {
    gauge_header("autodistill_trials", "Trials by state.");
    for (int st = 0; st <= static_cast<int>(TrialState::MAX); ++st) {
      auto it = trials.value().find(st);
      out += metric_line("autodistill_trials",
                         {{"state", wire::EnumNameTrialState(static_cast<TrialState>(st))}},
                         it == trials.value().end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  std::map<std::pair<std::string, std::string>, int64_t> depth;  // (role, tag) -> queued
  for (auto& [id, t] : trials_) {
    if (t->row.state != static_cast<int>(TrialState::Queued)) continue;
    auto s = studies_.find(t->row.study_id);
    std::string tag =
        s == studies_.end() || t->role != Role::Probe ? "" : s->second->spec.hardware_tag;
    depth[{wire::EnumNameRole(t->role), tag}]++;
  }
  gauge_header("autodistill_queue_depth", "Queued trials by the role and hardware tag they need.");
  for (const char* role : {"Distill", "Probe", "External"}) {
    if (!depth.count({role, ""})) depth[{role, ""}] = 0;
  }
  for (auto& [key, n] : depth) {
    out += metric_line("autodistill_queue_depth", {{"role", key.first}, {"tag", key.second}},
                       static_cast<double>(n));
  }
  std::map<std::pair<std::string, std::string>, int64_t> connected;
  for (auto& [peer, w] : workers_) connected[{wire::EnumNameRole(w->role), w->hardware.tag}]++;
  gauge_header("autodistill_workers_connected", "Connected workers by role and hardware tag.");
  for (auto& [key, n] : connected) {
    out += metric_line("autodistill_workers_connected", {{"role", key.first}, {"tag", key.second}},
                       static_cast<double>(n));
  }
  if (connected.empty()) out += metric_line("autodistill_workers_connected", {}, 0);
  if (auto bytes = store_.blob_bytes()) {
    gauge_header("autodistill_blob_store_bytes", "Bytes held in the blob store.");
    out += metric_line("autodistill_blob_store_bytes", {}, static_cast<double>(bytes.value()));
  }
  return out;
}

std::string Controller::health_json(bool* ok) {
  *ok = !shutting_down_;
  nlohmann::json h = {{"status", shutting_down_ ? "stopping" : "ok"},
                      {"active_studies", studies_.size()},
                      {"active_trials", trials_.size()},
                      {"connected_workers", workers_.size()},
                      {"schema_version", store_.schema_version()}};
  return h.dump();
}

std::string Controller::status_line() const {
  size_t leased = 0;
  for (auto& [id, t] : trials_) leased += t->row.state == static_cast<int>(TrialState::Leased);
  return std::to_string(studies_.size()) + " active studies, " + std::to_string(trials_.size()) +
         " active trials (" + std::to_string(leased) + " running), " +
         std::to_string(workers_.size()) + " workers";
}

// ---------------------------------------------------------------------------
// Views

wire::TrialInfoT Controller::trial_info(const TrialRow& row) const {
  wire::TrialInfoT t;
  t.trial_id = row.id;
  t.study_id = row.study_id;
  t.candidate = row.candidate;
  t.kind = static_cast<TrialKind>(row.kind);
  t.state = static_cast<TrialState>(row.state);
  t.attempt = row.attempt;
  for (auto& p : params_from_json(row.params_json)) {
    t.params.push_back(std::make_unique<wire::ParamValueT>(std::move(p)));
  }
  t.objectives = to_metrics(row.objectives_json);
  t.metrics = to_metrics(row.metrics_json);
  if (auto artifacts = parse_json(row.artifacts_json, "artifacts");
      artifacts && artifacts->is_array()) {
    for (const auto& a : artifacts.value()) {
      if (!a.is_object()) continue;
      auto art = std::make_unique<wire::ArtifactT>();
      if (auto v = a.find("name"); v != a.end() && v->is_string()) {
        art->name = v->get<std::string>();
      }
      if (auto v = a.find("digest"); v != a.end() && v->is_string()) {
        art->digest = v->get<std::string>();
      }
      if (auto v = a.find("size"); v != a.end() && v->is_number_unsigned()) {
        art->size = v->get<uint64_t>();
      }
      t.artifacts.push_back(std::move(art));
    }
  }
  t.worker_id = row.worker_id;
  if (row.error_code != 0) {
    t.error = std::make_unique<wire::ErrorT>();
    t.error->code = static_cast<wire::ErrorCode>(row.error_code);
    t.error->message = row.error_message;
    t.error->field = row.error_field;
  }
  t.progress = static_cast<float>(row.progress);
  if (auto live = trials_.find(row.id); live != trials_.end()) {
    t.progress = live->second->progress;
  } else if (row.state == static_cast<int>(TrialState::Completed)) {
    t.progress = 1;
  }
  t.hardware_fingerprint = row.fingerprint;
  return t;
}

Result<wire::StudyInfoT> Controller::study_info(const StudyRow& row,
                                                const std::vector<TrialRow>* trials) {
  std::vector<TrialRow> loaded;
  if (trials == nullptr) {
    auto r = store_.trials_of_study(row.id);
    if (!r) return r.status();
    loaded = std::move(r.value());
    trials = &loaded;
  }
  // A stored spec that does not verify belongs to a study recovery failed
  // (fail_unloadable): it is still listed, with an empty spec.
  auto spec = unpack_spec(row.spec);
  if (!spec) spec = wire::StudySpecT();
  wire::StudyInfoT info;
  info.study_id = row.id;
  info.idempotency_key = row.idempotency_key;
  info.owner = row.owner;
  info.state = static_cast<StudyState>(row.state);
  info.message = row.message;
  info.created_ms = row.created_ms;
  info.updated_ms = row.updated_ms;
  if (auto live = studies_.find(row.id); live != studies_.end()) {
    info.state = static_cast<StudyState>(live->second->row.state);
    info.message = live->second->row.message;
    info.updated_ms = live->second->row.updated_ms;
  }
  for (const TrialRow& t : *trials) {
    info.trials_total++;
    if (t.state == static_cast<int>(TrialState::Completed)) info.trials_completed++;
    if (t.state == static_cast<int>(TrialState::Failed)) info.trials_failed++;
    if (t.state == static_cast<int>(TrialState::Leased)) info.trials_running++;
  }
  std::vector<uint32_t> front = pareto_candidates(spec.value(), *trials);
  for (const TrialRow& t : *trials) {
    if (t.kind != static_cast<int>(TrialKind::Regular) &&
        std::binary_search(front.begin(), front.end(), t.candidate)) {
      info.pareto.push_back(t.id);
    }
  }
  info.spec = std::make_unique<wire::StudySpecT>(std::move(spec.value()));
  return info;
}

}  // namespace autodistill::daemon
