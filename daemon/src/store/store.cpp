#include "autodistill/daemon/store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

namespace autodistill::daemon {

namespace {

// Each entry migrates from version i to i + 1. Append only; never edit a
// migration that has shipped.
const char* const kMigrations[] = {
    // v1: the initial schema.
    R"sql(
CREATE TABLE studies (
  id INTEGER PRIMARY KEY,
  idempotency_key TEXT UNIQUE,
  spec BLOB NOT NULL,
  state INTEGER NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  candidate INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  params TEXT NOT NULL,
  worker_id TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  objectives TEXT NOT NULL DEFAULT '{}',
  metrics TEXT NOT NULL DEFAULT '{}',
  artifacts TEXT NOT NULL DEFAULT '[]',
  error_code INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  error_field TEXT NOT NULL DEFAULT '',
  fingerprint TEXT NOT NULL DEFAULT '',
  progress REAL NOT NULL DEFAULT 0,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX trials_by_study ON trials(study_id, id);
CREATE INDEX trials_active ON trials(state) WHERE state < 2;
CREATE TABLE results (
  trial_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (trial_id, attempt)
) WITHOUT ROWID;
CREATE TABLE events (
  study_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  trial_id INTEGER NOT NULL DEFAULT 0,
  attempt INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (study_id, seq)
) WITHOUT ROWID;
CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE workers (
  worker_id TEXT PRIMARY KEY,
  role INTEGER NOT NULL,
  hardware BLOB NOT NULL,
  slots INTEGER NOT NULL,
  studies TEXT NOT NULL DEFAULT '[]',
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // v2: latency measurements reused across studies, by architecture,
    // serving setting and the exact hardware that measured them.
    R"sql(
CREATE TABLE probe_cache (
  arch TEXT NOT NULL,
  serving TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  objectives TEXT NOT NULL,
  metrics TEXT NOT NULL,
  trial_id INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (arch, serving, fingerprint)
) WITHOUT ROWID;
)sql",
    // v3: the CURVE key that submitted a study owns it.
    R"sql(
ALTER TABLE studies ADD COLUMN owner TEXT NOT NULL DEFAULT '';
)sql",
    // v4: which worker held each (trial, attempt) lease, so a late report is
    // taken only from the worker that held that attempt (filled from the
    // trial_leased events of earlier versions); the CURVE key a worker_id is
    // bound to (the key of its first Hello under CURVE).
    R"sql(
CREATE TABLE leases (
  trial_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  PRIMARY KEY (trial_id, attempt)
) WITHOUT ROWID;
INSERT OR IGNORE INTO leases (trial_id, attempt, worker_id)
  SELECT trial_id, attempt, message FROM events WHERE kind = 'trial_leased';
ALTER TABLE workers ADD COLUMN curve_key TEXT NOT NULL DEFAULT '';
CREATE INDEX workers_by_last_seen ON workers(last_seen_ms);
)sql",
    // v5: when each trial was created, last leased (started) and finished,
    // filled for earlier trials from their events (a trial without such an
    // event keeps 0: unknown); what each trial event is about (candidate,
    // trial kind) and its values (objectives of a completed trial, the
    // duration of the attempt that ended).
    R"sql(
ALTER TABLE trials ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN started_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN finished_ms INTEGER NOT NULL DEFAULT 0;
UPDATE trials SET
  created_ms = COALESCE((SELECT MIN(time_ms) FROM events e WHERE e.study_id = trials.study_id
      AND e.trial_id = trials.id AND e.kind IN ('trial_queued', 'trial_completed',
      'flash_skipped')), 0),
  started_ms = COALESCE((SELECT MAX(time_ms) FROM events e WHERE e.study_id = trials.study_id
      AND e.trial_id = trials.id AND e.kind = 'trial_leased'), 0),
  finished_ms = COALESCE((SELECT MAX(time_ms) FROM events e WHERE e.study_id = trials.study_id
      AND e.trial_id = trials.id AND e.kind IN ('trial_completed', 'trial_failed',
      'trial_cancelled', 'flash_skipped')), 0);
ALTER TABLE events ADD COLUMN candidate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN trial_kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN event_values TEXT NOT NULL DEFAULT '{}';
ALTER TABLE events ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;
UPDATE events SET
  candidate = COALESCE((SELECT candidate FROM trials t WHERE t.id = events.trial_id), 0),
  trial_kind = COALESCE((SELECT kind FROM trials t WHERE t.id = events.trial_id), 0)
  WHERE trial_id != 0;
)sql",
    // v6: each trial's newest checkpoint (docs/protocol.md "Checkpoints"),
    // one row per trial, replaced by a newer step; blobs no longer needed
    // (a superseded or ended trial's checkpoint blobs), deleted after the
    // commit that released them unless something else references them.
    R"sql(
CREATE TABLE checkpoints (
  trial_id INTEGER PRIMARY KEY,
  attempt INTEGER NOT NULL,
  step INTEGER NOT NULL,
  total_steps INTEGER NOT NULL,
  blobs TEXT NOT NULL,
  format TEXT NOT NULL,
  received_ms INTEGER NOT NULL
);
CREATE TABLE blob_garbage (
  digest TEXT PRIMARY KEY
) WITHOUT ROWID;
)sql",
    // v7: the ranks of each gang attempt (docs/protocol.md "Gangs"): which
    // worker held rank r of (trial, attempt), and whether it reported its
    // end (a rank > 0 Result); rank 0 is in `leases` too.
    R"sql(
