// Worker sessions: Hello (Reject / Welcome, CURVE binding), credits,
// heartbeats, Bye, lease-expiry penalties and quarantine (the registry
// itself: protocol/session_registry.hpp), and the registry's housekeeping.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "autodistill/daemon/log.hpp"
#include "autodistill/wire/hardware_tag.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

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
    std::optional<StudyState> state;
    if (auto live = studies_.find(id); live != studies_.end()) {
      state = live->second->state();
    } else if (auto row = store_.get_study(id); !row) {
      return reject(row.status());
    } else if (row.value()) {
      state = row.value()->state;
    }
    if (!state) return reject(Status(Code::kNotFound, "no study " + std::to_string(id), field));
    if (!is_terminal(*state)) {
      any_active = true;
    } else if (ended) {
      ended = Status(Code::kFailedPrecondition,
                     "study " + std::to_string(id) + " already " + study_state_name(*state) +
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
  // connection that had a session under another worker_id ends it: that
  // worker is gone from it, as if it went silent.
  if (const Worker* old = sessions_->find(peer); old && old->worker_id != hello.worker_id) {
    forget_worker(peer, "was replaced on its connection by \"" + hello.worker_id + "\"");
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
    // Only the worker's own leases (any rank of a gang): a Hello cannot
    // claim another's trial.
    auto t = trials_.find(ref->trial_id);
    if (t == trials_.end() || t->second->row.attempt != ref->attempt) continue;
    Trial& trial = *t->second;
    const int rank = trial.rank_of(hello.worker_id);
    if (!trial.leases.held(rank)) continue;  // not its lease, or its rank ended
    trial.leases.extend_to(rank, lease_until);
    w->leased.insert(ref->trial_id);
  }
  WorkerRow row;
  row.worker_id = w->worker_id;
  row.role = w->role;
  {
    flatbuffers::FlatBufferBuilder b;
    b.Finish(wire::Hardware::Pack(b, &w->hardware));
    row.hardware.assign(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  }
  row.slots = w->slots;
  row.studies = w->studies;
  row.first_seen_ms = row.last_seen_ms = w->last_seen_ms;
  row.curve_key = caller_;
  store_.upsert_worker(row);
  LOG_INFO("worker \"" << w->worker_id << "\" joined (role " << wire::EnumNameRole(w->role)
                       << ", tag \"" << w->hardware.tag << "\", " << w->slots << " slots, "
                       << w->leased.size() << " running trials kept)");
  probes_->saw_hardware(w->hardware.tag, w->hardware.fingerprint);
  sessions_->start(std::move(w));

  wire::WelcomeT welcome;
  welcome.heartbeat_interval_ms = config_.heartbeat_interval_ms;
  welcome.liveness = config_.liveness;
  welcome.lease_ms = config_.lease_ms;
  welcome.max_chunk_bytes = config_.max_chunk_bytes;
  welcome.daemon_version = kDaemonVersion;
  welcome.features = {"checkpoint"};
  send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(welcome)));
}

void Controller::on_pull(Worker& w, const wire::PullT& pull) {
  // Credit never exceeds the worker's slots, so one connection cannot hoard
  // the queue. (Not slots minus running trials: after a reconnect a Pull may
  // overtake the re-sent Results that free those slots, and the credit it
  // carried would be lost.)
  // Summed in 64 bits: a Pull of 2^32 - 1 on top of a kept credit must not wrap.
  w.credits = static_cast<uint32_t>(
      std::min<uint64_t>(w.slots, uint64_t{w.credits} + uint64_t{pull.credits}));
}

void Controller::on_heartbeat(Worker& w, const wire::HeartbeatT& hb) {
  const int64_t now = now_();
  for (const auto& p : hb.progress) {
    if (!p) continue;
    auto it = trials_.find(p->trial_id);
    if (it == trials_.end()) continue;
    Trial& t = *it->second;
    if (t.row.attempt != p->attempt) continue;
    const int rank = t.rank_of(w.worker_id);
    if (rank < 0) continue;
    t.leases.renew(rank, now + config_.lease_ms);
    if (rank > 0) continue;  // another rank of a gang: its own lease; progress is rank 0's
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
    e.candidate = t.row.candidate;
    e.trial_kind = t.row.kind;
    for (const auto& m : p->metrics) {
      if (m) e.values.push_back(std::make_unique<wire::MetricT>(*m));
    }
    batch_events_[t.row.study_id].push_back(std::move(e));
  }
}

