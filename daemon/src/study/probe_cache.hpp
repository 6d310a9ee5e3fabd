#pragma once
// The probe cache: a latency measurement is reused by any study that probes
// the same architecture, at the same serving setting, on hardware with the
// same fingerprint (docs/probe.md). This class holds the fingerprints seen
// per hardware tag (in memory: Hellos and the worker registry) and the
// reuse rules; the measurements themselves are rows of the store, reached
// through the narrow Rows seam (Store::find_probe / put_probe; an in-memory
// twin in tests).
//
// Not thread-safe: the controller's loop thread drives it.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "autodistill/daemon/store.hpp"

namespace autodistill::daemon::study {

// The cache's canonical key of an architecture: its factors as a JSON
// object sorted by factor name.
std::string arch_key(const Params& params);

class ProbeCache {
 public:
  // Where the measurements are kept.
  class Rows {
   public:
    virtual ~Rows() = default;
    // The measurement of (arch, serving, fingerprint); none when there is
    // none, an error when it could not be read.
    virtual Result<std::optional<ProbeRow>> find(const std::string& arch,
                                                 const std::string& serving,
                                                 const std::string& fingerprint) = 0;
    // Stores (or replaces) the measurement of (row.arch, row.serving, row.fingerprint).
    virtual void put(const ProbeRow& row) = 0;
  };

  // A cached measurement a new probe can be completed with.
  struct Hit {
    Values objectives;  // exactly the objectives asked for
    Values metrics;     // the measurement's, with "cached_from_trial"
    std::string fingerprint;
    uint64_t trial_id = 0;  // the trial that measured it
  };

  explicit ProbeCache(Rows& rows) : rows_(rows) {}

  // A worker with this hardware is known (a Hello, the registry at
  // recovery); an empty fingerprint is not (nothing can match it).
  void saw_hardware(const std::string& tag, const std::string& fingerprint);

  // A measurement of `params` at serving setting `serving` by hardware of
  // tag `tag` that reports every objective in `wanted`; none when no known
  // fingerprint of that tag has one (unreadable rows count as none). The
  // fingerprints are tried in their sorted order; the first hit wins.
  std::optional<Hit> lookup(const std::string& tag, const Params& params,
                            const std::string& serving, const std::vector<std::string>& wanted);

  // A probe trial completed with `row`'s measurement: kept for reuse when
  // it is a Probe, measured by hardware with a fingerprint, and converged
  // (probe_converged()). Whether it was kept.
  bool record(const TrialRow& row, const std::string& serving, int64_t now_ms);

 private:
  Rows& rows_;
  std::map<std::string, std::set<std::string>> fingerprints_by_tag_;
};

// The Rows of a Store (its probe_cache table).
class StoreProbeRows final : public ProbeCache::Rows {
 public:
  explicit StoreProbeRows(Store& store) : store_(store) {}
  Result<std::optional<ProbeRow>> find(const std::string& arch, const std::string& serving,
                                       const std::string& fingerprint) override {
    return store_.find_probe(arch, serving, fingerprint);
  }
  void put(const ProbeRow& row) override { store_.put_probe(row); }

 private:
  Store& store_;
};

}  // namespace autodistill::daemon::study