CREATE TABLE gang_ranks (
  trial_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  rank INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, attempt, rank)
) WITHOUT ROWID;
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

// Binds and steps one cached statement; resets it when done.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  bool valid() const { return s_ != nullptr; }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, uint64_t v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, uint32_t v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  Stmt& bind(int i, E v) {
    return bind(i, static_cast<int64_t>(v));
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  double f64(int c) const { return sqlite3_column_double(s_, c); }
  std::string text(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }

 private:
  sqlite3_stmt* s_;
};

constexpr const char* kStudyColumns =
    "id, COALESCE(idempotency_key, ''), spec, state, message, created_ms, updated_ms, owner";

// The one place a stored integer becomes an enum: in [0, MAX], else an
// error naming the column and the row.
template <class E>
Result<E> enum_of(int64_t v, const char* type, const char* column, const std::string& row) {
  if (v < 0 || v > static_cast<int64_t>(E::MAX)) {
    return Status(
        Code::kInternal,
        std::string(column) + " of " + row + ": " + std::to_string(v) + " is not a " + type,
        column);
  }
  return static_cast<E>(v);
}

// Assigns a converted column to `out`, or returns its error from the reader.
#define AD_READ(out, expr)                   \
  do {                                       \
    auto ad_read_ = (expr);                  \
    if (!ad_read_) return ad_read_.status(); \
    out = std::move(ad_read_.value());       \
  } while (0)

std::string field_of(const char* column, const std::string& row) {
  return std::string(column) + " of " + row;
}

Result<StudyRow> read_study(const Stmt& s) {
  StudyRow r;
  r.id = static_cast<uint64_t>(s.i64(0));
  const std::string row = "study " + std::to_string(r.id);
  r.idempotency_key = s.text(1);
  r.spec = s.text(2);
  AD_READ(r.state, enum_of<wire::StudyState>(s.i64(3), "StudyState", "studies.state", row));
  r.message = s.text(4);
  r.created_ms = s.i64(5);
  r.updated_ms = s.i64(6);
  r.owner = s.text(7);
  return r;
}

Result<TrialRow> read_trial(const Stmt& s) {
  TrialRow r;
  r.id = static_cast<uint64_t>(s.i64(0));
  const std::string row = "trial " + std::to_string(r.id);
  r.study_id = static_cast<uint64_t>(s.i64(1));
  r.candidate = static_cast<uint32_t>(s.i64(2));
  AD_READ(r.kind, enum_of<wire::TrialKind>(s.i64(3), "TrialKind", "trials.kind", row));
  AD_READ(r.state, enum_of<wire::TrialState>(s.i64(4), "TrialState", "trials.state", row));
  r.attempt = static_cast<uint32_t>(s.i64(5));
  AD_READ(r.params, params_from_json(s.text(6), field_of("trials.params", row)));
  r.worker_id = s.text(7);
  r.lease_expires_ms = s.i64(8);
  AD_READ(r.objectives, values_from_json(s.text(9), field_of("trials.objectives", row)));
  AD_READ(r.metrics, values_from_json(s.text(10), field_of("trials.metrics", row)));
  AD_READ(r.artifacts, blob_refs_from_json(s.text(11), field_of("trials.artifacts", row)));
  r.error_code = static_cast<int>(s.i64(12));
  r.error_message = s.text(13);
  r.error_field = s.text(14);
  r.fingerprint = s.text(15);
  r.progress = s.f64(16);
  r.updated_ms = s.i64(17);
  r.created_ms = s.i64(18);
  r.started_ms = s.i64(19);
  r.finished_ms = s.i64(20);
  return r;
}

// Steps `s` to its end, reading every row with `read`: the rows, or the
// first row's conversion error, or SQLite's error.
template <class Row, class Read>
Result<std::vector<Row>> read_all(sqlite3* db, Stmt& s, Read read) {
  std::vector<Row> rows;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    Result<Row> r = read(s);
    if (!r) return r.status();
    rows.push_back(std::move(r.value()));
  }
  if (rc != SQLITE_DONE) return Status(Code::kInternal, sqlite3_errmsg(db));
  return rows;
}

