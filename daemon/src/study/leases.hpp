#pragma once
// The leases of one leased attempt (docs/protocol.md "Leases" and "Gangs"):
// one per rank, rank 0 first; a single trial has one rank. A lease is
// renewed by its holder's signs of life (a Heartbeat naming the trial, a
// Checkpoint), stretched by a Hello that names the trial or by recovery
// (never shortened), and ends when it runs out (the attempt then ends for
// every rank) or, for a gang's rank > 0, when that rank's Result comes.
// Pure bookkeeping: no clock (times are passed in), no I/O, no sessions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autodistill::daemon::study {

class Leases {
 public:
  struct Lease {
    std::string worker_id;
    int64_t expires_ms = 0;
    bool ended = false;  // its rank's Result came: no lease any more
  };

  // Nothing leased (a queued or finished trial).
  Leases() = default;
  // Rank r of the attempt leased to holders[r], every lease until `until_ms`.
  Leases(const std::vector<std::string>& holders, int64_t until_ms);

  bool empty() const { return leases_.empty(); }
  // More than one rank: a gang attempt.
  bool gang() const { return leases_.size() > 1; }
  // Every rank's lease, rank 0 first, ended ones included.
  const std::vector<Lease>& all() const { return leases_; }

  // The rank `worker_id` holds (ended or not), or -1.
  int rank_of(std::string_view worker_id) const;
  // Whether `rank` exists and its lease has not ended.
  bool held(int rank) const;
  // When `rank`'s lease runs out; 0 for a rank that does not exist.
  int64_t expires_ms(int rank) const;

  // A sign of life from `rank`'s holder: its lease now runs until
  // `until_ms`. Nothing for an ended or unknown rank.
  void renew(int rank, int64_t until_ms);
  // Its lease runs until at least `until_ms` (a reconnecting Hello,
  // recovery's grace): never shortened. Nothing for an ended or unknown rank.
  void extend_to(int rank, int64_t until_ms);
  // `rank`'s holder reported its end: its lease ends. False when it had
  // already ended or the rank does not exist.
  bool end(int rank);

  // The holder of the first held lease that ran out by `now_ms` (the
  // lowest rank), or nothing.
  std::optional<std::string> expired(int64_t now_ms) const;

 private:
  std::vector<Lease> leases_;
};

}  // namespace autodistill::daemon::study
