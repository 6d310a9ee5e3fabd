#pragma once
// The daemon's counters and latency histograms, rendered in the Prometheus
// text exposition format (version 0.0.4). Gauges that describe current
// state (studies by state, queue depth, ...) are computed at scrape time by
// the Controller; this file holds what accumulates between scrapes.
// Not thread-safe: updated and rendered on the event-loop thread.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autodistill::daemon {

// Cumulative histogram with fixed buckets in seconds.
class Histogram {
 public:
  static constexpr std::array<double, 13> kBounds = {
      0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  void observe(double seconds);
  // `name`_bucket{le=...}, `name`_sum, `name`_count, with HELP and TYPE.
  std::string render(const std::string& name, const std::string& help) const;
  uint64_t count() const { return count_; }

 private:
  std::array<uint64_t, kBounds.size()> buckets_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct Metrics {
  Histogram store_commit;  // one group commit (fsync included)
  Histogram suggestion;    // one suggestion job (off the event loop)
  Histogram dispatch;      // a trial from queued to leased
  uint64_t messages_worker = 0;
  uint64_t messages_client = 0;
  uint64_t bad_messages = 0;
  uint64_t results = 0;
  uint64_t failures = 0;
  uint64_t lease_expiries = 0;
  uint64_t blob_bytes_in = 0;
  uint64_t blob_bytes_out = 0;
  uint64_t commit_failures = 0;
  uint64_t rate_limited = 0;
  uint64_t flash_skipped = 0;             // flash trials skipped (skip_dominated_flash)
  uint64_t reports_refused = 0;           // Results / Failures from a worker not holding the lease
  uint64_t quarantines = 0;               // workers quarantined after a lease expiry
  uint64_t reprobes = 0;                  // re-probes queued after an unconverged probe
  uint64_t latency_unconverged = 0;       // candidates marked: no probe of theirs converged
  uint64_t checkpoints = 0;               // checkpoints recorded (a trial's newest replaced)
  uint64_t checkpoint_blobs_deleted = 0;  // released checkpoint blobs deleted

  std::string render() const;
};

// Label name -> value, in order.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A label value escaped for the text format: backslash, double quote and
// line feed become \\, \" and \n. Every label value goes through it, so
// no value (a worker's hardware tag, a study's) can end its label or line.
std::string escape_label_value(std::string_view value);

// An enum's name as a label value: snake_case ("Probe" -> "probe",
// "LeaseExpired" -> "lease_expired"). Every enum label value of /metrics
// (role, state) goes through it.
std::string label_name(std::string_view enum_name);

// The `tag` label of the queue-depth and worker gauges: the hardware tag
// where one routes the work (probe trials of a study with a hardware_tag,
// probe workers with a tag), "any" elsewhere (distill and external work
// goes to any worker of its role, whatever its tag).
inline constexpr const char* kAnyTag = "any";

// One sample line: `name{label="value",...} value`, values escaped.
std::string metric_line(const std::string& name, const Labels& labels, double value);

}  // namespace autodistill::daemon