// One row or none, read with `read`.
template <class Row, class Read>
Result<std::optional<Row>> read_one(sqlite3* db, Stmt& s, Read read, const char* what) {
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<Row>();
  if (rc != SQLITE_ROW)
    return Status(Code::kInternal, std::string(what) + ": " + sqlite3_errmsg(db));
  Result<Row> r = read(s);
  if (!r) return r.status();
  return std::optional<Row>(std::move(r.value()));
}

#define AD_TRIAL_COLUMNS                                                                  \
  "id, study_id, candidate, kind, state, attempt, params, worker_id, lease_expires_ms, "  \
  "objectives, metrics, artifacts, error_code, error_message, error_field, fingerprint, " \
  "progress, updated_ms, created_ms, started_ms, finished_ms"

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  // The database and its -wal / -shm files are the owner's alone, whatever
  // the umask: SQLite creates the -wal and -shm files with the mode of the
  // database file, so the database is made (or tightened to) 0600 first.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return Status(Code::kInternal, "cannot create store " + path + ": " + std::strerror(err),
                  "data_dir");
  }
  ::close(fd);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    ::chmod((path + suffix).c_str(), 0600);  // left by an earlier run; absent is fine
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status(Code::kInternal, "cannot open store " + path + ": " + msg, "data_dir");
  }
  std::unique_ptr<Store> store(new Store(db));
  sqlite3_busy_timeout(db, 5000);
  // A small WAL (checkpoint every 1 MiB, truncated back to 4 MiB at most):
  // a WAL allowed to grow to 16 MiB filled small disks until every commit
  // failed with SQLITE_FULL (docs/RELIABILITY.md, F3).
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
        "PRAGMA wal_autocheckpoint=256", "PRAGMA journal_size_limit=4194304"}) {
    if (Status s = store->exec(pragma); !s) return s;
  }
  if (Status s = store->migrate(); !s) return s;
  return store;
}

Store::~Store() {
  if (in_tx_) exec("ROLLBACK");
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    int code = sqlite3_errcode(db_);
    return Status(code == SQLITE_FULL ? Code::kResourceExhausted : Code::kInternal,
                  std::string("store: ") + msg);
  }
  return Status::ok();
}

Status Store::migrate() {
  int version = schema_version();
  if (version > kSchemaVersion) {
    return Status(Code::kFailedPrecondition,
                  "store schema v" + std::to_string(version) + " is newer than this daemon (v" +
                      std::to_string(kSchemaVersion) + ")",
                  "data_dir");
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    if (Status s = exec("BEGIN IMMEDIATE"); !s) return s;
    Status s = exec(kMigrations[v]);
    if (s) {
      std::string bump = "PRAGMA user_version=" + std::to_string(v + 1);
      s = exec(bump.c_str());
    }
    if (s) s = exec("COMMIT");
    if (!s) {
      exec("ROLLBACK");
      return Status(s.code(), "migration to v" + std::to_string(v + 1) + ": " + s.message());
    }
  }
  return Status::ok();
}

int Store::schema_version() const {
  sqlite3_stmt* s = nullptr;
  int version = 0;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    version = sqlite3_column_int(s, 0);
  }
  sqlite3_finalize(s);
  return version;
}

sqlite3_stmt* Store::prepare(const char* sql) {
  for (auto& [text, stmt] : statements_) {
    if (text == sql) return stmt;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    fail(std::string("prepare: ") + sqlite3_errmsg(db_));
    return nullptr;
  }
  statements_.emplace_back(sql, stmt);
  return stmt;
}

void Store::fail(const std::string& what) {
  if (!poisoned_.is_ok()) return;
  int code = sqlite3_errcode(db_);
  poisoned_ =
      Status(code == SQLITE_FULL ? Code::kResourceExhausted : Code::kInternal, "store: " + what);
}

bool Store::begin_write() {
  if (!poisoned_.is_ok()) return false;
  if (!in_tx_) {
    if (Status s = exec("BEGIN IMMEDIATE"); !s) {
      poisoned_ = s;
      return false;
    }
    in_tx_ = true;
  }
  return true;
}

Status Store::commit() {
  if (!in_tx_) {
    Status s = poisoned_;
    poisoned_ = Status::ok();
    return s;
  }
  Status result = poisoned_;
  if (result) result = exec("COMMIT");
  if (!result) exec("ROLLBACK");
  in_tx_ = false;
  poisoned_ = Status::ok();
  return result;
}

// --- studies

uint64_t Store::insert_study(const StudyRow& row) {
  if (!begin_write()) return 0;
  Stmt s(
      prepare("INSERT INTO studies (idempotency_key, spec, state, message, created_ms, "
              "updated_ms, owner) VALUES (NULLIF(?1, ''), ?2, ?3, ?4, ?5, ?6, ?7)"));
  if (!s.valid()) return 0;
  s.bind(1, row.idempotency_key).bind_blob(2, row.spec).bind(3, row.state).bind(4, row.message);
  s.bind(5, row.created_ms).bind(6, row.updated_ms).bind(7, row.owner);
  if (s.step() != SQLITE_DONE) {
    fail(std::string("insert study: ") + sqlite3_errmsg(db_));
    return 0;
  }
  return static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
}

