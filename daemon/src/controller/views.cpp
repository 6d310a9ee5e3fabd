// Views: Prometheus metrics, /healthz, systemd STATUS=, and the wire views
// of studies and trials (StudyInfo, TrialInfo).

#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/pareto.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

std::string Controller::render_metrics() {
  std::string out = metrics_.render();
  auto gauge_header = [&](const char* name, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  if (auto studies = store_.studies_by_state()) {
    gauge_header("autodistill_studies", "Studies by state.");
    for (StudyState st : wire::EnumValuesStudyState()) {
      auto it = studies.value().find(st);
      out += metric_line("autodistill_studies", {{"state", label_name(study_state_name(st))}},
                         it == studies.value().end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  if (auto trials = store_.trials_by_state()) {
    gauge_header("autodistill_trials", "Trials by state.");
    for (TrialState st : wire::EnumValuesTrialState()) {
      auto it = trials.value().find(st);
      out +=
          metric_line("autodistill_trials", {{"state", label_name(wire::EnumNameTrialState(st))}},
                      it == trials.value().end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  // (role, tag): the tag where one routes the work, else "any" (metrics.hpp).
  auto key = [](Role role, const std::string& tag) {
    return std::make_pair(label_name(wire::EnumNameRole(role)),
                          role == Role::Probe && !tag.empty() ? tag : std::string(kAnyTag));
  };
  std::map<std::pair<std::string, std::string>, int64_t> depth;  // (role, tag) -> queued
  for (const Role role : {Role::Distill, Role::Probe, Role::External}) depth[key(role, "")] = 0;
  for (auto& [id, t] : trials_) {
    if (t->row.state != TrialState::Queued) continue;
    auto s = studies_.find(t->row.study_id);
    depth[key(t->role, s == studies_.end() ? "" : s->second->spec.hardware_tag)]++;
  }
  gauge_header("autodistill_queue_depth", "Queued trials by the role and hardware tag they need.");
  for (auto& [labels, n] : depth) {
    out += metric_line("autodistill_queue_depth", {{"role", labels.first}, {"tag", labels.second}},
                       static_cast<double>(n));
  }
  std::map<std::pair<std::string, std::string>, int64_t> connected;
  for (auto& [peer, w] : sessions_->sessions()) connected[key(w->role, w->hardware.tag)]++;
  gauge_header("autodistill_workers_connected", "Connected workers by role and hardware tag.");
  for (auto& [labels, n] : connected) {
    out += metric_line("autodistill_workers_connected",
                       {{"role", labels.first}, {"tag", labels.second}}, static_cast<double>(n));
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
                      {"connected_workers", sessions_->size()},
                      {"schema_version", store_.schema_version()}};
  return h.dump();
}

std::string Controller::status_line() const {
  size_t leased = 0;
  for (auto& [id, t] : trials_) leased += t->row.state == TrialState::Leased;
  return std::to_string(studies_.size()) + " active studies, " + std::to_string(trials_.size()) +
         " active trials (" + std::to_string(leased) + " running), " +
         std::to_string(sessions_->size()) + " workers";
}

wire::TrialInfoT Controller::trial_info(const TrialRow& row) const {
  wire::TrialInfoT t;
  t.trial_id = row.id;
  t.study_id = row.study_id;
  t.candidate = row.candidate;
  t.kind = row.kind;
  t.state = row.state;
  t.attempt = row.attempt;
  for (const auto& p : row.params) t.params.push_back(std::make_unique<wire::ParamValueT>(p));
  t.objectives = wire_metrics(row.objectives);
  t.metrics = wire_metrics(row.metrics);
  t.artifacts = wire_artifacts(row.artifacts);
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
  } else if (row.state == TrialState::Completed) {
    t.progress = 1;
  }
  t.hardware_fingerprint = row.fingerprint;
  t.created_ms = row.created_ms;
  t.started_ms = row.started_ms;
  t.finished_ms = row.finished_ms;
  return t;
}

Result<wire::StudyInfoT> Controller::study_info(const StudyRow& row,
                                                const std::vector<TrialRow>* trials) {
  std::vector<TrialRow> loaded;
  Status unreadable;  // a listed study whose trials cannot be read is still listed
  if (trials == nullptr) {
    auto r = store_.trials_of_study(row.id);
    if (r)
      loaded = std::move(r.value());
    else
      unreadable = r.status();
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
  info.state = row.state;
  info.message = row.message;
  info.created_ms = row.created_ms;
  info.updated_ms = row.updated_ms;
  if (auto live = studies_.find(row.id); live != studies_.end()) {
    info.state = live->second->row.state;
    info.message = live->second->row.message;
    info.updated_ms = live->second->row.updated_ms;
  }
  if (!unreadable) {
    info.message += (info.message.empty() ? "" : "; ") +
                    std::string("its trials cannot be read: ") + unreadable.to_string();
  }
  for (const TrialRow& t : *trials) {
    info.trials_total++;
    if (t.state == TrialState::Completed) info.trials_completed++;
    if (t.state == TrialState::Failed) info.trials_failed++;
    if (t.state == TrialState::Leased) info.trials_running++;
  }
  std::vector<uint32_t> front = pareto_candidates(spec.value(), *trials);
  for (const TrialRow& t : *trials) {
    if (t.kind != TrialKind::Regular && t.kind != TrialKind::Finetune &&
        std::binary_search(front.begin(), front.end(), t.candidate)) {
      info.pareto.push_back(t.id);
    }
  }
  info.spec = std::make_unique<wire::StudySpecT>(std::move(spec.value()));
  return info;
}

Snapshot Controller::snapshot() const {
  Snapshot out;
  for (const auto& [id, s] : studies_) {
    StudyView v;
    v.study_id = id;
    v.name = s->spec.name;
    v.state = s->row.state;
    v.message = s->row.message;
    for (const auto& [candidate, stage] : s->book.stages()) {
      v.candidates.push_back({candidate, study::stage_name(stage), s->book.open(candidate)});
    }
    out.studies.push_back(std::move(v));
  }
  const int64_t now = now_();
  for (const auto& [peer, w] : sessions_->sessions()) {
    out.workers.push_back({w->worker_id, w->role, w->hardware.tag, w->credits, w->leased.size(),
                           sessions_->quarantined(w->worker_id, now), w->slots, w->last_seen_ms,
                           std::vector<uint64_t>(w->leased.begin(), w->leased.end())});
  }
  for (const auto& [id, t] : trials_) out.progress[id] = t->progress;
  std::sort(out.workers.begin(), out.workers.end(),
            [](const WorkerView& a, const WorkerView& b) { return a.worker_id < b.worker_id; });
  return out;
}

}  // namespace autodistill::daemon
