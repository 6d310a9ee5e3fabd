#pragma once
// The durable study store: one SQLite database (WAL, synchronous=FULL) with
// versioned schema migrations. It is the truth: the daemon rebuilds all of
// its in-memory state from it on start.
//
// Writes happen inside a group-commit transaction: the first write opens it,
// commit() makes every write since durable at once (one fsync for a batch of
// requests). A failed write poisons the transaction; commit() then rolls it
// back and returns the first error, so a batch is all-or-nothing.
// Not thread-safe: owned by the daemon's event-loop thread.
//
// Rows are typed: enums, params, values and blob lists are converted to and
// from their columns here, once (their JSON text: row_codec.hpp). A stored
// value that does not convert (an enum out of range, JSON of the wrong shape)
// makes the read fail with kInternal naming the column and row, e.g.
// "trials.state of trial 7: 9 is not a TrialState"; it never crashes.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/daemon/row_codec.hpp"
#include "autodistill/status.hpp"
#include "autodistill/wire/codec.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace autodistill::daemon {

struct StudyRow {
  uint64_t id = 0;
  std::string idempotency_key;  // empty when none
  std::string spec;             // a verified FlatBuffer whose root is wire.StudySpec
  wire::StudyState state = wire::StudyState::Queued;
  std::string message;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string owner;  // CURVE public key of the submitter; empty without auth
};

struct TrialRow {
  uint64_t id = 0;
  uint64_t study_id = 0;
  uint32_t candidate = 0;
  wire::TrialKind kind = wire::TrialKind::Probe;
  wire::TrialState state = wire::TrialState::Queued;
  uint32_t attempt = 1;
  Params params;
  std::string worker_id;
  int64_t lease_expires_ms = 0;
  Values objectives;
  Values metrics;
  BlobRefs artifacts;
  int error_code = 0;
  std::string error_message;
  std::string error_field;
  std::string fingerprint;
  double progress = 0;
  int64_t updated_ms = 0;
  // Epoch milliseconds; 0 = not (yet) known. created: inserted (insert_trial
  // takes updated_ms when 0); started: its current attempt was leased; finished:
  // it reached a terminal state (update_trial takes updated_ms the first time
  // the row is stored terminal, when 0).
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
};

struct EventRow {
  uint64_t study_id = 0;
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind;
  uint64_t trial_id = 0;
  uint32_t attempt = 0;
  std::string message;
  // What a trial event is about, and its values (docs/protocol.md, "Events").
  uint32_t candidate = 0;
  wire::TrialKind trial_kind = wire::TrialKind::Probe;
  Values values;
  int64_t duration_ms = 0;  // trial_completed|failed|cancelled: the ended attempt's run time
};

struct WorkerRow {
  std::string worker_id;
  wire::Role role = wire::Role::Distill;
  std::string hardware;  // a verified FlatBuffer whose root is wire.Hardware
  uint32_t slots = 0;
  std::vector<uint64_t> studies;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  // The CURVE public key the worker_id is bound to (its first Hello under
  // CURVE); empty without CURVE. upsert_worker() never replaces a non-empty one.
  std::string curve_key;
};

// A latency measurement, reusable by any study probing the same
// architecture with the same serving setting on the same hardware.
struct ProbeRow {
  std::string arch;         // canonical JSON of the architecture factors
  std::string serving;      // canonical JSON of settings.serving
  std::string fingerprint;  // Hardware.fingerprint of the worker that measured
  Values objectives;
  Values metrics;
  uint64_t trial_id = 0;  // the trial that measured it
  int64_t created_ms = 0;
};

// One rank of a gang attempt (docs/protocol.md "Gangs").
struct GangRankRow {
  uint32_t rank = 0;
  std::string worker_id;
  bool done = false;  // its rank > 0 Result came: its lease ended
};

// A trial's newest checkpoint (docs/protocol.md "Checkpoints"), as the
// worker announced it: the daemon keeps blobs and format opaque.
struct CheckpointRow {
  uint64_t trial_id = 0;
  uint32_t attempt = 0;  // the attempt that wrote it
  uint64_t step = 0;
  uint64_t total_steps = 0;
  BlobRefs blobs;
  std::string format;
  int64_t received_ms = 0;
};

class Store {
 public:
  // Opens (creating if needed) the database at `path` and applies pending
  // migrations. The database file and its -wal / -shm files are mode 0600
  // whatever the umask. kInternal with SQLite's message on failure.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Schema version after migrations (PRAGMA user_version).
  int schema_version() const;

  // Makes every write since the last commit durable, or rolls all of them
  // back and returns the first error.
  Status commit();
  bool has_pending_writes() const { return in_tx_; }

