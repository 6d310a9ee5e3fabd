#pragma once
// The outbox: every Result / Failure frame the worker produced, kept until
// the daemon's matching Ack (docs/protocol.md, "Outbox"). It lives as long as
// the PullWorker, so it survives reconnects. Not thread-safe (loop thread).

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace autodistill::worker {

struct TrialKey {
  uint64_t trial_id = 0;
  uint32_t attempt = 0;
  auto operator<=>(const TrialKey&) const = default;
};

class Outbox {
 public:
  using Clock = std::chrono::steady_clock;

  // Stores the encoded report for `key` (its envelope's `request_id`),
  // replacing an earlier one. `sent` is when it was last sent
  // (Clock::time_point{} = never).
  void put(TrialKey key, std::string frame, uint64_t request_id, Clock::time_point sent);
  // Drops the entry (Ack or Cancel). Returns whether there was one.
  bool erase(TrialKey key) { return entries_.erase(key) > 0; }
  // Drops the entry whose frame carries `request_id` (the daemon refused
  // that report for good); its key, or nullopt when none.
  std::optional<TrialKey> erase_request(uint64_t request_id);
  bool contains(TrialKey key) const { return entries_.count(key) > 0; }
  bool empty() const { return entries_.empty(); }
  std::vector<TrialKey> keys() const;

  // Frames last sent at least `period` ago (all of them for period 0), which
  // are marked as sent at `now`.
  std::vector<std::string> take_due(Clock::time_point now, Clock::duration period);
  // When the next entry falls due; Clock::time_point::max() when empty.
  Clock::time_point next_due(Clock::duration period) const;

 private:
  struct Entry {
    std::string frame;
    uint64_t request_id = 0;
    Clock::time_point sent;
  };
  std::map<TrialKey, Entry> entries_;
};

}  // namespace autodistill::worker
