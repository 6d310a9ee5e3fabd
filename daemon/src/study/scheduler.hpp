#pragma once
// The scheduler: which queued trials go to which free workers in one
// dispatch turn. Pure data: no I/O, no clock (`now` is passed in), no
// controller state; the controller builds the views, calls schedule() and
// applies the plan (a lease per assigned rank). Tested on its own
// (tests/daemon/scheduler_test.cpp).
//
// Rules (docs/daemon.md "Scheduling"):
// - Workers are served in the order given; each takes trials while it has
//   credit. Each trial comes from the active, eligible study with the
//   fewest trials of the worker's role running (`running`, plus what this
//   turn assigned), ties in the order given; within a study, its ready
//   queue of that role front to back. Studies sharing workers therefore
//   share them evenly (max-min) and none waits for another to run out of
//   work; a study that cannot use its share leaves it to the others.
// - A worker may run a study's trials when its role matches the queue; an
//   External worker only for the studies it names; a Probe worker only
//   with the study's hardware tag (when the study has one). A quarantined
//   worker gets nothing.
// - A trial waits until its not_before_ms (a re-probe's backoff).
// - A trial whose lease a worker let expire goes to another worker when one
//   could take it (connected, same role, eligible, not quarantined, not
//   expired with it itself; whether it has credit now does not matter).
// - A trial that needs N > 1 ranks (a gang) is leased only to N distinct
//   eligible workers that each have a free credit in this turn, all at
//   once or not at all; workers that did not let its lease expire are
//   chosen first. When it cannot be formed, every eligible free worker
//   that reaches it keeps one credit for it for the rest of the turn
//   (a reservation), so single trials behind it cannot starve it: the gang
//   forms as soon as N workers are free at once. No reservation while
//   fewer than N eligible, unquarantined workers are connected at all (the
//   gang could not form; other trials go on).
// - Queue entries of trials no longer queued (`queued` false) are stale:
//   reported for removal wherever a scan meets them.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon::study {

inline constexpr int kRoles = 3;  // wire::Role values 0..2 (ready queues)

struct QueuedTrialView {
  uint64_t trial_id = 0;
  bool queued = true;         // false: a stale entry (the trial was leased, cancelled or ended)
  int64_t not_before_ms = 0;  // not leased before
  // Workers whose lease of this trial expired (null: none). Not owned.
  const std::set<std::string>* expired_with = nullptr;
  uint32_t ranks = 1;  // workers needed at once (> 1: a gang)
};

struct StudyQueueView {
  uint64_t study_id = 0;
  bool active = true;        // Exploring or Finalizing: its trials may be leased
  std::string hardware_tag;  // the study's (Probe workers must match it when not empty)
  std::vector<QueuedTrialView> ready[kRoles];  // by wire::Role, front first
  // Workers running its trials now, by wire::Role (a gang counts its ranks).
  uint32_t running[kRoles] = {};
};

struct WorkerView {
  std::string worker_id;
  wire::Role role = wire::Role::External;
  uint32_t credits = 0;
  std::string hardware_tag;
  std::vector<uint64_t> studies;  // an External worker's studies
  bool quarantined = false;
};

struct Assignment {
  uint64_t study_id = 0;
  uint64_t trial_id = 0;
  // Indices into the workers given, by rank (one for a single trial).
  std::vector<size_t> workers;
};

struct QueueEntry {
  uint64_t study_id = 0;
  int role = 0;
  uint64_t trial_id = 0;
};

struct Plan {
  std::vector<Assignment> assignments;  // in the order they were made
  // Every assigned trial's queue entry and the stale entries met: the
  // controller removes them from its ready queues.
  std::vector<QueueEntry> dequeued;
};

// May `w` run the trials of `s`? (Role is the queue's, checked by callers.)
bool eligible(const WorkerView& w, const StudyQueueView& s);

Plan schedule(const std::vector<StudyQueueView>& studies, const std::vector<WorkerView>& workers,
              int64_t now);

}  // namespace autodistill::daemon::study
