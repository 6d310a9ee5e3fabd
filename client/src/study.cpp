#include "autodistill/study.hpp"

namespace autodistill {

const char* to_string(StudyKind kind) {
  switch (kind) {
    case StudyKind::kDistill:
      return "distill";
    case StudyKind::kExternal:
      return "external";
  }
  return "unknown";
}

const char* to_string(FactorKind kind) {
  switch (kind) {
    case FactorKind::kOrdinal:
      return "ordinal";
    case FactorKind::kCategorical:
      return "categorical";
    case FactorKind::kInteger:
      return "integer";
    case FactorKind::kContinuous:
      return "continuous";
  }
  return "unknown";
}

const char* to_string(Direction direction) {
  switch (direction) {
    case Direction::kMinimize:
      return "minimize";
    case Direction::kMaximize:
      return "maximize";
  }
  return "unknown";
}

const char* to_string(ObjectiveTransform transform) {
  switch (transform) {
    case ObjectiveTransform::kAuto:
      return "auto";
    case ObjectiveTransform::kNone:
      return "none";
    case ObjectiveTransform::kLog:
      return "log";
  }
  return "unknown";
}

const char* to_string(StudyState state) {
  switch (state) {
    case StudyState::kQueued:
      return "queued";
    case StudyState::kExploring:
      return "exploring";
    case StudyState::kSelecting:
      return "selecting";
    case StudyState::kFinalizing:
      return "finalizing";
    case StudyState::kSucceeded:
      return "succeeded";
    case StudyState::kFailed:
      return "failed";
    case StudyState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

const char* to_string(TrialKind kind) {
  switch (kind) {
    case TrialKind::kProbe:
      return "probe";
    case TrialKind::kFlash:
      return "flash";
    case TrialKind::kRegular:
      return "regular";
    case TrialKind::kExternal:
      return "external";
    case TrialKind::kFinetune:
      return "finetune";
  }
  return "unknown";
}

const char* to_string(TrialState state) {
  switch (state) {
    case TrialState::kQueued:
      return "queued";
    case TrialState::kLeased:
      return "leased";
    case TrialState::kCompleted:
      return "completed";
    case TrialState::kFailed:
      return "failed";
    case TrialState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

const char* to_string(WorkerRole role) {
  switch (role) {
    case WorkerRole::kDistill:
      return "distill";
    case WorkerRole::kProbe:
      return "probe";
    case WorkerRole::kExternal:
      return "external";
  }
  return "unknown";
}

const char* to_string(SelectionRule rule) {
  switch (rule) {
    case SelectionRule::kPareto:
      return "pareto";
    case SelectionRule::kTopK:
      return "top_k";
  }
  return "unknown";
}

std::optional<StudyKind> parse_study_kind(std::string_view name) {
  for (StudyKind kind : {StudyKind::kDistill, StudyKind::kExternal}) {
    if (name == to_string(kind)) return kind;
  }
  return std::nullopt;
}

std::optional<FactorKind> parse_factor_kind(std::string_view name) {
  for (FactorKind kind : {FactorKind::kOrdinal, FactorKind::kCategorical, FactorKind::kInteger,
                          FactorKind::kContinuous}) {
    if (name == to_string(kind)) return kind;
  }
  return std::nullopt;
}

std::optional<Direction> parse_direction(std::string_view name) {
  for (Direction direction : {Direction::kMinimize, Direction::kMaximize}) {
    if (name == to_string(direction)) return direction;
  }
  return std::nullopt;
}

std::optional<ObjectiveTransform> parse_objective_transform(std::string_view name) {
  for (ObjectiveTransform t :
       {ObjectiveTransform::kAuto, ObjectiveTransform::kNone, ObjectiveTransform::kLog}) {
    if (name == to_string(t)) return t;
  }
  return std::nullopt;
}

std::optional<SelectionRule> parse_selection_rule(std::string_view name) {
  for (SelectionRule rule : {SelectionRule::kPareto, SelectionRule::kTopK}) {
    if (name == to_string(rule)) return rule;
  }
  return std::nullopt;
}

bool is_terminal(StudyState state) {
  return state == StudyState::kSucceeded || state == StudyState::kFailed ||
         state == StudyState::kCancelled;
}

}  // namespace autodistill
