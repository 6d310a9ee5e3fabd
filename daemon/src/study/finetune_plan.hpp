#pragma once
// The GLUE step of a Distill study as data (docs/study-spec.md, "GLUE
// tasks"): which Finetune trials a study with settings.glue still owes, the
// settings each one is assigned with, and how they went, for the study's
// message. No I/O.
//
// After a candidate's Regular trial delivers a student, one Finetune trial
// per task fine-tunes it (the model: its delivered files, {name: digest});
// with the first delivered student, one per task fine-tunes the teacher
// (candidate kTeacherCandidate, model "teacher"). A Finetune trial's params
// are one categorical, glue_task = the task's name.

#include <cstdint>
#include <string>
#include <vector>

#include "autodistill/daemon/store.hpp"
#include "autodistill/glue_settings.hpp"
#include "study/candidate_book.hpp"

namespace autodistill::daemon::study {

// A Finetune trial to queue: whose model, which task.
struct PlannedFinetune {
  uint32_t candidate = 0;  // kTeacherCandidate for the teacher
  std::string task;
};

// The Finetune trials not queued yet, in order: the delivered candidates'
// (by index, tasks by name), then the teacher's once a student was delivered.
std::vector<PlannedFinetune> owed_finetunes(const GlueSettings& glue, const CandidateBook& book);

// The params of a Finetune trial: {"name": "glue_task", "category": task}.
Params finetune_params(const std::string& task);
// The task a Finetune trial's params name; empty when none.
std::string finetune_task_of(const Params& params);

// The settings_json a Finetune trial is assigned with: settings.glue's
// options plus the model ("teacher", or the files of `candidate`'s completed
// Regular trial among `trials`) and the task's digest. kFailedPrecondition
// (field "settings.finetune.model") when the candidate has no delivered
// student; kInvalidArgument for a task the settings do not name.
Result<std::string> finetune_settings_json(const GlueSettings& glue, uint32_t candidate,
                                           const std::string& task,
                                           const std::vector<TrialRow>& trials);

// "fine-tuning: 6 of 6 trials completed" or "... 5 of 6 ...; 1 failed; last
// error: ..."; empty when `trials` holds no Finetune trial.
std::string finetune_summary(const std::vector<TrialRow>& trials);

}  // namespace autodistill::daemon::study
