#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "autodistill/daemon/store.hpp"
#include "temp_dir.hpp"

using namespace autodistill;
using namespace autodistill::daemon;

TEST_CASE("store: migrations bring a new database to the current schema", "[store]") {
  testing::TempDir dir;
  auto store = Store::open(dir.path() + "/db");
  REQUIRE(store);
  CHECK(store.value()->schema_version() == 4);
  store.value().reset();
  auto again = Store::open(dir.path() + "/db");
  REQUIRE(again);
  CHECK(again.value()->schema_version() == 4);
}

TEST_CASE("store: writes are durable only after commit, all or nothing", "[store]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto store = Store::open(path).value();
    StudyRow row;
    row.idempotency_key = "k1";
    row.spec = "spec";
    row.created_ms = row.updated_ms = 5;
    uint64_t id = store->insert_study(row);
    CHECK(id == 1);
    CHECK(store->has_pending_writes());
    REQUIRE(store->commit());
    // A failing write poisons the batch: the good write before it is rolled back.
    row.idempotency_key = "k2";
    CHECK(store->insert_study(row) == 2);
    row.idempotency_key = "k1";  // UNIQUE violation
    CHECK(store->insert_study(row) == 0);
    Status s = store->commit();
    CHECK(s.code() == Code::kInternal);
    CHECK_FALSE(store->has_pending_writes());
    // The store is usable again after the failed batch.
    row.idempotency_key = "k3";
    CHECK(store->insert_study(row) != 0);
    REQUIRE(store->commit());
  }
  auto reopened = Store::open(path).value();
  CHECK(reopened->find_study_by_key("k1").value().has_value());
  CHECK_FALSE(reopened->find_study_by_key("k2").value().has_value());
  CHECK(reopened->find_study_by_key("k3").value().has_value());
}

TEST_CASE("store: results are recorded once per (trial, attempt)", "[store]") {
  testing::TempDir dir;
  auto store = Store::open(dir.path() + "/db").value();
  CHECK(store->insert_result(7, 1, "result", "{}", 1));
  CHECK_FALSE(store->insert_result(7, 1, "result", "{}", 2));
  CHECK(store->insert_result(7, 2, "failure", "{}", 3));
  REQUIRE(store->commit());
  CHECK(store->count_results(7).value() == 2);
}

TEST_CASE("store: events replay in order after a sequence number", "[store]") {
  testing::TempDir dir;
  auto store = Store::open(dir.path() + "/db").value();
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    EventRow e;
    e.study_id = 3;
    e.seq = seq;
    e.kind = "k" + std::to_string(seq);
    store->insert_event(e);
  }
  REQUIRE(store->commit());
  auto events = store->events_after(3, 2, 100).value();
  REQUIRE(events.size() == 3);
  CHECK(events[0].seq == 3);
  CHECK(events[2].kind == "k5");
  CHECK(store->max_event_seq(3).value() == 5);
  CHECK(store->max_event_seq(4).value() == 0);
}

TEST_CASE("store: an older schema is migrated in place, keeping its data", "[store]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto store = Store::open(path).value();
    StudyRow row;
    row.idempotency_key = "kept";
    row.spec = "spec";
    const uint64_t study = store->insert_study(row);
    EventRow leased;  // how a v1..v3 store remembers who held a lease
    leased.study_id = study;
    leased.seq = 1;
    leased.kind = "trial_leased";
    leased.trial_id = 7;
    leased.attempt = 2;
    leased.message = "w9";
    store->insert_event(leased);
    REQUIRE(store->commit());
  }
  {
    // Roll the file back to a v1 database.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "ALTER TABLE studies DROP COLUMN owner; DROP TABLE probe_cache; "
                         "DROP TABLE leases; DROP INDEX workers_by_last_seen; "
                         "ALTER TABLE workers DROP COLUMN curve_key; PRAGMA user_version=1",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = Store::open(path).value();
  CHECK(store->schema_version() == 4);
  // v4 learnt the lease holders from the events.
  CHECK(store->lease_holder(7, 2).value() == std::optional<std::string>("w9"));
  CHECK_FALSE(store->lease_holder(7, 1).value().has_value());
  CHECK(store->find_study_by_key("kept").value().has_value());
  ProbeRow p;
  p.arch = "a";
  p.serving = "{}";
  p.fingerprint = "f";
  store->put_probe(p);
  REQUIRE(store->commit());
  CHECK(store->find_probe("a", "{}", "f").value().has_value());
}
