#pragma once
// The GLUE tasks a Distill study names in settings.glue (docs/study-spec.md,
// "GLUE tasks"), read the same way by the daemon (checks at submit, the
// Finetune trials' settings) and the client (the report's GLUE table):
//
//   {"glue": {"tasks": {"kjv-testament": "<sha256 of a task bundle>", ...},
//             "epochs": 2, "max_seq_len": 48, "learning_rate": 0.001, "threads": 1}}
//
// Every key besides "tasks" is a Finetune trial option
// (docs/distillation.md, "Finetune trials") passed through to each trial's
// settings.finetune. Header-only (nlohmann::json).
//
// Thread-safety: pure functions.

#include <cmath>
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
// (e.g. "spec.settings_json.glue.tasks.kjv" or ".epochs"). The option
// ranges are the fine-tuner's (workers/finetune/src/finetuner.cpp).
inline Result<GlueSettings> read_glue_settings(const nlohmann::json& glue,
                                               const std::string& prefix) {
  auto bad = [&](const std::string& key, const std::string& why) {
    const std::string field = key.empty() ? prefix : prefix + "." + key;
    return Status(Code::kInvalidArgument, field + " " + why, field);
  };
  if (!glue.is_object()) return bad("", "must be an object with \"tasks\"");
  GlueSettings out;
  auto tasks = glue.find("tasks");
  if (tasks == glue.end() || !tasks->is_object() || tasks->empty()) {
    return bad("tasks", "must be an object of task name -> task bundle digest (at least one)");
  }
  if (tasks->size() > kMaxGlueTasks) {
    return bad("tasks", "names " + std::to_string(tasks->size()) + " tasks; at most " +
                            std::to_string(kMaxGlueTasks));
  }
  for (const auto& [name, digest] : tasks->items()) {
    if (!is_glue_task_name(name)) {
      return bad("tasks", "has a task name that is not 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (!digest.is_string() || !wire::is_valid_digest(digest.get<std::string>())) {
      return bad("tasks." + name, "must be the sha256 digest of a task bundle");
    }
    out.tasks[name] = digest.get<std::string>();
  }
  auto integer = [&](const std::string& key, const nlohmann::json& v, int64_t lo,
                     int64_t hi) -> Status {
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
      return bad(key,
                 "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return Status::ok();
  };
  auto number = [&](const std::string& key, const nlohmann::json& v, double lo, double hi,
                    bool lo_open, bool hi_open) -> Status {
    const double x = v.is_number() ? v.get<double>() : NAN;
    const bool ok =
        std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    if (!ok) {
      return bad(key, std::string("must be a number in ") + (lo_open ? "(" : "[") +
                          nlohmann::json(lo).dump() + ", " + nlohmann::json(hi).dump() +
                          (hi_open ? ")" : "]"));
    }
    return Status::ok();
  };
  for (const auto& [key, v] : glue.items()) {
    Status s;
    if (key == "tasks") continue;
    if (key == "epochs") {
      s = integer(key, v, 1, 1000);
    } else if (key == "batch_size") {
      s = integer(key, v, 1, 65536);
    } else if (key == "max_seq_len") {
      s = integer(key, v, 4, 65536);
    } else if (key == "max_train_examples") {
      s = integer(key, v, 0, int64_t{1} << 40);
    } else if (key == "threads") {
      s = integer(key, v, 0, 1024);
    } else if (key == "seed") {
      if (!v.is_number_unsigned()) s = bad(key, "must be a non-negative integer");
    } else if (key == "learning_rate") {
      s = number(key, v, 0, 1e3, true, false);
    } else if (key == "warmup_fraction") {
      s = number(key, v, 0, 1, false, false);
    } else if (key == "weight_decay" || key == "dropout") {
      s = number(key, v, 0, 1, false, true);
    } else if (key == "clip_norm") {
      s = number(key, v, 0, 1e9, true, false);
    } else if (key == "pooling") {
      if (!v.is_string() || (v != "mean" && v != "cls"))
        s = bad(key, "must be \"mean\" or \"cls\"");
    } else {
      s = bad(key,
              "is not a GLUE setting (tasks, epochs, batch_size, max_seq_len, "
              "learning_rate, warmup_fraction, weight_decay, dropout, pooling, clip_norm, "
              "seed, max_train_examples, threads)");
    }
    if (!s) return s;
    out.options[key] = v;
  }
  return out;
}

// settings.glue of a study's settings JSON text: nullopt-like empty tasks
// when there is none; an error for text that does not parse as an object.
inline Result<GlueSettings> glue_settings_of(const nlohmann::json& settings,
                                             const std::string& prefix) {
  if (!settings.is_object() || !settings.contains("glue")) return GlueSettings{};
  return read_glue_settings(settings["glue"], prefix + ".glue");
}

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
