#pragma once
// The per-candidate state of a study, as data: no I/O, no clock, no proposer.
//
// A candidate moves through an explicit stage machine:
//
//   kProposed -> kProbe -> kProbed -> kFlash -> kExplored -> kRegular -> kDelivered
//                                 \-> kFlashSkipped
//   kDelivered -> kFinetune -> kFinetuned          (a study with GLUE tasks)
//
// A study without a probe queues the flash first (kProposed -> kFlash); an
// External study's one trial: kProposed -> kExternal -> kExplored. Any
// failed exploration or regular trial moves the candidate to kFailed, which
// stays. A failed Finetune trial does not: the student was delivered, and
// the failure is shown in the report (finetunes_failed()). The teacher's
// Finetune trials carry the candidate index kTeacherCandidate
// (glue_settings.hpp); they have no stage, only open trials, so a study
// waits for them like for any candidate. A checkpoint resume keeps the stage.
//
// The ONE fold: the controller calls queued() when it creates a trial and
// ended() when a trial reaches a terminal state; recovery replays every
// stored trial row through fold(), which is exactly queued() then, for a
// terminal row, ended(). So the state rebuilt after a restart is the state
// the live path had.
//
// Not thread-safe; owned by the controller's study.

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>

#include "autodistill/daemon/store.hpp"
#include "autodistill/glue_settings.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon::study {

enum class Stage : uint8_t {
  kProposed,      // numbered, no trial yet
  kProbe,         // its probe is queued or running
  kProbed,        // its probe completed; the flash is not decided yet
  kFlash,         // its flash trial is queued or running
  kExternal,      // its External trial (the one measurement) is queued or running
  kFlashSkipped,  // its flash was not worth running (skip_dominated_flash)
  kExplored,      // its exploration measurements are complete
  kRegular,       // selected: its regular distillation is queued or running
  kDelivered,     // its regular distillation completed: a student
  kFinetune,      // its GLUE Finetune trials are queued or running
  kFinetuned,     // its Finetune trials ended (completed or failed)
  kFailed,        // a trial failed: it can never be complete
};

const char* stage_name(Stage stage);

// What ended() changed, for the caller's effects.
struct Ended {
  bool newly_failed = false;  // the candidate failed now (stop its siblings, tell the proposer)
  bool closed = false;        // the candidate has no open trial left
};

class CandidateBook {
 public:
  // The index of a new candidate (the next after every one seen).
  uint32_t propose();
  // A trial of `candidate` was created (it is open until ended()).
  void queued(uint32_t candidate, wire::TrialKind kind);
  // A trial of `candidate` reached `state` (Completed, Failed or Cancelled).
  Ended ended(uint32_t candidate, wire::TrialKind kind, wire::TrialState state);
  // Replays one stored row: queued(), then ended() when the row is terminal.
  void fold(const TrialRow& row);

  Stage stage(uint32_t candidate) const;
  bool open(uint32_t candidate) const { return open_.count(candidate) > 0; }
  bool failed(uint32_t candidate) const { return stage(candidate) == Stage::kFailed; }
  // A cancelled flash that was not part of a failure: skipped.
  bool skipped(uint32_t candidate) const { return skipped_.count(candidate) > 0; }
  // Candidates with an open trial.
  size_t open_candidates() const { return open_.size(); }
  size_t failed_candidates() const { return failed_; }
  // Completed Flash trials (the candidates with both objectives measured).
  size_t complete() const { return complete_; }
  // Every candidate seen and its stage, by index.
  const std::map<uint32_t, Stage>& stages() const { return stages_; }
  // Candidates numbered so far (indices 0 .. next_candidate() - 1).
  uint32_t next_candidate() const { return next_; }
  // Were the teacher's Finetune trials queued (kTeacherCandidate)?
  bool teacher_finetunes_queued() const { return teacher_finetunes_; }
  // Finetune trials that failed (of students and the teacher).
  size_t finetunes_failed() const { return finetunes_failed_; }

 private:
  void see(uint32_t candidate);

  uint32_t next_ = 0;
  size_t complete_ = 0;
  size_t failed_ = 0;
  std::map<uint32_t, Stage> stages_;
  std::map<uint32_t, uint32_t> open_;  // candidate -> open trials (> 0)
  std::set<uint32_t> skipped_;         // candidates whose flash was cancelled
  bool teacher_finetunes_ = false;
  size_t finetunes_failed_ = 0;
};

}  // namespace autodistill::daemon::study
