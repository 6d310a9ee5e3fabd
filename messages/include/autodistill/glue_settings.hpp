#pragma once
// The GLUE tasks a Distill study names in settings.glue (docs/study-spec.md,
// "GLUE tasks"), read by the one settings codec (study_settings.hpp) for
// the daemon (checks at submit, the Finetune trials' settings) and the
// client (the report's GLUE table):
//
//   {"glue": {"tasks": {"kjv-testament": "<sha256 of a task bundle>", ...},
//             "epochs": 2, "max_seq_len": 48, "learning_rate": 0.001, "threads": 1}}
//
// Every key besides "tasks" is a Finetune trial option
// (docs/distillation.md, "Finetune trials") passed through to each trial's
// settings.finetune. Header-only (nlohmann::json).
//
// Thread-safety: pure functions.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "autodistill/status.hpp"
#include "autodistill/wire/digest.hpp"

namespace autodistill {

// At most this many tasks in one study (each costs a Finetune trial per model).
inline constexpr size_t kMaxGlueTasks = 16;
// A task name: 1..64 characters of A-Z a-z 0-9 . _ -
inline constexpr size_t kMaxGlueTaskName = 64;

// The candidate index of the teacher's Finetune trials (TrialInfo.candidate):
// the teacher is no candidate of the search.
inline constexpr uint32_t kTeacherCandidate = 0xFFFFFFFFu;
// A Finetune trial's one parameter: the task it fine-tunes on (the study's
// name for it), {"name": "glue_task", "category": "<name>"}.
inline constexpr const char* kGlueTaskParam = "glue_task";

struct GlueSettings {
  std::map<std::string, std::string> tasks;           // name -> task bundle digest, sorted
  nlohmann::json options = nlohmann::json::object();  // the Finetune options, checked
};

inline bool is_glue_task_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxGlueTaskName) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Reads settings.glue; kInvalidArgument naming `prefix` + the key at fault
// (e.g. "spec.settings_json.glue.tasks.kjv" or ".epochs"). The options are
// the Finetune options of the one settings codec (study_settings.hpp,
// read_finetune_knob). Defined in messages/src/study_settings.cpp.
Result<GlueSettings> read_glue_settings(const nlohmann::json& glue, const std::string& prefix);

// The settings of one Finetune trial: {"finetune": {options..., "model": model,
// "task": digest}} (docs/distillation.md, "Finetune trials").
inline nlohmann::json finetune_trial_settings(const GlueSettings& glue, const std::string& task,
                                              const nlohmann::json& model) {
  nlohmann::json finetune = glue.options;
  finetune["model"] = model;
  finetune["task"] = glue.tasks.at(task);
  return nlohmann::json{{"finetune", std::move(finetune)}};
}

}  // namespace autodistill
