#pragma once
// What an Evaluator sees of one trial: the assignment (TrialSpec), a scratch
// directory, a progress sink, the cancellation flag and blob fetching.
//
// Thread-safety: every member function may be called from any thread at any
// time (the pull loop reads progress and sets the cancel flag while the
// evaluator runs on the trial's own thread).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill_generated.h"

namespace autodistill::worker {

// A factor's value: a number, or the label of a categorical factor.
using ParamValue = std::variant<double, std::string>;

// One assignment (wire Assign) in plain C++ types.
struct TrialSpec {
  uint64_t trial_id = 0;
  uint32_t attempt = 0;
  uint64_t study_id = 0;
  wire::TrialKind kind = wire::TrialKind::External;
  // Factor name -> value, for every factor of the study.
  std::map<std::string, ParamValue> params;
  // Names of the objectives the outcome must report, in study order.
  std::vector<std::string> objectives;
  // The study's settings, a JSON object as text ("" when the study set none).
  std::string settings_json;
  // Blobs the trial needs (fetch them with TrialContext::fetch_blob); "" when unused.
  std::string teacher_digest;
  std::string corpus_digest;
  // The study's hardware tag ("" when it set none).
  std::string hardware_tag;
};

// Converts a wire Assign. A ParamValue with a non-empty `category` is a label,
// otherwise its `number` is the value.
TrialSpec trial_spec_from_assign(const wire::AssignT& assign);

// The latest progress an evaluator reported.
struct ProgressReport {
  double fraction = 0.0;  // 0..1, clamped
  std::string message;
  std::map<std::string, double> metrics;  // e.g. loss so far
};

// Returns the local path of a blob, downloading it into the worker's cache
// first when needed; gives up with kCancelled once `cancelled()` is true.
using BlobFetcher = std::function<Result<std::filesystem::path>(
    const std::string& digest, const std::function<bool()>& cancelled)>;

class TrialContext {
 public:
  // `scratch_dir` must exist; the pull loop creates it per trial and deletes it
  // after the outcome (and its artifacts) have been handled. `fetcher` may be
  // empty, in which case fetch_blob fails with kFailedPrecondition.
  TrialContext(TrialSpec spec, std::filesystem::path scratch_dir, BlobFetcher fetcher = {});
  TrialContext(const TrialContext&) = delete;
  TrialContext& operator=(const TrialContext&) = delete;

  const TrialSpec& spec() const { return spec_; }
  uint64_t trial_id() const { return spec_.trial_id; }
  uint32_t attempt() const { return spec_.attempt; }
  // A directory private to this trial attempt; artifacts may be written here.
  const std::filesystem::path& scratch_dir() const { return scratch_dir_; }

  // Records progress; the pull loop sends the latest report with every
  // heartbeat. `fraction` is clamped to [0, 1].
  void report_progress(double fraction, std::string message = {},
                       std::map<std::string, double> metrics = {});
  ProgressReport progress() const;

  // True once the daemon cancelled the trial or the worker is stopping. An
  // evaluator should check it regularly and return promptly (any Status;
  // the outcome of a cancelled trial is dropped).
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Sleeps up to `duration`, waking early on cancel. Returns cancelled().
  bool wait_cancelled_for(std::chrono::milliseconds duration) const;
  // Sets the cancellation flag and wakes wait_cancelled_for(). Idempotent.
  void cancel();

  // Local path of blob `digest` (verified sha256), fetched over the worker's
  // blob connection into a digest-keyed cache. Codes: kInvalidArgument (not
  // a digest), kNotFound (the daemon does not hold it), kUnavailable (no
  // reply), kCancelled, kDigestMismatch.
  Result<std::filesystem::path> fetch_blob(const std::string& digest);

 private:
  const TrialSpec spec_;
  const std::filesystem::path scratch_dir_;
  const BlobFetcher fetcher_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cancel_cv_;
  ProgressReport progress_;
};

}  // namespace autodistill::worker
