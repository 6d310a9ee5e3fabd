// The worker session registry (session_registry.hpp).

#include "protocol/session_registry.hpp"

#include <algorithm>
#include <iterator>

namespace autodistill::daemon::protocol {

WorkerSession& SessionRegistry::start(std::unique_ptr<WorkerSession> session) {
  end(session->peer);
  if (auto old = peer_of_.find(session->worker_id); old != peer_of_.end()) end(old->second);
  const std::string peer = session->peer;
  peer_of_[session->worker_id] = peer;
  auto& slot = sessions_[peer];
  slot = std::move(session);
  return *slot;
}

void SessionRegistry::end(const std::string& peer) {
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) return;
  if (auto p = peer_of_.find(it->second->worker_id); p != peer_of_.end() && p->second == peer) {
    peer_of_.erase(p);
  }
  sessions_.erase(it);
}

void SessionRegistry::clear() {
  sessions_.clear();
  peer_of_.clear();
}

WorkerSession* SessionRegistry::find(const std::string& peer) const {
  auto it = sessions_.find(peer);
  return it == sessions_.end() ? nullptr : it->second.get();
}

WorkerSession* SessionRegistry::session_of(const std::string& worker_id) const {
  auto p = peer_of_.find(worker_id);
  return p == peer_of_.end() ? nullptr : find(p->second);
}

uint64_t SessionRegistry::penalize(const std::string& worker_id, int64_t now, const Quarantine& q,
                                   uint32_t* expiries) {
  Penalty& p = penalties_[worker_id];
  p.expiries++;
  p.last_ms = now;
  if (expiries != nullptr) *expiries = p.expiries;
  // One expiry may be bad luck (a stalled host, a network blip): it only
  // steers that trial elsewhere. From the second in a row, no new work.
  if (p.expiries < 2) return 0;
  const uint64_t ms = std::min<uint64_t>(q.max_ms, static_cast<uint64_t>(q.ms)
                                                       << std::min<uint32_t>(p.expiries - 2, 20));
  p.until_ms = std::max(p.until_ms, now + static_cast<int64_t>(ms));
  return ms;
}

void SessionRegistry::delivered(const std::string& worker_id) {
  if (auto p = penalties_.find(worker_id); p != penalties_.end()) p->second.expiries = 0;
}

bool SessionRegistry::quarantined(const std::string& worker_id, int64_t now) const {
  auto p = penalties_.find(worker_id);
  return p != penalties_.end() && p->second.until_ms > now;
}

void SessionRegistry::forget_stale_penalties(int64_t now, const Quarantine& q) {
  for (auto it = penalties_.begin(); it != penalties_.end();) {
    // Forgotten (the run of expiries is over) a q.max_ms after the last
    // expiry and the end of its quarantine.
    const bool stale =
        std::max(it->second.until_ms, it->second.last_ms) + static_cast<int64_t>(q.max_ms) < now;
    it = stale ? penalties_.erase(it) : std::next(it);
  }
}

const SessionRegistry::Penalty* SessionRegistry::penalty(const std::string& worker_id) const {
  auto p = penalties_.find(worker_id);
  return p == penalties_.end() ? nullptr : &p->second;
}

}  // namespace autodistill::daemon::protocol
