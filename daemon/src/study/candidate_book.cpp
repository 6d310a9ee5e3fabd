#include "study/candidate_book.hpp"

#include <algorithm>

namespace autodistill::daemon::study {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kProposed:
      return "proposed";
    case Stage::kProbe:
      return "probe";
    case Stage::kProbed:
      return "probed";
    case Stage::kFlash:
      return "flash";
    case Stage::kExternal:
      return "external";
    case Stage::kFlashSkipped:
      return "flash_skipped";
    case Stage::kExplored:
      return "explored";
    case Stage::kRegular:
      return "regular";
    case Stage::kDelivered:
      return "delivered";
    case Stage::kFinetune:
      return "finetune";
    case Stage::kFinetuned:
      return "finetuned";
    case Stage::kFailed:
      return "failed";
  }
  return "unknown";
}

void CandidateBook::see(uint32_t candidate) {
  next_ = std::max(next_, candidate + 1);
  stages_.emplace(candidate, Stage::kProposed);
}

uint32_t CandidateBook::propose() {
  const uint32_t candidate = next_;
  see(candidate);
  return candidate;
}

Stage CandidateBook::stage(uint32_t candidate) const {
  auto it = stages_.find(candidate);
  return it == stages_.end() ? Stage::kProposed : it->second;
}

void CandidateBook::queued(uint32_t candidate, wire::TrialKind kind) {
  if (candidate == kTeacherCandidate) {
    teacher_finetunes_ = true;
    open_[candidate]++;
    return;
  }
  see(candidate);
  open_[candidate]++;
  Stage& stage = stages_[candidate];
  if (stage == Stage::kFailed) return;
  switch (kind) {
    case wire::TrialKind::Probe:
      // A re-probe (docs/probe.md) refines a measured latency: the stage stays.
      if (stage == Stage::kProposed) stage = Stage::kProbe;
      break;
    case wire::TrialKind::Flash:
      stage = Stage::kFlash;
      break;
    case wire::TrialKind::External:
      stage = Stage::kExternal;
      break;
    case wire::TrialKind::Regular:
      stage = Stage::kRegular;
      break;
    case wire::TrialKind::Finetune:
      if (stage == Stage::kDelivered) stage = Stage::kFinetune;
      break;
  }
}

Ended CandidateBook::ended(uint32_t candidate, wire::TrialKind kind, wire::TrialState state) {
  Ended out;
  auto close = [&] {
    auto open = open_.find(candidate);
    if (open != open_.end() && --open->second == 0) open_.erase(open);
    out.closed = open_.count(candidate) == 0;
  };
  if (kind == wire::TrialKind::Finetune) {
    // A fine-tuning measures a delivered model: its failure is shown, not
    // the candidate's.
    if (state == wire::TrialState::Failed) finetunes_failed_++;
    close();
    if (candidate != kTeacherCandidate && out.closed) {
      Stage& stage = stages_[candidate];
      if (stage == Stage::kFinetune) stage = Stage::kFinetuned;
    }
    return out;
  }
  see(candidate);
  Stage& stage = stages_[candidate];
  const bool completed = state == wire::TrialState::Completed;
  if (completed && kind == wire::TrialKind::Flash) complete_++;
  // In a study that is still active, a cancelled flash was skipped.
  if (state == wire::TrialState::Cancelled && kind == wire::TrialKind::Flash) {
    skipped_.insert(candidate);
  }
  // A failed re-probe leaves the candidate its earlier measurement.
  const bool reprobe = kind == wire::TrialKind::Probe && probed(candidate);
  if (completed && kind == wire::TrialKind::Probe) probed_.insert(candidate);
  if (state == wire::TrialState::Failed && !reprobe) {
    if (stage != Stage::kFailed) {
      stage = Stage::kFailed;
      failed_++;
      out.newly_failed = true;
    }
  } else if (stage != Stage::kFailed) {
    switch (kind) {
      case wire::TrialKind::Probe:
        // The flash may already be queued (or skipped) by the time the probe ends.
        if (completed && stage == Stage::kProbe) stage = Stage::kProbed;
        break;
      case wire::TrialKind::Flash:
        if (completed) stage = Stage::kExplored;
        if (state == wire::TrialState::Cancelled) stage = Stage::kFlashSkipped;
        break;
      case wire::TrialKind::External:
        if (completed) stage = Stage::kExplored;
        break;
      case wire::TrialKind::Regular:
        if (completed) stage = Stage::kDelivered;
        break;
      case wire::TrialKind::Finetune:
        break;  // handled above
    }
  }
  close();
  return out;
}

void CandidateBook::fold(const TrialRow& row) {
  const auto kind = row.kind;
  const auto state = row.state;
  queued(row.candidate, kind);
  if (state >= wire::TrialState::Completed) ended(row.candidate, kind, state);
}

}  // namespace autodistill::daemon::study
