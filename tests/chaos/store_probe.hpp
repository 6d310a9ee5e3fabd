#pragma once
// Read-only looks into a daemon's SQLite store, beside the live daemon (WAL
// lets a reader in while it writes). Chaos tests use it to check what is
// durable: one 'result' row per trial, a row for every acknowledged result,
// an intact database after a full disk.
//
// Each call opens its own read-only connection and closes it again, so a
// probe may outlive any number of daemon restarts. Thread-compatible.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "autodistill/status.hpp"

namespace autodistill::chaos {

// (trial_id, attempt): how the worker protocol names one attempt of a trial.
using TrialKey = std::pair<uint64_t, uint32_t>;

class StoreProbe {
 public:
  explicit StoreProbe(std::string db_path) : db_path_(std::move(db_path)) {}

  // trial_id -> number of rows of kind 'result' in the results table.
  Result<std::map<uint64_t, int>> result_rows_per_trial() const;
  // Every (trial_id, attempt) with a row of kind 'result'.
  Result<std::set<TrialKey>> result_keys() const;
  // The first line of PRAGMA integrity_check ("ok" when the file is sound).
  Result<std::string> integrity_check() const;

 private:
  std::string db_path_;
};

}  // namespace autodistill::chaos
