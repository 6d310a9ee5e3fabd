// The probe cache (daemon/src/study/probe_cache.hpp) over an in-memory twin
// of its store seam: which fingerprints are tried, which rows are reused,
// which measurements are kept.
#include <catch2/catch.hpp>
#include <map>
#include <tuple>

#include "autodistill/probe_choice.hpp"
#include "study/probe_cache.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::wire::TrialKind;

namespace {

// Probe rows by (arch, serving, fingerprint); counts the reads.
class MemoryRows : public study::ProbeCache::Rows {
 public:
  Result<std::optional<ProbeRow>> find(const std::string& arch, const std::string& serving,
                                       const std::string& fingerprint) override {
    reads.push_back(fingerprint);
    if (fingerprint == broken) return Status(Code::kInternal, "disk I/O error");
    auto it = rows.find({arch, serving, fingerprint});
    if (it == rows.end()) return std::optional<ProbeRow>();
    return std::optional<ProbeRow>(it->second);
  }
  void put(const ProbeRow& row) override { rows[{row.arch, row.serving, row.fingerprint}] = row; }

  std::map<std::tuple<std::string, std::string, std::string>, ProbeRow> rows;
  std::vector<std::string> reads;
  std::string broken;  // reading this fingerprint's row fails
};

Params arch(double hidden, double layers) {
  wire::ParamValueT h;
  h.name = "hidden_size";
  h.number = hidden;
  wire::ParamValueT l;
  l.name = "layers";
  l.number = layers;
  return {l, h};
}

const std::string kServing = R"({"batch_size":1})";

ProbeRow measured(const Params& params, const std::string& fingerprint, Values objectives,
                  uint64_t trial_id) {
  ProbeRow r;
  r.arch = study::arch_key(params);
  r.serving = kServing;
  r.fingerprint = fingerprint;
  r.objectives = std::move(objectives);
  r.metrics = {{"latency_ci_low", 1.0}};
  r.trial_id = trial_id;
  return r;
}

TrialRow probe_trial(const Params& params, std::string fingerprint, Values metrics) {
  TrialRow t;
  t.id = 42;
  t.kind = TrialKind::Probe;
  t.state = wire::TrialState::Completed;
  t.params = params;
  t.objectives = {{"latency_ms", 3.5}};
  t.metrics = std::move(metrics);
  t.fingerprint = std::move(fingerprint);
  return t;
}

}  // namespace

TEST_CASE("arch_key: the factors as a JSON object sorted by name", "[study][probe_cache]") {
  CHECK(study::arch_key(arch(128, 4)) == R"({"hidden_size":128.0,"layers":4.0})");
  Params reversed = arch(128, 4);
  std::swap(reversed[0], reversed[1]);
  CHECK(study::arch_key(reversed) == study::arch_key(arch(128, 4)));
}

TEST_CASE("ProbeCache::lookup: nothing before hardware of the tag is known",
          "[study][probe_cache]") {
  MemoryRows rows;
  rows.put(measured(arch(128, 4), "fp-a", {{"latency_ms", 2.0}}, 7));
  study::ProbeCache cache(rows);
  cache.saw_hardware("cpu", "");  // no fingerprint: nothing can match it
  cache.saw_hardware("gpu", "fp-a");
  CHECK_FALSE(cache.lookup("cpu", arch(128, 4), kServing, {"latency_ms"}));
  CHECK(rows.reads.empty());
}

