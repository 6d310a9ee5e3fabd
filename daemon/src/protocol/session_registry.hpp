#pragma once
// The worker session registry: the sessions by ZeroMQ routing id, the
// worker_id -> routing id index, and the lease-expiry penalties (quarantine)
// per worker_id, which outlive sessions. No I/O, no clock (`now` is passed
// in), so it is tested on its own (tests/daemon/session_registry_test.cpp).
//
// Invariant (kept inside the class): peer_of(id) == p exactly when the
// session on routing id p has worker_id id. One worker_id has at most one
// session; one routing id carries at most one session.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon::protocol {

// One connected worker (from its Welcome until Bye, silence or replacement).
struct WorkerSession {
  std::string peer;  // ZeroMQ routing id
  std::string worker_id;
  std::string curve_key;  // the session's CURVE key; empty without CURVE
  wire::Role role = wire::Role::External;
  wire::HardwareT hardware;
  uint32_t slots = 1;
  std::vector<uint64_t> studies;
  uint32_t credits = 0;
  int64_t last_seen_ms = 0;
  int64_t last_sent_ms = 0;
  std::set<uint64_t> leased;
};

class SessionRegistry {
 public:
  using Sessions = std::unordered_map<std::string, std::unique_ptr<WorkerSession>>;

  // --- sessions
  // Registers `session` (its peer and worker_id set). It replaces the
  // session on the same routing id (maybe of another worker_id) and the
  // other session of the same worker_id (a reconnect).
  WorkerSession& start(std::unique_ptr<WorkerSession> session);
  // Forgets the session on `peer` (both indices); nothing when none.
  void end(const std::string& peer);
  // Forgets every session (penalties stay).
  void clear();
  // The session on `peer`, or nullptr.
  WorkerSession* find(const std::string& peer) const;
  // The session of `worker_id`, or nullptr.
  WorkerSession* session_of(const std::string& worker_id) const;
  bool connected(const std::string& worker_id) const { return peer_of_.count(worker_id) > 0; }
  size_t size() const { return sessions_.size(); }
  // Every session, by routing id (sessions are mutable, the indices are not).
  const Sessions& sessions() const { return sessions_; }

  // --- lease-expiry penalties (by worker_id, across sessions)
  struct Penalty {
    uint32_t expiries = 0;  // in a row, without a result in between
    int64_t last_ms = 0;    // the last expiry
    int64_t until_ms = 0;   // no new work before (from the second expiry in a row)
  };
  // How long a quarantine lasts: quarantine_ms from the second expiry in a
  // row, doubled with each further one up to quarantine_max_ms; 0 disables it.
  struct Quarantine {
    uint32_t ms = 30000;
    uint32_t max_ms = 600000;
  };
  // `worker_id` let a lease expire at `now`: counts it and returns how long
  // its (new) quarantine is in ms (0: none, a first expiry or disabled) and
  // the run of expiries in `expiries` (when not null).
  uint64_t penalize(const std::string& worker_id, int64_t now, const Quarantine& q,
                    uint32_t* expiries = nullptr);
  // `worker_id` delivered a result: its run of expiries is over (a running
  // quarantine ends when it expires).
  void delivered(const std::string& worker_id);
  bool quarantined(const std::string& worker_id, int64_t now) const;
  // Forgets penalties a q.max_ms past both their last expiry and the end of
  // their quarantine.
  void forget_stale_penalties(int64_t now, const Quarantine& q);
  // The penalty of `worker_id` (tests, views); nullptr when none.
  const Penalty* penalty(const std::string& worker_id) const;

 private:
  Sessions sessions_;                                     // by routing id
  std::unordered_map<std::string, std::string> peer_of_;  // worker_id -> routing id
  std::unordered_map<std::string, Penalty> penalties_;
};

}  // namespace autodistill::daemon::protocol
