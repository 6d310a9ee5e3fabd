#pragma once
// The controller's internal state and helpers, shared by its translation
// units (controller.cpp, controller/, protocol/). Not a public header.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/controller.hpp"
#include "autodistill/daemon/study_spec.hpp"
#include "autodistill/glue_settings.hpp"
#include "autodistill/study_settings.hpp"
#include "protocol/session_registry.hpp"
#include "study/candidate_book.hpp"
#include "study/leases.hpp"
#include "study/lifecycle.hpp"
#include "study/probe_cache.hpp"
#include "study/scheduler.hpp"
#include "study/trials.hpp"

namespace autodistill::daemon {

using study::failure_summary;
using study::is_terminal;
using study::none_completed;
using study::objectives_for;
using study::role_of;
using study::study_state_name;
using study::study_uses;
using wire::Message;
using wire::Role;
using wire::StudyKind;
using wire::StudyState;
using wire::TrialKind;
using wire::TrialState;

inline constexpr uint32_t kMaxSlots = 1024;
inline constexpr uint32_t kReplayBatch = 1000;
inline constexpr const char* kDaemonVersion = "autodistilld 0.1.0";
// Worker-registry pruning and partial-upload expiry run at most this often.
inline constexpr int64_t kHousekeepingMs = 1000;
// Worker rows deleted per housekeeping pass at most (bounds one batch).
inline constexpr uint32_t kPruneBatch = 10000;

// The wire form of a stored event (watch replay and live streaming).
wire::EventT event_message(const EventRow& row);

// The probe cache's key of the study's serving setting (settings.serving);
// the architecture's is study::arch_key().
inline std::string serving_key(const std::string& settings_json) {
  auto settings = parse_study_settings_text(settings_json, "spec.settings_json");
  return settings ? settings->serving_key() : "{}";
}

struct Controller::Study {
  StudyRow row;
  wire::StudySpecT spec;
  uint32_t parallelism = 1;
  uint32_t max_attempts = 1;
  std::unique_ptr<Proposer> proposer;
  bool has_baseline = false;  // candidate 0 is spec.baseline
  bool exhausted = false;
  bool wall_spent = false;        // max_wall_seconds passed: nothing new is proposed
  bool suggesting = false;        // a suggestion job is in flight
  study::CandidateBook book;      // candidates: stages, open trials, failures
  GlueSettings glue;              // settings.glue: the GLUE tasks (none: no Finetune trials)
  std::deque<uint64_t> ready[3];  // queued trial ids, by Role (stale ids are skipped)
  uint64_t seq = 0;               // last durable event seq
  StudyState state() const { return row.state; }
};

struct Controller::Trial {
  TrialRow row;
  int64_t ready_ms = 0;       // when it was last queued (dispatch latency)
  int64_t not_before_ms = 0;  // not leased before (a re-probe's backoff)
  Role role = Role::External;
  std::vector<std::string> objectives;
  float progress = 0;
  // Workers whose lease of this trial expired: other workers are preferred.
  std::set<std::string> expired_with;
  // Workers it runs on at once (> 1: a gang, docs/protocol.md "Gangs").
  uint32_t ranks = 1;
  // The leased attempt's leases, one per rank (rank 0: row.worker_id); the
  // live expiry times (row.lease_expires_ms is rank 0's as stored when it
  // was leased). Empty while queued.
  study::Leases leases;
  // The rank `worker_id` holds in the leased attempt, or -1.
  int rank_of(const std::string& worker_id) const {
    return row.state == wire::TrialState::Leased ? leases.rank_of(worker_id) : -1;
  }
};

// How many workers a trial of this kind runs on at once in study `spec`.
inline uint32_t ranks_for(const wire::StudySpecT& spec, wire::TrialKind kind) {
  return kind == wire::TrialKind::Regular && spec.regular_ranks > 1 ? spec.regular_ranks : 1;
}

}  // namespace autodistill::daemon
