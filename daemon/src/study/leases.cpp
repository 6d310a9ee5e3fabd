#include "study/leases.hpp"

#include <algorithm>

namespace autodistill::daemon::study {

Leases::Leases(const std::vector<std::string>& holders, int64_t until_ms) {
  leases_.reserve(holders.size());
  for (const std::string& id : holders) leases_.push_back({id, until_ms, false});
}

int Leases::rank_of(std::string_view worker_id) const {
  for (size_t r = 0; r < leases_.size(); ++r) {
    if (leases_[r].worker_id == worker_id) return static_cast<int>(r);
  }
  return -1;
}

bool Leases::held(int rank) const {
  return rank >= 0 && static_cast<size_t>(rank) < leases_.size() && !leases_[rank].ended;
}

int64_t Leases::expires_ms(int rank) const {
  return rank >= 0 && static_cast<size_t>(rank) < leases_.size() ? leases_[rank].expires_ms : 0;
}

void Leases::renew(int rank, int64_t until_ms) {
  if (held(rank)) leases_[rank].expires_ms = until_ms;
}

void Leases::extend_to(int rank, int64_t until_ms) {
  if (held(rank)) leases_[rank].expires_ms = std::max(leases_[rank].expires_ms, until_ms);
}

bool Leases::end(int rank) {
  if (!held(rank)) return false;
  leases_[rank].ended = true;
  return true;
}

std::optional<std::string> Leases::expired(int64_t now_ms) const {
  for (const Lease& l : leases_) {
    if (!l.ended && l.expires_ms <= now_ms) return l.worker_id;
  }
  return std::nullopt;
}

}  // namespace autodistill::daemon::study
