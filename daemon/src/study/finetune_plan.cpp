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

Params finetune_params(const std::string& task) {
  wire::ParamValueT p;
  p.name = kGlueTaskParam;
  p.category = task;
  return {p};
}

std::string finetune_task_of(const Params& params) {
  for (const auto& p : params) {
    if (p.name == kGlueTaskParam && !p.category.empty()) return p.category;
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
      if (t.candidate == candidate && t.kind == TrialKind::Regular &&
          t.state == TrialState::Completed) {
        regular = &t;
      }
    }
    if (regular == nullptr || regular->artifacts.empty()) {
      return Status(Code::kFailedPrecondition,
                    "candidate " + std::to_string(candidate) + " has no delivered student",
                    "settings.finetune.model");
    }
    model = nlohmann::json::object();
    for (const BlobRef& a : regular->artifacts) model[a.name] = a.digest;
  }
  return finetune_trial_settings(glue, task, model).dump();
}

std::string finetune_summary(const std::vector<TrialRow>& trials) {
  std::vector<TrialRow> finetunes;
  for (const TrialRow& t : trials) {
    if (t.kind == TrialKind::Finetune) finetunes.push_back(t);
  }
  if (finetunes.empty()) return "";
  size_t done = 0;
  for (const TrialRow& t : finetunes) done += t.state == TrialState::Completed;
  std::string out = "fine-tuning: " + std::to_string(done) + " of " +
                    std::to_string(finetunes.size()) + " trials completed";
  if (done < finetunes.size()) {
    out += "; " + failure_summary(finetunes, "Finetune trials");
  }
  return out;
}

}  // namespace autodistill::daemon::study