void Store::update_study(uint64_t id, wire::StudyState state, const std::string& message,
                         int64_t now_ms) {
  if (!begin_write()) return;
  Stmt s(prepare("UPDATE studies SET state = ?2, message = ?3, updated_ms = ?4 WHERE id = ?1"));
  if (!s.valid()) return;
  s.bind(1, id).bind(2, state).bind(3, message).bind(4, now_ms);
  if (s.step() != SQLITE_DONE) fail(std::string("update study: ") + sqlite3_errmsg(db_));
}

Result<std::optional<StudyRow>> Store::get_study(uint64_t id) {
  static const std::string sql =
      std::string("SELECT ") + kStudyColumns + " FROM studies WHERE id = ?1";
  Stmt s(prepare(sql.c_str()));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, id);
  return read_one<StudyRow>(db_, s, read_study, "get study");
}

Result<std::optional<StudyRow>> Store::find_study_by_key(const std::string& key) {
  static const std::string sql =
      std::string("SELECT ") + kStudyColumns + " FROM studies WHERE idempotency_key = ?1";
  Stmt s(prepare(sql.c_str()));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, key);
  return read_one<StudyRow>(db_, s, read_study, "find study");
}

Result<std::vector<StudyRow>> Store::list_studies(uint32_t limit) {
  static const std::string sql =
      std::string("SELECT ") + kStudyColumns + " FROM studies ORDER BY id DESC LIMIT ?1";
  Stmt s(prepare(sql.c_str()));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
  return read_all<StudyRow>(db_, s, read_study);
}

