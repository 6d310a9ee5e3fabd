#include "store_probe.hpp"

#include <sqlite3.h>

#include <functional>

namespace autodistill::chaos {

namespace {

// Runs `sql` on a fresh read-only connection, calling `row` per result row.
Status query(const std::string& path, const char* sql,
             const std::function<void(sqlite3_stmt*)>& row) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    Status s(Code::kInternal, "cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : "?"));
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  Status status;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    status = Status(Code::kInternal, std::string("prepare: ") + sqlite3_errmsg(db));
  } else {
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
    if (rc != SQLITE_DONE)
      status = Status(Code::kInternal, std::string("step: ") + sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return status;
}

}  // namespace

Result<std::map<uint64_t, int>> StoreProbe::result_rows_per_trial() const {
  std::map<uint64_t, int> out;
  Status s = query(
      db_path_, "SELECT trial_id, COUNT(*) FROM results WHERE kind = 'result' GROUP BY trial_id",
      [&](sqlite3_stmt* st) {
        out[static_cast<uint64_t>(sqlite3_column_int64(st, 0))] = sqlite3_column_int(st, 1);
      });
  if (!s) return s;
  return out;
}

Result<std::set<TrialKey>> StoreProbe::result_keys() const {
  std::set<TrialKey> out;
  Status s = query(db_path_, "SELECT trial_id, attempt FROM results WHERE kind = 'result'",
                   [&](sqlite3_stmt* st) {
                     out.emplace(static_cast<uint64_t>(sqlite3_column_int64(st, 0)),
                                 static_cast<uint32_t>(sqlite3_column_int64(st, 1)));
                   });
  if (!s) return s;
  return out;
}

Result<std::string> StoreProbe::integrity_check() const {
  std::string first;
  Status s = query(db_path_, "PRAGMA integrity_check", [&](sqlite3_stmt* st) {
    if (first.empty()) {
      const unsigned char* text = sqlite3_column_text(st, 0);
      first = text ? reinterpret_cast<const char*>(text) : "";
    }
  });
  if (!s) return s;
  return first;
}

}  // namespace autodistill::chaos
