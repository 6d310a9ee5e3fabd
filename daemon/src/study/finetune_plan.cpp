#include "study/finetune_plan.hpp"

#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "study/trials.hpp"

namespace autodistill::daemon::study {

using wire::TrialKind;
using wire::TrialState;

std::vector<PlannedFinetune> owed_finetunes(const GlueSettings& glue, const CandidateBook& book) {
  std::vector<PlannedFinetune> out;
  if (glue.tasks.empty()) return out;
  bool delivered = false;
  for (const auto& [candidate, stage] : book.stages()) {
    if (stage == Stage::kFinetune || stage == Stage::kFinetuned) delivered = true;
    if (stage != Stage::kDelivered) continue;
    delivered = true;
    for (const auto& [task, digest] : glue.tasks) out.push_back({candidate, task});
  }
  if (delivered && !book.teacher_finetunes_queued()) {
    for (const auto& [task, digest] : glue.tasks) out.push_back({kTeacherCandidate, task});
  }
  return out;
}

std::string finetune_params_json(const std::string& task) {
  return nlohmann::json::array({{{"name", kGlueTaskParam}, {"category", task}}}).dump();
}

std::string finetune_task_of(const std::string& params_json) {
  auto parsed = parse_json(params_json.empty() ? "[]" : params_json, "params");
  if (!parsed || !parsed->is_array()) return "";
  for (const auto& p : parsed.value()) {
    if (p.is_object() && p.value("name", "") == kGlueTaskParam && p.contains("category") &&
        p["category"].is_string()) {
      return p["category"].get<std::string>();
    }
  }
  return "";
}

Result<std::string> finetune_settings_json(const GlueSettings& glue, uint32_t candidate,
                                           const std::string& task,
                                           const std::vector<TrialRow>& trials) {
  if (!glue.tasks.count(task)) {
    return Status(Code::kInvalidArgument, "the study names no GLUE task \"" + task + "\"",
                  "settings.glue.tasks");
  }
  nlohmann::json model = "teacher";
  if (candidate != kTeacherCandidate) {
    const TrialRow* regular = nullptr;
    for (const TrialRow& t : trials) {
      if (t.candidate == candidate && t.kind == static_cast<int>(TrialKind::Regular) &&
          t.state == static_cast<int>(TrialState::Completed)) {
        regular = &t;
      }
    }
    auto artifacts =
        regular ? parse_json(regular->artifacts_json.empty() ? "[]" : regular->artifacts_json,
                             "artifacts")
                : Result<nlohmann::json>(Status(Code::kFailedPrecondition, "none"));
    if (!artifacts || !artifacts->is_array() || artifacts->empty()) {
      return Status(Code::kFailedPrecondition,
                    "candidate " + std::to_string(candidate) + " has no delivered student",
                    "settings.finetune.model");
    }
    model = nlohmann::json::object();
    for (const auto& a : artifacts.value()) {
      if (a.is_object() && a.contains("name") && a["name"].is_string() && a.contains("digest")) {
        model[a["name"].get<std::string>()] = a["digest"];
      }
    }
  }
  return finetune_trial_settings(glue, task, model).dump();
}

std::string finetune_summary(const std::vector<TrialRow>& trials) {
  std::vector<TrialRow> finetunes;
  for (const TrialRow& t : trials) {
    if (t.kind == static_cast<int>(TrialKind::Finetune)) finetunes.push_back(t);
  }
  if (finetunes.empty()) return "";
  size_t done = 0;
  for (const TrialRow& t : finetunes) done += t.state == static_cast<int>(TrialState::Completed);
  std::string out = "fine-tuning: " + std::to_string(done) + " of " +
                    std::to_string(finetunes.size()) + " trials completed";
  if (done < finetunes.size()) {
    out += "; " + failure_summary(finetunes, "Finetune trials");
  }
  return out;
}

}  // namespace autodistill::daemon::study