  // --- studies
  uint64_t insert_study(const StudyRow& row);
  void update_study(uint64_t id, wire::StudyState state, const std::string& message,
                    int64_t now_ms);
  Result<std::optional<StudyRow>> get_study(uint64_t id);
  Result<std::optional<StudyRow>> find_study_by_key(const std::string& key);
  Result<std::vector<StudyRow>> list_studies(uint32_t limit);  // newest first; 0 = all
  // Ids of the studies recovery loads: not terminal, or a stored state out
  // of the enum's range (its get_study() fails: recovery marks it failed).
  Result<std::vector<uint64_t>> active_study_ids();

  // --- trials
  uint64_t insert_trial(const TrialRow& row);
  void update_trial(const TrialRow& row);
  Result<std::optional<TrialRow>> get_trial(uint64_t id);
  Result<std::vector<TrialRow>> trials_of_study(uint64_t study_id);

  // --- results, idempotent by (trial, attempt): false when already recorded.
  bool insert_result(uint64_t trial_id, uint32_t attempt, const std::string& kind,
                     const std::string& payload, int64_t now_ms);
  Result<int64_t> count_results(uint64_t trial_id);

  // --- lease history: which worker held (trial, attempt).
  void record_lease(uint64_t trial_id, uint32_t attempt, const std::string& worker_id);
  Result<std::optional<std::string>> lease_holder(uint64_t trial_id, uint32_t attempt);

  // --- gang ranks: which worker held rank r of a gang's (trial, attempt)
  // (rank 0 also in the lease history), and whether it reported its end.
  void record_gang_rank(uint64_t trial_id, uint32_t attempt, uint32_t rank,
                        const std::string& worker_id);
  void gang_rank_done(uint64_t trial_id, uint32_t attempt, uint32_t rank);
  Result<std::vector<GangRankRow>> gang_ranks(uint64_t trial_id, uint32_t attempt);

  // --- events
  void insert_event(const EventRow& row);
  Result<std::vector<EventRow>> events_after(uint64_t study_id, uint64_t after_seq, uint32_t limit);
  Result<uint64_t> max_event_seq(uint64_t study_id);

  // --- aggregates for metrics: rows per state (a stored state out of the
  // enum's range is counted nowhere); total blob bytes.
  Result<std::map<wire::StudyState, int64_t>> studies_by_state();
  Result<std::map<wire::TrialState, int64_t>> trials_by_state();
  Result<int64_t> blob_bytes();

  // --- blobs
  void insert_blob(const std::string& digest, uint64_t size, int64_t now_ms);
  Result<std::optional<uint64_t>> blob_size(const std::string& digest);

  // --- checkpoints: one row per trial, replaced by put_checkpoint().
  void put_checkpoint(const CheckpointRow& row);
  Result<std::optional<CheckpointRow>> get_checkpoint(uint64_t trial_id);
  void delete_checkpoint(uint64_t trial_id);

  // --- blob retention. Blobs released (a superseded or ended trial's
  // checkpoint blobs) wait in a durable list until the collector, after the
  // commit, deletes those nothing references: a checkpoint row, a trial's
  // artifacts or a study spec (teacher, corpus, settings).
  void add_blob_garbage(const std::string& digest);
  Result<std::vector<std::string>> blob_garbage(uint32_t limit);
  Result<bool> blob_referenced(const std::string& digest);
  // Takes the digest off the list; `deleted`: its file is gone, so is its index row.
  void release_blob(const std::string& digest, bool deleted);

  // --- probe cache
  void put_probe(const ProbeRow& row);
  Result<std::optional<ProbeRow>> find_probe(const std::string& arch, const std::string& serving,
                                             const std::string& fingerprint);

  // --- workers
  void upsert_worker(const WorkerRow& row);
  void touch_worker(const std::string& worker_id, int64_t last_seen_ms);
  Result<std::vector<WorkerRow>> list_workers();
  Result<std::optional<WorkerRow>> get_worker(const std::string& worker_id);
  // Ids of workers last seen before `before_ms`, oldest first, at most `limit`.
  Result<std::vector<std::string>> workers_unseen_since(int64_t before_ms, uint32_t limit);
  void delete_worker(const std::string& worker_id);

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Status migrate();
  sqlite3_stmt* prepare(const char* sql);
  // Starts the group transaction if needed; false if the store is poisoned.
  bool begin_write();
  void fail(const std::string& what);
  Status exec(const char* sql);

  sqlite3* db_;
  std::vector<std::pair<const char*, sqlite3_stmt*>> statements_;
  bool in_tx_ = false;
  Status poisoned_;
};

}  // namespace autodistill::daemon