Result<std::vector<uint64_t>> Store::active_study_ids() {
  // Not terminal (Queued..Finalizing), or a state no StudyState names: its
  // load fails, and recovery marks it failed.
  Stmt s(prepare("SELECT id FROM studies WHERE state < 4 OR state > 6 ORDER BY id"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  std::vector<uint64_t> ids;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) ids.push_back(static_cast<uint64_t>(s.i64(0)));
  if (rc != SQLITE_DONE) return Status(Code::kInternal, sqlite3_errmsg(db_));
  return ids;
}

// --- trials

uint64_t Store::insert_trial(const TrialRow& r) {
  if (!begin_write()) return 0;
  Stmt s(
      prepare("INSERT INTO trials (study_id, candidate, kind, state, attempt, params, "
              "updated_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  if (!s.valid()) return 0;
  s.bind(1, r.study_id).bind(2, r.candidate).bind(3, r.kind).bind(4, r.state).bind(5, r.attempt);
  s.bind(6, params_to_json(r.params)).bind(7, r.updated_ms);
  s.bind(8, r.created_ms != 0 ? r.created_ms : r.updated_ms);
  if (s.step() != SQLITE_DONE) {
    fail(std::string("insert trial: ") + sqlite3_errmsg(db_));
    return 0;
  }
  return static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
}

void Store::update_trial(const TrialRow& r) {
  if (!begin_write()) return;
  Stmt s(prepare(
      "UPDATE trials SET state = ?2, attempt = ?3, worker_id = ?4, lease_expires_ms = ?5, "
      "objectives = ?6, metrics = ?7, artifacts = ?8, error_code = ?9, error_message = ?10, "
      "error_field = ?11, fingerprint = ?12, progress = ?13, updated_ms = ?14, started_ms = ?15, "
      "finished_ms = CASE WHEN ?16 != 0 THEN ?16 WHEN ?2 >= 2 AND finished_ms = 0 THEN ?14 "
      "ELSE finished_ms END WHERE id = ?1"));
  if (!s.valid()) return;
  s.bind(1, r.id).bind(2, r.state).bind(3, r.attempt).bind(4, r.worker_id);
  s.bind(5, r.lease_expires_ms).bind(6, values_to_json(r.objectives));
  s.bind(7, values_to_json(r.metrics))
      .bind(8, blob_refs_to_json(r.artifacts))
      .bind(9, r.error_code)
      .bind(10, r.error_message);
  s.bind(11, r.error_field).bind(12, r.fingerprint).bind(13, r.progress).bind(14, r.updated_ms);
  s.bind(15, r.started_ms).bind(16, r.finished_ms);
  if (s.step() != SQLITE_DONE) fail(std::string("update trial: ") + sqlite3_errmsg(db_));
}

Result<std::optional<TrialRow>> Store::get_trial(uint64_t id) {
  Stmt s(prepare("SELECT " AD_TRIAL_COLUMNS " FROM trials WHERE id = ?1"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, id);
  return read_one<TrialRow>(db_, s, read_trial, "get trial");
}

Result<std::vector<TrialRow>> Store::trials_of_study(uint64_t study_id) {
  Stmt s(prepare("SELECT " AD_TRIAL_COLUMNS " FROM trials WHERE study_id = ?1 ORDER BY id"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, study_id);
  return read_all<TrialRow>(db_, s, read_trial);
}

// --- results

bool Store::insert_result(uint64_t trial_id, uint32_t attempt, const std::string& kind,
                          const std::string& payload, int64_t now_ms) {
  if (!begin_write()) return false;
  Stmt s(
      prepare("INSERT OR IGNORE INTO results (trial_id, attempt, kind, payload, received_ms) "
              "VALUES (?1, ?2, ?3, ?4, ?5)"));
  if (!s.valid()) return false;
  s.bind(1, trial_id).bind(2, attempt).bind(3, kind).bind_blob(4, payload).bind(5, now_ms);
  if (s.step() != SQLITE_DONE) {
    fail(std::string("insert result: ") + sqlite3_errmsg(db_));
    return false;
  }
  return sqlite3_changes(db_) == 1;
}

Result<int64_t> Store::count_results(uint64_t trial_id) {
  Stmt s(prepare("SELECT COUNT(*) FROM results WHERE trial_id = ?1"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, trial_id);
  if (s.step() != SQLITE_ROW) return Status(Code::kInternal, sqlite3_errmsg(db_));
  return s.i64(0);
}

// --- lease history

void Store::record_lease(uint64_t trial_id, uint32_t attempt, const std::string& worker_id) {
  if (!begin_write()) return;
  Stmt s(
      prepare("INSERT OR REPLACE INTO leases (trial_id, attempt, worker_id) VALUES (?1, ?2, ?3)"));
  if (!s.valid()) return;
  s.bind(1, trial_id).bind(2, attempt).bind(3, worker_id);
  if (s.step() != SQLITE_DONE) fail(std::string("record lease: ") + sqlite3_errmsg(db_));
}

Result<std::optional<std::string>> Store::lease_holder(uint64_t trial_id, uint32_t attempt) {
  Stmt s(prepare("SELECT worker_id FROM leases WHERE trial_id = ?1 AND attempt = ?2"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, trial_id).bind(2, attempt);
  int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(s.text(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return Status(Code::kInternal, std::string("lease holder: ") + sqlite3_errmsg(db_));
}

// --- gang ranks

void Store::record_gang_rank(uint64_t trial_id, uint32_t attempt, uint32_t rank,
                             const std::string& worker_id) {
  if (!begin_write()) return;
  Stmt s(
      prepare("INSERT OR REPLACE INTO gang_ranks (trial_id, attempt, rank, worker_id, done) "
              "VALUES (?1, ?2, ?3, ?4, 0)"));
  if (!s.valid()) return;
  s.bind(1, trial_id).bind(2, attempt).bind(3, rank).bind(4, worker_id);
  if (s.step() != SQLITE_DONE) fail(std::string("record gang rank: ") + sqlite3_errmsg(db_));
}

void Store::gang_rank_done(uint64_t trial_id, uint32_t attempt, uint32_t rank) {
  if (!begin_write()) return;
  Stmt s(
      prepare("UPDATE gang_ranks SET done = 1 WHERE trial_id = ?1 AND attempt = ?2 AND rank = ?3"));
  if (!s.valid()) return;
  s.bind(1, trial_id).bind(2, attempt).bind(3, rank);
  if (s.step() != SQLITE_DONE) fail(std::string("gang rank done: ") + sqlite3_errmsg(db_));
}

Result<std::vector<GangRankRow>> Store::gang_ranks(uint64_t trial_id, uint32_t attempt) {
  Stmt s(
      prepare("SELECT rank, worker_id, done FROM gang_ranks WHERE trial_id = ?1 AND attempt = ?2 "
              "ORDER BY rank"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, trial_id).bind(2, attempt);
  std::vector<GangRankRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(GangRankRow{static_cast<uint32_t>(s.i64(0)), s.text(1), s.i64(2) != 0});
  }
  if (rc != SQLITE_DONE)
    return Status(Code::kInternal, std::string("gang ranks: ") + sqlite3_errmsg(db_));
  return out;
}

// --- events

void Store::insert_event(const EventRow& e) {
  if (!begin_write()) return;
  Stmt s(
      prepare("INSERT INTO events (study_id, seq, time_ms, kind, trial_id, attempt, message, "
              "candidate, trial_kind, event_values, duration_ms) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  if (!s.valid()) return;
  s.bind(1, e.study_id).bind(2, e.seq).bind(3, e.time_ms).bind(4, e.kind).bind(5, e.trial_id);
  s.bind(6, e.attempt).bind(7, e.message).bind(8, e.candidate).bind(9, e.trial_kind);
  s.bind(10, values_to_json(e.values)).bind(11, e.duration_ms);
  if (s.step() != SQLITE_DONE) fail(std::string("insert event: ") + sqlite3_errmsg(db_));
}

Result<std::vector<EventRow>> Store::events_after(uint64_t study_id, uint64_t after_seq,
                                                  uint32_t limit) {
  Stmt s(
      prepare("SELECT study_id, seq, time_ms, kind, trial_id, attempt, message, candidate, "
              "trial_kind, event_values, duration_ms FROM events WHERE study_id = ?1 AND seq > ?2 "
              "ORDER BY seq LIMIT ?3"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, study_id).bind(2, after_seq).bind(3, limit);
  return read_all<EventRow>(db_, s, [](const Stmt& s) -> Result<EventRow> {
    EventRow e;
    e.study_id = static_cast<uint64_t>(s.i64(0));
    e.seq = static_cast<uint64_t>(s.i64(1));
    const std::string row =
        "event " + std::to_string(e.seq) + " of study " + std::to_string(e.study_id);
    e.time_ms = s.i64(2);
    e.kind = s.text(3);
    e.trial_id = static_cast<uint64_t>(s.i64(4));
    e.attempt = static_cast<uint32_t>(s.i64(5));
    e.message = s.text(6);
    e.candidate = static_cast<uint32_t>(s.i64(7));
    AD_READ(e.trial_kind,
            enum_of<wire::TrialKind>(s.i64(8), "TrialKind", "events.trial_kind", row));
    AD_READ(e.values, values_from_json(s.text(9), field_of("events.event_values", row)));
    e.duration_ms = s.i64(10);
    return e;
  });
}

Result<uint64_t> Store::max_event_seq(uint64_t study_id) {
  Stmt s(prepare("SELECT COALESCE(MAX(seq), 0) FROM events WHERE study_id = ?1"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, study_id);
  if (s.step() != SQLITE_ROW) return Status(Code::kInternal, sqlite3_errmsg(db_));
  return static_cast<uint64_t>(s.i64(0));
}

// --- aggregates

namespace {
template <class E>
Result<std::map<E, int64_t>> count_by_state(sqlite3* db, sqlite3_stmt* stmt) {
  Stmt s(stmt);
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db));
  std::map<E, int64_t> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (auto state = enum_of<E>(s.i64(0), "state", "state", "a count")) out[*state] = s.i64(1);
  }
  if (rc != SQLITE_DONE) return Status(Code::kInternal, sqlite3_errmsg(db));
  return out;
}
}  // namespace

Result<std::map<wire::StudyState, int64_t>> Store::studies_by_state() {
  return count_by_state<wire::StudyState>(
      db_, prepare("SELECT state, COUNT(*) FROM studies GROUP BY state"));
}

Result<std::map<wire::TrialState, int64_t>> Store::trials_by_state() {
  return count_by_state<wire::TrialState>(
      db_, prepare("SELECT state, COUNT(*) FROM trials GROUP BY state"));
}

Result<int64_t> Store::blob_bytes() {
  Stmt s(prepare("SELECT COALESCE(SUM(size), 0) FROM blobs"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  if (s.step() != SQLITE_ROW) return Status(Code::kInternal, sqlite3_errmsg(db_));
  return s.i64(0);
}

// --- blobs

void Store::insert_blob(const std::string& digest, uint64_t size, int64_t now_ms) {
  if (!begin_write()) return;
  Stmt s(prepare("INSERT OR IGNORE INTO blobs (digest, size, created_ms) VALUES (?1, ?2, ?3)"));
  if (!s.valid()) return;
  s.bind(1, digest).bind(2, size).bind(3, now_ms);
  if (s.step() != SQLITE_DONE) fail(std::string("insert blob: ") + sqlite3_errmsg(db_));
}

Result<std::optional<uint64_t>> Store::blob_size(const std::string& digest) {
  Stmt s(prepare("SELECT size FROM blobs WHERE digest = ?1"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, digest);
  int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<uint64_t>(static_cast<uint64_t>(s.i64(0)));
  if (rc == SQLITE_DONE) return std::optional<uint64_t>();
  return Status(Code::kInternal, sqlite3_errmsg(db_));
}

// --- checkpoints

void Store::put_checkpoint(const CheckpointRow& c) {
  if (!begin_write()) return;
  Stmt s(
      prepare("INSERT OR REPLACE INTO checkpoints (trial_id, attempt, step, total_steps, blobs, "
              "format, received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  if (!s.valid()) return;
  s.bind(1, c.trial_id).bind(2, c.attempt).bind(3, c.step).bind(4, c.total_steps);
  s.bind(5, blob_refs_to_json(c.blobs)).bind(6, c.format).bind(7, c.received_ms);
  if (s.step() != SQLITE_DONE) fail(std::string("put checkpoint: ") + sqlite3_errmsg(db_));
}

Result<std::optional<CheckpointRow>> Store::get_checkpoint(uint64_t trial_id) {
  Stmt s(
      prepare("SELECT attempt, step, total_steps, blobs, format, received_ms FROM checkpoints "
              "WHERE trial_id = ?1"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, trial_id);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<CheckpointRow>();
  if (rc != SQLITE_ROW) {
    return Status(Code::kInternal, std::string("get checkpoint: ") + sqlite3_errmsg(db_));
  }
  CheckpointRow c;
  c.trial_id = trial_id;
  c.attempt = static_cast<uint32_t>(s.i64(0));
  c.step = static_cast<uint64_t>(s.i64(1));
  c.total_steps = static_cast<uint64_t>(s.i64(2));
  AD_READ(c.blobs,
          blob_refs_from_json(s.text(3), "checkpoints.blobs of trial " + std::to_string(trial_id)));
  c.format = s.text(4);
  c.received_ms = s.i64(5);
  return std::optional<CheckpointRow>(std::move(c));
}

void Store::delete_checkpoint(uint64_t trial_id) {
  if (!begin_write()) return;
  Stmt s(prepare("DELETE FROM checkpoints WHERE trial_id = ?1"));
  if (!s.valid()) return;
  s.bind(1, trial_id);
  if (s.step() != SQLITE_DONE) fail(std::string("delete checkpoint: ") + sqlite3_errmsg(db_));
}

// --- blob retention

void Store::add_blob_garbage(const std::string& digest) {
  if (!begin_write()) return;
  Stmt s(prepare("INSERT OR IGNORE INTO blob_garbage (digest) VALUES (?1)"));
  if (!s.valid()) return;
  s.bind(1, digest);
  if (s.step() != SQLITE_DONE) fail(std::string("add blob garbage: ") + sqlite3_errmsg(db_));
}

Result<std::vector<std::string>> Store::blob_garbage(uint32_t limit) {
  Stmt s(prepare("SELECT digest FROM blob_garbage ORDER BY digest LIMIT ?1"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, limit);
  std::vector<std::string> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return Status(Code::kInternal, sqlite3_errmsg(db_));
  return out;
}

Result<bool> Store::blob_referenced(const std::string& digest) {
  // A digest is 64 hex characters: a match inside another field's text is
  // that digest. Study specs are FlatBuffers, searched as bytes.
  Stmt s(
      prepare("SELECT EXISTS (SELECT 1 FROM checkpoints WHERE instr(blobs, ?1) > 0) "
              "OR EXISTS (SELECT 1 FROM trials WHERE instr(artifacts, ?1) > 0) "
              "OR EXISTS (SELECT 1 FROM studies WHERE instr(spec, CAST(?1 AS BLOB)) > 0)"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, digest);
  if (s.step() != SQLITE_ROW) {
    return Status(Code::kInternal, std::string("blob referenced: ") + sqlite3_errmsg(db_));
  }
  return s.i64(0) != 0;
}

void Store::release_blob(const std::string& digest, bool deleted) {
  if (!begin_write()) return;
  {
    Stmt s(prepare("DELETE FROM blob_garbage WHERE digest = ?1"));
    if (!s.valid()) return;
    s.bind(1, digest);
    if (s.step() != SQLITE_DONE) return fail(std::string("release blob: ") + sqlite3_errmsg(db_));
  }
  if (!deleted) return;
  Stmt s(prepare("DELETE FROM blobs WHERE digest = ?1"));
  if (!s.valid()) return;
  s.bind(1, digest);
  if (s.step() != SQLITE_DONE) fail(std::string("delete blob: ") + sqlite3_errmsg(db_));
}

// --- probe cache

void Store::put_probe(const ProbeRow& p) {
  if (!begin_write()) return;
  Stmt s(
      prepare("INSERT OR REPLACE INTO probe_cache (arch, serving, fingerprint, objectives, "
              "metrics, trial_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  if (!s.valid()) return;
  s.bind(1, p.arch).bind(2, p.serving).bind(3, p.fingerprint).bind(4, values_to_json(p.objectives));
  s.bind(5, values_to_json(p.metrics)).bind(6, p.trial_id).bind(7, p.created_ms);
  if (s.step() != SQLITE_DONE) fail(std::string("put probe: ") + sqlite3_errmsg(db_));
}

Result<std::optional<ProbeRow>> Store::find_probe(const std::string& arch,
                                                  const std::string& serving,
                                                  const std::string& fingerprint) {
  Stmt s(
      prepare("SELECT objectives, metrics, trial_id, created_ms FROM probe_cache "
              "WHERE arch = ?1 AND serving = ?2 AND fingerprint = ?3"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, arch).bind(2, serving).bind(3, fingerprint);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<ProbeRow>();
  if (rc != SQLITE_ROW) return Status(Code::kInternal, sqlite3_errmsg(db_));
  ProbeRow p;
  p.arch = arch;
  p.serving = serving;
  p.fingerprint = fingerprint;
  const std::string row = "the probe of trial " + std::to_string(s.i64(2));
  AD_READ(p.objectives, values_from_json(s.text(0), field_of("probe_cache.objectives", row)));
  AD_READ(p.metrics, values_from_json(s.text(1), field_of("probe_cache.metrics", row)));
  p.trial_id = static_cast<uint64_t>(s.i64(2));
  p.created_ms = s.i64(3);
  return std::optional<ProbeRow>(std::move(p));
}

// --- workers

void Store::upsert_worker(const WorkerRow& w) {
  if (!begin_write()) return;
  // The first non-empty curve_key is kept: a worker_id stays bound to it.
  Stmt s(prepare(
      "INSERT INTO workers (worker_id, role, hardware, slots, studies, first_seen_ms, "
      "last_seen_ms, curve_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) "
      "ON CONFLICT(worker_id) DO UPDATE SET role = ?2, hardware = ?3, slots = ?4, studies = ?5, "
      "last_seen_ms = ?6, curve_key = CASE WHEN curve_key = '' THEN ?7 ELSE curve_key END"));
  if (!s.valid()) return;
  s.bind(1, w.worker_id).bind(2, w.role).bind_blob(3, w.hardware).bind(4, w.slots);
  s.bind(5, ids_to_json(w.studies)).bind(6, w.last_seen_ms).bind(7, w.curve_key);
  if (s.step() != SQLITE_DONE) fail(std::string("upsert worker: ") + sqlite3_errmsg(db_));
}

void Store::touch_worker(const std::string& worker_id, int64_t last_seen_ms) {
  if (!begin_write()) return;
  Stmt s(prepare("UPDATE workers SET last_seen_ms = ?2 WHERE worker_id = ?1"));
  if (!s.valid()) return;
  s.bind(1, worker_id).bind(2, last_seen_ms);
  if (s.step() != SQLITE_DONE) fail(std::string("touch worker: ") + sqlite3_errmsg(db_));
}

namespace {
constexpr const char* kWorkerColumns =
    "worker_id, role, hardware, slots, studies, first_seen_ms, last_seen_ms, curve_key";

Result<WorkerRow> read_worker(const Stmt& s) {
  WorkerRow w;
  w.worker_id = s.text(0);
  const std::string row = "worker \"" + w.worker_id + "\"";
  AD_READ(w.role, enum_of<wire::Role>(s.i64(1), "Role", "workers.role", row));
  w.hardware = s.text(2);
  w.slots = static_cast<uint32_t>(s.i64(3));
  AD_READ(w.studies, ids_from_json(s.text(4), field_of("workers.studies", row)));
  w.first_seen_ms = s.i64(5);
  w.last_seen_ms = s.i64(6);
  w.curve_key = s.text(7);
  return w;
}
}  // namespace

Result<std::vector<WorkerRow>> Store::list_workers() {
  static const std::string sql =
      std::string("SELECT ") + kWorkerColumns + " FROM workers ORDER BY worker_id";
  Stmt s(prepare(sql.c_str()));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  return read_all<WorkerRow>(db_, s, read_worker);
}

Result<std::optional<WorkerRow>> Store::get_worker(const std::string& worker_id) {
  static const std::string sql =
      std::string("SELECT ") + kWorkerColumns + " FROM workers WHERE worker_id = ?1";
  Stmt s(prepare(sql.c_str()));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, worker_id);
  return read_one<WorkerRow>(db_, s, read_worker, "get worker");
}

Result<std::vector<std::string>> Store::workers_unseen_since(int64_t before_ms, uint32_t limit) {
  Stmt s(prepare(
      "SELECT worker_id FROM workers WHERE last_seen_ms < ?1 ORDER BY last_seen_ms LIMIT ?2"));
  if (!s.valid()) return Status(Code::kInternal, sqlite3_errmsg(db_));
  s.bind(1, before_ms).bind(2, limit);
  std::vector<std::string> ids;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) ids.push_back(s.text(0));
  if (rc != SQLITE_DONE) return Status(Code::kInternal, sqlite3_errmsg(db_));
  return ids;
}

void Store::delete_worker(const std::string& worker_id) {
  if (!begin_write()) return;
  Stmt s(prepare("DELETE FROM workers WHERE worker_id = ?1"));
  if (!s.valid()) return;
  s.bind(1, worker_id);
  if (s.step() != SQLITE_DONE) fail(std::string("delete worker: ") + sqlite3_errmsg(db_));
}

}  // namespace autodistill::daemon