void Controller::on_bye(const std::string& peer, const wire::ByeT& bye) {
  Worker* w = sessions_->find(peer);
  if (w == nullptr) return;
  std::vector<uint64_t> leased(w->leased.begin(), w->leased.end());
  for (uint64_t id : leased) {
    auto t = trials_.find(id);
    if (t != trials_.end()) requeue_or_fail(*t->second, "worker left", true, w->worker_id);
  }
  drop_worker(peer, "said Bye (" + bye.reason + ")");
}

void Controller::on_gang_address(Worker& w, const wire::GangAddressT& address) {
  // No reply (docs/protocol.md "Gangs"): relayed from rank 0 of the leased
  // attempt to every other rank still running it, each time; else ignored.
  auto it = trials_.find(address.trial_id);
  if (it == trials_.end() || !it->second->leases.gang() ||
      it->second->row.attempt != address.attempt || it->second->rank_of(w.worker_id) != 0) {
    LOG_INFO("ignored a GangAddress for trial " << address.trial_id << " attempt "
                                                << address.attempt << " from worker \""
                                                << w.worker_id << "\" (not its rank 0)");
    return;
  }
  if (address.address.empty() || address.address.size() > 1024) {
    LOG_WARN("ignored a GangAddress of " << address.address.size() << " characters from worker \""
                                         << w.worker_id << "\"");
    return;
  }
  const study::Leases& leases = it->second->leases;
  for (size_t r = 1; r < leases.all().size(); ++r) {
    const Worker* rank = sessions_->session_of(leases.all()[r].worker_id);
    if (!leases.held(static_cast<int>(r)) || rank == nullptr) continue;
    wire::GangAddressT relay;
    relay.trial_id = address.trial_id;
    relay.attempt = address.attempt;
    relay.address = address.address;
    send(Endpoint::kWorker, rank->peer, wire::encode_message(0, std::move(relay)));
  }
}

void Controller::forget_worker(const std::string& peer, const std::string& why) {
  // A gang attempt does not wait for a forgotten rank's lease to expire:
  // it ends for all ranks now (docs/protocol.md "Gangs", duty 4). A single
  // trial keeps its lease: its worker may still say Hello again.
  if (const Worker* w = sessions_->find(peer)) {
    const std::string worker_id = w->worker_id;
    std::vector<uint64_t> gangs;
    for (uint64_t id : w->leased) {
      if (auto t = trials_.find(id); t != trials_.end() && t->second->leases.gang()) {
        gangs.push_back(id);
      }
    }
    for (uint64_t id : gangs) {
      if (auto t = trials_.find(id); t != trials_.end()) {
        requeue_or_fail(*t->second, "worker \"" + worker_id + "\" " + why, true, worker_id);
      }
    }
  }
  drop_worker(peer, why + "; dropped");
}

void Controller::drop_worker(const std::string& peer, const std::string& why) {
  Worker* w = sessions_->find(peer);
  if (w == nullptr) return;
  LOG_INFO("worker \"" << w->worker_id << "\" " << why);
  store_.touch_worker(w->worker_id, w->last_seen_ms);
  sessions_->end(peer);
}

void Controller::drop_orphan(Trial& t) {
  // Unreachable while every live trial's study is live (recover() and
  // the state machine keep it so); kept safe rather than trusted.
  LOG_ERROR("trial " << t.row.id << " of study " << t.row.study_id
                     << " has no live study; forgotten until the next restart");
  release_ranks(t);
  trials_.erase(t.row.id);
}

void Controller::penalize(Trial& t, const std::string& id, int64_t now) {
  if (id.empty()) return;
  t.expired_with.insert(id);
  uint32_t expiries = 0;
  const uint64_t ms =
      sessions_->penalize(id, now, {config_.quarantine_ms, config_.quarantine_max_ms}, &expiries);
  if (ms == 0) return;
  metrics_.quarantines++;
  LOG_WARN("worker \"" << id << "\" let the lease of trial " << t.row.id << " attempt "
                       << t.row.attempt << " expire (" << expiries
                       << " in a row): no new work for it for " << ms / 1000.0 << " s");
}

void Controller::housekeeping(int64_t now) {
  if (now - last_housekeeping_ms_ < kHousekeepingMs) return;
  last_housekeeping_ms_ = now;
  sessions_->forget_stale_penalties(now, {config_.quarantine_ms, config_.quarantine_max_ms});
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
        if (t->row.state != TrialState::Leased) continue;
        holding.insert(t->row.worker_id);
        for (const study::Leases::Lease& l : t->leases.all()) holding.insert(l.worker_id);
      }
      size_t pruned = 0;
      for (const std::string& id : ids.value()) {
        if (sessions_->connected(id) || holding.count(id)) continue;
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

}  // namespace autodistill::daemon
