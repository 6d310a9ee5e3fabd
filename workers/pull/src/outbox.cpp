#include "outbox.hpp"

#include <algorithm>
#include <utility>

namespace autodistill::worker {

void Outbox::put(TrialKey key, std::string frame, uint64_t request_id, Clock::time_point sent) {
  entries_[key] = Entry{std::move(frame), request_id, sent};
}

std::optional<TrialKey> Outbox::erase_request(uint64_t request_id) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.request_id == request_id) {
      const TrialKey key = it->first;
      entries_.erase(it);
      return key;
    }
  }
  return std::nullopt;
}

std::vector<TrialKey> Outbox::keys() const {
  std::vector<TrialKey> keys;
  keys.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) keys.push_back(key);
  return keys;
}

std::vector<std::string> Outbox::take_due(Clock::time_point now, Clock::duration period) {
  std::vector<std::string> due;
  for (auto& [key, entry] : entries_) {
    if (period == Clock::duration::zero() || entry.sent + period <= now) {
      due.push_back(entry.frame);
      entry.sent = now;
    }
  }
  return due;
}

Outbox::Clock::time_point Outbox::next_due(Clock::duration period) const {
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [key, entry] : entries_) next = std::min(next, entry.sent + period);
  return next;
}

}  // namespace autodistill::worker
