#pragma once
// What an Evaluator sees of one trial: the assignment (TrialSpec), a scratch
// directory, a progress sink, the cancellation flag, blob fetching, and for
// long trials background checkpoint publication and the gang rendezvous
// (docs/protocol.md "Checkpoints", "Gangs").
//
// Thread-safety: every member function may be called from any thread at any
// time (the pull loop reads progress and sets the cancel flag while the
// evaluator runs on the trial's own thread), except where a comment says
// "loop thread".

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill_generated.h"

namespace autodistill::worker {

// A factor's value: a number, or the label of a categorical factor.
using ParamValue = std::variant<double, std::string>;

// A blob as the wire names it (wire Artifact).
struct BlobRef {
  std::string name;    // e.g. "checkpoint.safetensors"
  std::string digest;  // lower-case hex sha256
  uint64_t size = 0;
};

// A checkpoint the daemon holds (wire Checkpoint).
struct CheckpointRef {
  uint64_t trial_id = 0;
  uint32_t attempt = 0;  // the attempt that wrote it
  uint64_t step = 0;
  uint64_t total_steps = 0;
  std::vector<BlobRef> blobs;
  std::string format;  // e.g. "autodistill-checkpoint/1"
};

// This worker's place in a data-parallel gang (wire Gang).
struct GangSpec {
  uint32_t rank = 0;
  uint32_t world_size = 1;
  std::string address;  // rank 0's rendezvous "host:port"; "" until known
};

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
  // The checkpoint to resume from (Assign.resume); nullopt = start at step 0.
  std::optional<CheckpointRef> resume;
  // The gang this trial runs in (Assign.gang); nullopt = alone.
  std::optional<GangSpec> gang;
};

// Converts a wire Assign. A ParamValue with a non-empty `category` is a label,
// otherwise its `number` is the value.
TrialSpec trial_spec_from_assign(const wire::AssignT& assign);
// wire Checkpoint <-> CheckpointRef.
CheckpointRef checkpoint_ref_from_wire(const wire::CheckpointT& checkpoint);
wire::CheckpointT checkpoint_ref_to_wire(const CheckpointRef& ref);

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

// Uploads a file as a blob and returns its digest; gives up with kCancelled
// once `cancelled()` is true.
using BlobUploader = std::function<Result<std::string>(const std::filesystem::path& file,
                                                       const std::function<bool()>& cancelled)>;

// The files of one checkpoint, written by a CheckpointWriter: each is
// uploaded as a blob under `name`, then deleted.
struct CheckpointFile {
  std::string name;
  std::filesystem::path path;
};
using CheckpointWriter = std::function<Result<std::vector<CheckpointFile>>()>;

// What the pull loop lends a trial; every member may be empty.
struct TrialServices {
  BlobFetcher fetch;
  BlobUploader upload;
  // Whether the daemon records checkpoints (Welcome.features holds
  // "checkpoint"); empty = it does not.
  std::function<bool()> checkpoints_enabled;
  // Wakes the loop thread: the trial has a report or announcement to send.
  std::function<void()> wake;
};

class TrialContext {
 public:
  // `scratch_dir` must exist; the pull loop creates it per trial and deletes it
  // after the outcome (and its artifacts) have been handled. `fetcher` may be
  // empty, in which case fetch_blob fails with kFailedPrecondition.
  TrialContext(TrialSpec spec, std::filesystem::path scratch_dir, BlobFetcher fetcher = {});
  TrialContext(TrialSpec spec, std::filesystem::path scratch_dir, TrialServices services);
  // Stops a checkpoint publication in flight (stop_checkpoints()).
  ~TrialContext();
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

  // ---- Checkpoints (docs/protocol.md "Checkpoints") ----
  //
  // Publication runs in the background, one checkpoint at a time: `writer`
  // runs on the trial's checkpoint thread, each file it returns is uploaded
  // as a blob and deleted, and the loop then reports a Checkpoint{step,
  // total_steps, blobs, format} to the daemon, re-sending it until the
  // daemon acknowledges it or a newer one replaces it. The trial never waits
  // for an upload; memory is bounded by what one writer holds.

  // True when the daemon records checkpoints and this context can upload.
  bool checkpoints_enabled() const;
  // True while a publication is in flight.
  bool checkpoint_busy() const;
  // Starts publishing. False (nothing started, `writer` not called) when
  // checkpoints are disabled, one is in flight, or stop_checkpoints() ran.
  bool publish_checkpoint(uint64_t step, uint64_t total_steps, std::string format,
                          CheckpointWriter writer);
  // Waits for the publication in flight, if any, to end. Returns the status
  // of the last publication that ended (ok when none has).
  Status wait_checkpoint();
  // Aborts a publication in flight (its upload gives up) and refuses new
  // ones; waits for the checkpoint thread. Idempotent.
  void stop_checkpoints();
  // Loop thread: the newest uploaded checkpoint not yet taken.
  std::optional<CheckpointRef> take_checkpoint_report();
  // Uploaded checkpoints so far (for logs and tests).
  uint64_t checkpoints_published() const;

  // ---- Gangs (docs/protocol.md "Gangs") ----

  // Rank 0: its rendezvous address, for the loop to send as GangAddress
  // (after every Welcome while the trial runs).
  void announce_gang_address(std::string address);
  // Loop thread: the announced address, if any.
  std::optional<std::string> gang_announcement() const;
  // Loop thread: the daemon relayed rank 0's address (GangAddress).
  void set_gang_address(std::string address);
  // Ranks > 0: rank 0's address from Assign.gang or a relayed GangAddress,
  // waiting up to `timeout` (nullopt on timeout or cancel).
  std::optional<std::string> wait_gang_address(std::chrono::milliseconds timeout);

 private:
  void publish_main(uint64_t step, uint64_t total_steps, std::string format,
                    CheckpointWriter writer);

  const TrialSpec spec_;
  const std::filesystem::path scratch_dir_;
  const TrialServices services_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cancel_cv_;
  ProgressReport progress_;

  // Checkpoints: guarded by mu_ (the thread handle by publish_mu_).
  std::mutex publish_mu_;
  std::thread publisher_;
  std::atomic<bool> stop_publishing_{false};
  bool publishing_ = false;
  Status last_publication_;
  std::optional<CheckpointRef> checkpoint_report_;
  uint64_t published_ = 0;
  // Gangs: guarded by mu_.
  std::optional<std::string> announced_;
  std::optional<std::string> gang_address_;
};

}  // namespace autodistill::worker
