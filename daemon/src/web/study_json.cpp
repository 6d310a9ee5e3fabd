#include "study_json.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

#include "autodistill/daemon/pareto.hpp"
#include "autodistill/daemon/study_spec.hpp"
#include "autodistill/glue_settings.hpp"
#include "study/candidate_book.hpp"

namespace autodistill::daemon::web {

namespace {

using wire::TrialKind;
using wire::TrialState;

std::string lower(const char* name) {
  std::string out = name ? name : "";
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool exploration(const TrialRow& t) {
  return t.kind != TrialKind::Regular && t.kind != TrialKind::Finetune;
}

bool terminal(const TrialRow& t) {
  return t.state == TrialState::Completed || t.state == TrialState::Failed ||
         t.state == TrialState::Cancelled;
}

// When a terminal trial ended: its finished_ms, or its last update for a
// row stored terminal before the store kept finished_ms.
int64_t finished_at(const TrialRow& t) {
  return t.finished_ms != 0 ? t.finished_ms : t.updated_ms;
}

// A time column: null when not (yet) known (0).
nlohmann::json time_or_null(int64_t ms) {
  return ms != 0 ? nlohmann::json(ms) : nlohmann::json(nullptr);
}

// When each candidate's exploration completed: its last exploration
// trial's time, for candidates whose exploration trials all completed.
std::map<uint32_t, int64_t> completion_times(const std::vector<TrialRow>& trials) {
  std::map<uint32_t, int64_t> done;
  std::set<uint32_t> incomplete;
  for (const TrialRow& t : trials) {
    if (!exploration(t)) continue;
    if (t.state != TrialState::Completed) {
      incomplete.insert(t.candidate);
      continue;
    }
    done[t.candidate] = std::max(done[t.candidate], finished_at(t));
  }
  for (uint32_t c : incomplete) done.erase(c);
  return done;
}

// A trial's metrics and objectives (an objective wins a name both have).
nlohmann::json values_json(const TrialRow& t) {
  Values values = t.metrics;
  for (auto& [k, v] : t.objectives) values[k] = v;
  return values;
}

struct Counts {
  size_t candidates = 0, explored = 0, open_trials = 0, running = 0;
};

Counts count(const std::vector<TrialRow>& trials) {
  Counts n;
  std::set<uint32_t> seen;
  for (const TrialRow& t : trials) {
    if (t.candidate != kTeacherCandidate) seen.insert(t.candidate);
    n.open_trials += !terminal(t);
    n.running += t.state == TrialState::Leased;
  }
  n.candidates = seen.size();
  n.explored = completion_times(trials).size();
  return n;
}

}  // namespace

std::vector<FrontStep> front_history(const wire::StudySpecT& spec,
                                     const std::vector<TrialRow>& trials) {
  const auto done = completion_times(trials);  // every feasible point is complete
  auto when = [&](uint32_t candidate) {
    auto it = done.find(candidate);
    return it == done.end() ? int64_t{0} : it->second;
  };
  auto points = feasible_points(spec, trials);
  std::stable_sort(points.begin(), points.end(),
                   [&](const auto& a, const auto& b) { return when(a.first) < when(b.first); });
  // A point dominated once stays dominated (dominance is transitive), so
  // the front grows by comparing each new point with the current front.
  std::vector<std::pair<uint32_t, ObjectiveVector>> front;
  std::vector<FrontStep> steps;
  for (const auto& p : points) {
    if (std::any_of(front.begin(), front.end(),
                    [&](const auto& f) { return dominates(f.second, p.second); })) {
      continue;
    }
    front.erase(std::remove_if(front.begin(), front.end(),
                               [&](const auto& f) { return dominates(p.second, f.second); }),
                front.end());
    front.push_back(p);
    FrontStep step;
    step.time_ms = when(p.first);
    step.candidate = p.first;
    for (const auto& f : front) step.front.push_back(f.first);
    std::sort(step.front.begin(), step.front.end());
    steps.push_back(std::move(step));
  }
  return steps;
}

nlohmann::json study_summary(const StudyRow& row, const wire::StudySpecT& spec,
                             const std::vector<TrialRow>& trials) {
  const Counts n = count(trials);
  return {{"id", row.id},
          {"name", spec.name},
          {"kind", lower(wire::EnumNameStudyKind(spec.kind))},
          {"state", lower(wire::EnumNameStudyState(row.state))},
          {"message", row.message},
          {"created_ms", row.created_ms},
          {"updated_ms", row.updated_ms},
          {"max_trials", spec.max_trials},
          {"candidates", n.candidates},
          {"explored", n.explored},
          {"open_trials", n.open_trials},
          {"running_trials", n.running}};
}

nlohmann::json study_detail(const StudyRow& row, const wire::StudySpecT& spec,
                            const std::vector<TrialRow>& trials,
                            const std::map<uint64_t, double>& progress) {
  nlohmann::json out = study_summary(row, spec, trials);
  out["hardware_tag"] = spec.hardware_tag;
  out["objectives"] = nlohmann::json::array();
  for (const auto& o : spec.objectives) {
    if (!o) continue;
    out["objectives"].push_back(
        {{"name", o->name},
         {"direction", o->direction == wire::Direction::Maximize ? "maximize" : "minimize"}});
  }
  out["constraints"] = nlohmann::json::array();
  for (const auto& c : spec.constraints) {
    if (!c) continue;
    out["constraints"].push_back(
        {{"metric", c->metric},
         {"comparison", c->comparison == wire::Comparison::LessEqual ? "<=" : ">="},
         {"bound", c->bound}});
  }
  out["factors"] = nlohmann::json::array();
  for (const auto& f : spec.factors) {
    if (f) out["factors"].push_back(f->name);
  }
  // Candidate 0 is the baseline when the spec has one (client_api.cpp).
  const bool has_baseline = spec.kind == wire::StudyKind::Distill && !spec.baseline.empty();
  out["baseline"] = has_baseline ? nlohmann::json(0) : nlohmann::json(nullptr);

  study::CandidateBook book;
  for (const TrialRow& t : trials) book.fold(t);
  const std::vector<uint32_t> front = pareto_candidates(spec, trials);
  const auto done = completion_times(trials);

  std::map<uint32_t, nlohmann::json> candidates;
  for (const auto& [candidate, stage] : book.stages()) {
    candidates[candidate] = {
        {"candidate", candidate},
        {"stage", study::stage_name(stage)},
        {"open", book.open(candidate)},
        {"baseline", has_baseline && candidate == 0},
        {"pareto", std::binary_search(front.begin(), front.end(), candidate)},
        {"params", nlohmann::json::object()},
        {"values", nlohmann::json::object()},
        {"explored_ms", done.count(candidate) ? nlohmann::json(done.at(candidate)) : nullptr},
        {"trials", nlohmann::json::array()}};
  }
  for (const TrialRow& t : trials) {
    auto c = candidates.find(t.candidate);
    if (c == candidates.end()) continue;  // the teacher's Finetune trials
    nlohmann::json& cand = c->second;
    if (cand["params"].empty()) cand["params"] = params_object(t.params);
    nlohmann::json values = values_json(t);
    if (exploration(t) && t.state == TrialState::Completed) {
      for (auto& [k, v] : values.items()) cand["values"][k] = v;
    }
    double p = t.progress;
    if (auto live = progress.find(t.id); live != progress.end()) {
      p = live->second;
    } else if (t.state == TrialState::Completed) {
      p = 1;
    }
    nlohmann::json trial = {
        {"trial_id", t.id},
        {"kind", lower(wire::EnumNameTrialKind(t.kind))},
        {"state", lower(wire::EnumNameTrialState(t.state))},
        {"attempt", t.attempt},
        {"values", std::move(values)},
        {"worker_id", t.worker_id},
        {"progress", p},
        {"queued_ms", time_or_null(t.created_ms)},
        {"started_ms", time_or_null(t.started_ms)},
        {"finished_ms", terminal(t) ? nlohmann::json(finished_at(t)) : nlohmann::json(nullptr)},
        {"error", nullptr}};
    if (t.error_code != 0) {
      trial["error"] = {
          {"code", wire::EnumNameErrorCode(static_cast<wire::ErrorCode>(t.error_code))},
          {"message", t.error_message},
          {"field", t.error_field}};
    }
    cand["trials"].push_back(std::move(trial));
  }
  out["candidates"] = nlohmann::json::array();
  for (auto& [index, c] : candidates) out["candidates"].push_back(std::move(c));
  out["front"] = front;
  out["front_history"] = nlohmann::json::array();
  for (const FrontStep& s : front_history(spec, trials)) {
    out["front_history"].push_back(
        {{"time_ms", s.time_ms}, {"candidate", s.candidate}, {"front", s.front}});
  }
  return out;
}

nlohmann::json workers_json(const std::vector<WorkerView>& connected,
                            const std::vector<WorkerRow>& known) {
  std::map<std::string, nlohmann::json> fleet;
  for (const WorkerRow& row : known) {
    std::string tag;
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(row.hardware.data()),
                            row.hardware.size());
    if (v.VerifyBuffer<wire::Hardware>(nullptr)) {
      const auto* hw = flatbuffers::GetRoot<wire::Hardware>(row.hardware.data());
      if (hw->tag()) tag = hw->tag()->str();
    }
    fleet[row.worker_id] = {{"worker_id", row.worker_id},
                            {"role", lower(wire::EnumNameRole(row.role))},
                            {"hardware_tag", tag},
                            {"slots", row.slots},
                            {"connected", false},
                            {"credits", 0},
                            {"running", nlohmann::json::array()},
                            {"quarantined", false},
                            {"last_seen_ms", row.last_seen_ms}};
  }
  for (const WorkerView& w : connected) {
    fleet[w.worker_id] = {{"worker_id", w.worker_id},
                          {"role", lower(wire::EnumNameRole(w.role))},
                          {"hardware_tag", w.hardware_tag},
                          {"slots", w.slots},
                          {"connected", true},
                          {"credits", w.credits},
                          {"running", w.running},
                          {"quarantined", w.quarantined},
                          {"last_seen_ms", w.last_seen_ms}};
  }
  nlohmann::json out = nlohmann::json::array();
  for (auto& [id, w] : fleet) out.push_back(std::move(w));
  return out;
}

}  // namespace autodistill::daemon::web
