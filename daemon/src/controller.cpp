// The controller's life: construction, recovery from the store (one fold of
// the stored trial rows, study/candidate_book.hpp), the periodic tick and
// shutdown. The rest of its methods live in controller/ and protocol/.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include "autodistill/daemon/log.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Controller::Controller(const Config& config, Store& store, BlobStore& blobs, Clock clock)
    : config_(config),
      store_(store),
      blobs_(blobs),
      now_(std::move(clock)),
      sessions_(std::make_unique<protocol::SessionRegistry>()),
      probe_rows_(std::make_unique<study::StoreProbeRows>(store)),
      probes_(std::make_unique<study::ProbeCache>(*probe_rows_)) {}

Controller::~Controller() = default;

size_t Controller::connected_workers() const {
  return sessions_->size();
}

// ---------------------------------------------------------------------------
// Recovery

void Controller::reset_memory() {
  ++epoch_;  // results of suggestion jobs in flight are dropped
  studies_.clear();
  trials_.clear();
  for (auto& [peer, w] : sessions_->sessions()) w->leased.clear();
}

Status Controller::recover() {
  reset_memory();
  blob_garbage_ = true;  // released blobs a crash left undeleted
  auto known_workers = store_.list_workers();
  // The registry only seeds the probe cache's fingerprints: a row that does
  // not load is rewritten by its worker's next Hello.
  if (!known_workers) LOG_WARN("worker registry: " << known_workers.status().to_string());
  for (const WorkerRow& row : known_workers ? known_workers.value() : std::vector<WorkerRow>{}) {
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(row.hardware.data()),
                            row.hardware.size());
    if (!v.VerifyBuffer<wire::Hardware>(nullptr)) continue;
    const auto* hw = flatbuffers::GetRoot<wire::Hardware>(row.hardware.data());
    if (hw->fingerprint())
      probes_->saw_hardware(hw->tag() ? hw->tag()->str() : "", hw->fingerprint()->str());
  }
  auto ids = store_.active_study_ids();
  if (!ids) return ids.status();
  const int64_t now = now_();
  size_t trial_count = 0;
  for (const uint64_t id : ids.value()) {
    // A stored study never takes recovery down (issue #11): a row that does
    // not load (a value out of range, unreadable JSON) fails its study.
    auto row = store_.get_study(id);
    if (!row || !row.value()) {
      fail_unloadable(id, row ? Status(Code::kNotFound, "the row vanished") : row.status());
      continue;
    }
    auto trials = store_.trials_of_study(id);
    if (!trials) {
      fail_unloadable(id, trials.status());
      continue;
    }
    Study* s = nullptr;
    try {
      s = load_study(*row.value());
    } catch (const std::exception& e) {
      fail_unloadable(id, Status(Code::kInternal, e.what()));
    }
    if (s == nullptr) continue;
    auto seq = store_.max_event_seq(id);
    if (!seq) return seq.status();
    s->seq = seq.value();
    std::set<uint32_t> seen_candidates;
    std::map<uint32_t, uint32_t> probes_seen;  // by candidate: a later probe is a re-probe
    for (TrialRow& t : trials.value()) {
      const uint32_t probe_round = t.kind == TrialKind::Probe ? ++probes_seen[t.candidate] : 0;
      s->book.fold(t);  // the same transitions the live path made
      const Params& params = t.params;
      // A Finetune trial measures a delivered model, not a point of the space.
      const bool finetune = t.kind == TrialKind::Finetune;
      if (!finetune && seen_candidates.insert(t.candidate).second) s->proposer->add_known(params);
      if (!finetune && t.state == TrialState::Completed) {
        s->proposer->observe(params, t.objectives);
      }
      if (t.state >= TrialState::Completed) continue;
      auto trial = std::make_unique<Trial>();
      trial->row = std::move(t);
      TrialKind kind = trial->row.kind;
      trial->role = role_of(kind);
      trial->objectives = objectives_for(s->spec, kind);
      trial->ranks = ranks_for(s->spec, kind);
      if (trial->row.state == TrialState::Leased) {
        // Every rank keeps its lease (a gang's rank that reported its end
        // needs none), stretched to give running workers time to reconnect
        // and say Hello again.
        std::vector<std::string> holders{trial->row.worker_id};
        std::vector<uint32_t> ended;
        if (trial->ranks > 1) {
          auto ranks = store_.gang_ranks(trial->row.id, trial->row.attempt);
          if (!ranks) return ranks.status();
          holders.resize(trial->ranks);
          for (const GangRankRow& r : ranks.value()) {
            if (r.rank == 0 || r.rank >= trial->ranks) continue;
            holders[r.rank] = r.worker_id;
            if (r.done) ended.push_back(r.rank);
          }
        }
        trial->leases = study::Leases(holders, trial->row.lease_expires_ms);
        for (uint32_t r : ended) trial->leases.end(static_cast<int>(r));
        for (int r = 0; r < static_cast<int>(holders.size()); ++r) {
          trial->leases.extend_to(r, now + static_cast<int64_t>(config_.lease_ms));
          if (Worker* w = sessions_->session_of(holders[r]); w && trial->leases.held(r))
            w->leased.insert(trial->row.id);
        }
      } else {
        // A queued re-probe keeps its backoff from when it was queued.
        if (probe_round > 1 && trial->row.attempt == 1) {
          trial->not_before_ms = trial->row.updated_ms + reprobe_delay_ms(probe_round - 1);
        }
        trial->ready_ms = std::max(now, trial->not_before_ms);
        s->ready[static_cast<int>(trial->role)].push_back(trial->row.id);
      }
      ++trial_count;
      trials_.emplace(trial->row.id, std::move(trial));
    }
    // Candidates with no open trial are no longer pending for the proposer.
    std::set<uint32_t> finished;
    for (const TrialRow& t : trials.value()) {
      if (t.kind == TrialKind::Finetune || s->book.open(t.candidate) ||
          !finished.insert(t.candidate).second) {
        continue;
      }
      if (s->book.failed(t.candidate) || s->book.skipped(t.candidate))
        s->proposer->observe_failure(t.params);
      else
        s->proposer->finish(t.params);
    }
    if (s->state() == StudyState::Queued) {
      set_study_state(*s, StudyState::Exploring, "");
    }
    if (s->state() == StudyState::Selecting) {
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
  store_.update_study(study_id, StudyState::Failed, message, now_());
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
  if (s->spec.kind == wire::StudyKind::Distill) {  // only a Distill study fine-tunes
    auto settings = parse_study_settings_text(s->spec.settings_json, "spec.settings_json");
    if (!settings) {
      fail_unloadable(row.id, settings.status());
      return nullptr;
    }
    s->glue = settings->glue.value_or(GlueSettings{});
  }
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
    if (t.kind == TrialKind::Regular || t.kind == TrialKind::Finetune ||
        t.state != TrialState::Completed || t.updated_ms > created_ms) {
      continue;
    }
    PriorObservation& o = by_candidate[t.candidate];
    if (o.params.empty()) o.params = t.params;
    for (auto& [k, v] : t.objectives) o.values[k] = v;
  }
  for (auto& [candidate, o] : by_candidate) out.push_back(std::move(o));
  return out;
}

