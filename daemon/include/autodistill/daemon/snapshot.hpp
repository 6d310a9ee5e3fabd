#pragma once
// A read-only view of the controller's live state, for an operator's view
// (an HTTP page, a test): the active studies with each candidate's stage,
// and the connected workers. Plain values, copied out: holding one keeps
// nothing of the controller alive.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

struct CandidateView {
  uint32_t candidate = 0;
  std::string stage;  // study::stage_name(): "probe", "flash", "regular", "failed", ...
  bool open = false;  // a trial of it is queued or running
};

struct StudyView {
  uint64_t study_id = 0;
  std::string name;
  wire::StudyState state = wire::StudyState::Queued;
  std::string message;
  std::vector<CandidateView> candidates;  // by candidate index
};

struct WorkerView {
  std::string worker_id;
  wire::Role role = wire::Role::External;
  std::string hardware_tag;
  uint32_t credits = 0;
  size_t leased = 0;  // trials it holds now
  bool quarantined = false;
  uint32_t slots = 0;
  int64_t last_seen_ms = 0;
  std::vector<uint64_t> running;  // the trial ids it holds leases of
};

struct Snapshot {
  std::vector<StudyView> studies;       // the active ones, by id
  std::vector<WorkerView> workers;      // the connected ones, by worker_id
  std::map<uint64_t, double> progress;  // 0..1 of each active trial, by trial id
};

}  // namespace autodistill::daemon