TEST_CASE("ProbeCache::lookup: a known fingerprint's measurement of the same architecture",
          "[study][probe_cache]") {
  MemoryRows rows;
  rows.put(measured(arch(128, 4), "fp-a", {{"latency_ms", 2.0}, {"memory_mb", 9.0}}, 7));
  study::ProbeCache cache(rows);
  cache.saw_hardware("cpu", "fp-a");

  auto hit = cache.lookup("cpu", arch(128, 4), kServing, {"latency_ms"});
  REQUIRE(hit);
  CHECK(hit->objectives == Values{{"latency_ms", 2.0}});  // only what is asked for
  CHECK(hit->metrics == Values{{"latency_ci_low", 1.0}, {"cached_from_trial", 7.0}});
  CHECK(hit->fingerprint == "fp-a");
  CHECK(hit->trial_id == 7);

  CHECK_FALSE(cache.lookup("cpu", arch(256, 4), kServing, {"latency_ms"}));  // other arch
  CHECK_FALSE(cache.lookup("cpu", arch(128, 4), "{}", {"latency_ms"}));      // other serving
}

TEST_CASE("ProbeCache::lookup: a row lacking a wanted objective is passed over",
          "[study][probe_cache]") {
  MemoryRows rows;
  rows.put(measured(arch(128, 4), "fp-a", {{"latency_ms", 2.0}}, 7));
  rows.put(measured(arch(128, 4), "fp-b", {{"latency_ms", 2.5}, {"memory_mb", 9.0}}, 8));
  study::ProbeCache cache(rows);
  cache.saw_hardware("cpu", "fp-a");
  cache.saw_hardware("cpu", "fp-b");

  auto hit = cache.lookup("cpu", arch(128, 4), kServing, {"latency_ms", "memory_mb"});
  REQUIRE(hit);
  CHECK(hit->fingerprint == "fp-b");
  CHECK(rows.reads == std::vector<std::string>{"fp-a", "fp-b"});
}

TEST_CASE("ProbeCache::lookup: an unreadable row counts as none, the next fingerprint is tried",
          "[study][probe_cache]") {
  MemoryRows rows;
  rows.put(measured(arch(128, 4), "fp-a", {{"latency_ms", 2.0}}, 7));
  rows.put(measured(arch(128, 4), "fp-b", {{"latency_ms", 2.5}}, 8));
  rows.broken = "fp-a";
  study::ProbeCache cache(rows);
  cache.saw_hardware("cpu", "fp-b");
  cache.saw_hardware("cpu", "fp-a");

  auto hit = cache.lookup("cpu", arch(128, 4), kServing, {"latency_ms"});
  REQUIRE(hit);
  CHECK(hit->trial_id == 8);
}

TEST_CASE("ProbeCache::record: a converged probe with a fingerprint is kept for reuse",
          "[study][probe_cache]") {
  MemoryRows rows;
  study::ProbeCache cache(rows);
  REQUIRE(cache.record(probe_trial(arch(128, 4), "fp-a", {{kProbeConvergedMetric, 1}}), kServing,
                       1234));
  REQUIRE(rows.rows.size() == 1);
  const ProbeRow& kept = rows.rows.begin()->second;
  CHECK(kept.arch == study::arch_key(arch(128, 4)));
  CHECK(kept.serving == kServing);
  CHECK(kept.fingerprint == "fp-a");
  CHECK(kept.objectives == Values{{"latency_ms", 3.5}});
  CHECK(kept.trial_id == 42);
  CHECK(kept.created_ms == 1234);

  // Then found by a study on the same hardware.
  cache.saw_hardware("cpu", "fp-a");
  CHECK(cache.lookup("cpu", arch(128, 4), kServing, {"latency_ms"}));
}

TEST_CASE("ProbeCache::record: unconverged, unfingerprinted or non-probe results are not kept",
          "[study][probe_cache]") {
  MemoryRows rows;
  study::ProbeCache cache(rows);
  CHECK_FALSE(
      cache.record(probe_trial(arch(128, 4), "fp-a", {{kProbeConvergedMetric, 0}}), kServing, 1));
  CHECK_FALSE(cache.record(probe_trial(arch(128, 4), "", {}), kServing, 1));
  TrialRow flash = probe_trial(arch(128, 4), "fp-a", {});
  flash.kind = TrialKind::Flash;
  CHECK_FALSE(cache.record(flash, kServing, 1));
  CHECK(rows.rows.empty());
}