uint32_t Controller::explored(const Study& s) const {
  const uint32_t n = s.book.next_candidate();
  return n - (s.has_baseline && n > 0 ? 1 : 0);
}

void Controller::tick() {
  const int64_t now = now_();
  // (trial, the worker whose lease of it expired): rank 0's, or else the
  // first expired rank's of a gang (which ends the attempt for all).
  std::vector<std::pair<uint64_t, std::string>> expired;
  for (auto& [id, t] : trials_) {
    if (t->row.state != TrialState::Leased) continue;
    if (auto worker_id = t->leases.expired(now)) expired.emplace_back(id, std::move(*worker_id));
  }
  std::sort(expired.begin(), expired.end());
  for (const auto& [id, worker_id] : expired) {
    auto it = trials_.find(id);
    if (it == trials_.end()) continue;
    metrics_.lease_expiries++;
    Trial& t = *it->second;
    const std::string reason = "lease expired (worker \"" + worker_id + "\")";
    penalize(t, worker_id, now);
    requeue_or_fail(t, reason, true, worker_id);
  }

  const int64_t silence = static_cast<int64_t>(config_.liveness) * config_.heartbeat_interval_ms;
  std::vector<std::string> dead;
  for (auto& [peer, w] : sessions_->sessions()) {
    if (now - w->last_seen_ms > silence) {
      dead.push_back(peer);
    } else if (now - w->last_sent_ms >= config_.heartbeat_interval_ms) {
      w->last_sent_ms = now;
      send(Endpoint::kWorker, peer, wire::encode_message(0, wire::HeartbeatT{}));
    }
  }
  for (const std::string& peer : dead) forget_worker(peer, "went silent");

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

}  // namespace autodistill::daemon
