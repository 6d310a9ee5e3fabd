#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <cmath>

#include "autodistill/daemon/store.hpp"
#include "temp_dir.hpp"

using namespace autodistill;
using namespace autodistill::daemon;

TEST_CASE("store: migrations bring a new database to the current schema", "[store]") {
  testing::TempDir dir;
  auto store = Store::open(dir.path() + "/db");
  REQUIRE(store);
  CHECK(store.value()->schema_version() == 7);
  store.value().reset();
  auto again = Store::open(dir.path() + "/db");
  REQUIRE(again);
  CHECK(again.value()->schema_version() == 7);
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

// Undoes migration v7 (gang ranks).
#define V7_ROLLBACK "DROP TABLE gang_ranks; "

// Undoes migrations v7 and v6 (checkpoints, blob retention).
#define V6_ROLLBACK V7_ROLLBACK "DROP TABLE checkpoints; DROP TABLE blob_garbage; "

// Undoes migrations v6 and v5 (trial times, event values).
#define V5_ROLLBACK                                                                          \
  V6_ROLLBACK                                                                                \
  "ALTER TABLE trials DROP COLUMN created_ms; ALTER TABLE trials DROP COLUMN started_ms; "   \
  "ALTER TABLE trials DROP COLUMN finished_ms; ALTER TABLE events DROP COLUMN candidate; "   \
  "ALTER TABLE events DROP COLUMN trial_kind; ALTER TABLE events DROP COLUMN event_values; " \
  "ALTER TABLE events DROP COLUMN duration_ms; "

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
                         "ALTER TABLE workers DROP COLUMN curve_key; " V5_ROLLBACK
                         "PRAGMA user_version=1",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = Store::open(path).value();
  CHECK(store->schema_version() == 7);
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

TEST_CASE("store: a v4 database gets trial times from its events and keeps working", "[store]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto store = Store::open(path).value();
    REQUIRE(store->commit());
  }
  {
    // A v4 database as an earlier daemon left it: a trial queued at 1000,
    // leased at 2000 (attempt 1) and 5000 (attempt 2), completed at 9000;
    // one still queued; one without events.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const char* sql = V5_ROLLBACK
        "PRAGMA user_version=4;"
        "INSERT INTO studies (id, spec, state, created_ms, updated_ms) VALUES (1, x'00', 1, 1, 1);"
        "INSERT INTO trials (id, study_id, candidate, kind, state, attempt, params, objectives, "
        "  updated_ms) VALUES (10, 1, 3, 1, 2, 2, '[]', '{\"accuracy\":0.5}', 9000),"
        "  (11, 1, 4, 0, 0, 1, '[]', '{}', 1500), (12, 1, 5, 0, 2, 1, '[]', '{}', 700);"
        "INSERT INTO events (study_id, seq, time_ms, kind, trial_id, attempt, message) VALUES"
        "  (1, 1, 1000, 'trial_queued', 10, 1, 'Flash'), (1, 2, 1500, 'trial_queued', 11, 1, ''),"
        "  (1, 3, 2000, 'trial_leased', 10, 1, 'w1'), (1, 4, 5000, 'trial_leased', 10, 2, 'w2'),"
        "  (1, 5, 9000, 'trial_completed', 10, 2, ''), (1, 6, 9500, 'study_state', 0, 0, 'x');";
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
    INFO((error ? error : ""));
    REQUIRE(rc == SQLITE_OK);
    sqlite3_free(error);
    sqlite3_close(db);
  }
  auto store = Store::open(path).value();
  CHECK(store->schema_version() == 7);
  auto done = store->get_trial(10).value();
  REQUIRE(done);
  CHECK(done->created_ms == 1000);
  CHECK(done->started_ms == 5000);  // the last attempt's lease
  CHECK(done->finished_ms == 9000);
  CHECK(done->objectives == Values{{"accuracy", 0.5}});
  auto queued = store->get_trial(11).value();
  REQUIRE(queued);
  CHECK(queued->created_ms == 1500);
  CHECK(queued->started_ms == 0);
  CHECK(queued->finished_ms == 0);
  auto unknown = store->get_trial(12).value();
  REQUIRE(unknown);
  CHECK(unknown->created_ms == 0);  // no event says: unknown
  // Old trial events learnt their candidate and trial kind.
  auto events = store->events_after(1, 0, 10).value();
  REQUIRE(events.size() == 6);
  CHECK(events[4].candidate == 3);
  CHECK(events[4].trial_kind == wire::TrialKind::Flash);
  CHECK(events[5].candidate == 0);

  // It keeps working: the queued trial is leased and finishes; new rows
  // and events are written with their times and values.
  queued->state = wire::TrialState::Leased;
  queued->started_ms = 20000;
  queued->updated_ms = 20000;
  store->update_trial(*queued);
  queued->state = wire::TrialState::Completed;
  queued->updated_ms = 26000;
  store->update_trial(*queued);
  TrialRow fresh;
  fresh.study_id = 1;
  fresh.candidate = 6;
  fresh.updated_ms = 30000;
  const uint64_t id = store->insert_trial(fresh);
  EventRow e;
  e.study_id = 1;
  e.seq = 7;
  e.time_ms = 26000;
  e.kind = "trial_completed";
  e.trial_id = 11;
  e.candidate = 4;
  e.values = {{"latency_ms", 2}};
  e.duration_ms = 6000;
  store->insert_event(e);
  REQUIRE(store->commit());
  auto finished = store->get_trial(11).value();
  CHECK(finished->started_ms == 20000);
  CHECK(finished->finished_ms == 26000);
  CHECK(store->get_trial(id).value()->created_ms == 30000);
  auto last = store->events_after(1, 6, 10).value();
  REQUIRE(last.size() == 1);
  CHECK(last[0].values == Values{{"latency_ms", 2}});
  CHECK(last[0].duration_ms == 6000);
  CHECK(last[0].candidate == 4);
}

TEST_CASE("store: a v5 database gains checkpoints, a blob is referenced by rows that name it",
          "[store][checkpoint]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto store = Store::open(path).value();
    REQUIRE(store->commit());
  }
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, V6_ROLLBACK "PRAGMA user_version=5", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = Store::open(path).value();
  CHECK(store->schema_version() == 7);
  const std::string a(64, 'a'), b(64, 'b'), c(64, 'c'), d(64, 'd');
  CheckpointRow row;
  row.trial_id = 4;
  row.attempt = 2;
  row.step = 30;
  row.total_steps = 90;
  row.blobs = {{"checkpoint.safetensors", a, 3}};
  row.format = "f/1";
  store->put_checkpoint(row);
  row.step = 40;  // replaces: one row per trial
  store->put_checkpoint(row);
  StudyRow study;
  study.spec = std::string("\0\1teacher ", 10) + b + std::string("\0", 1);  // a FlatBuffer's bytes
  const uint64_t sid = store->insert_study(study);
  TrialRow trial;
  trial.study_id = sid;
  trial.id = store->insert_trial(trial);
  trial.artifacts = {{"model.safetensors", c, 1}};
  store->update_trial(trial);
  store->add_blob_garbage(d);
  store->add_blob_garbage(d);
  REQUIRE(store->commit());
  auto got = store->get_checkpoint(4).value();
  REQUIRE(got);
  CHECK(got->step == 40);
  CHECK(got->attempt == 2);
  CHECK(got->total_steps == 90);
  CHECK(got->format == "f/1");
  CHECK(got->blobs == row.blobs);
  CHECK_FALSE(store->get_checkpoint(5).value());
  CHECK(store->blob_referenced(a).value());
  CHECK(store->blob_referenced(b).value());
  CHECK(store->blob_referenced(c).value());
  CHECK_FALSE(store->blob_referenced(d).value());
  CHECK(store->blob_garbage(10).value() == std::vector<std::string>{d});
  store->insert_blob(d, 5, 1);
  store->release_blob(d, true);
  store->delete_checkpoint(4);
  REQUIRE(store->commit());
  CHECK(store->blob_garbage(10).value().empty());
  CHECK(store->blob_bytes().value() == 0);
  CHECK_FALSE(store->get_checkpoint(4).value());
  CHECK_FALSE(store->blob_referenced(a).value());
}

namespace {

// Runs raw SQL on a closed store's database (what an old daemon, a disk
// error or a person with sqlite3 could have left).
void raw_sql(const std::string& path, const std::string& statement) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
  INFO(statement << ": " << (error ? error : ""));
  CHECK(rc == SQLITE_OK);
  sqlite3_free(error);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("store: rows round-trip typed (enums, params, values, blobs, study ids)",
          "[store][typed]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  const std::string digest(64, 'e');
  {
    auto store = Store::open(path).value();
    StudyRow study;
    study.spec = "spec";
    study.state = wire::StudyState::Finalizing;
    study.id = store->insert_study(study);
    store->update_study(study.id, wire::StudyState::Cancelled, "by hand", 7);

    TrialRow t;
    t.study_id = study.id;
    t.candidate = 3;
    t.kind = wire::TrialKind::Finetune;
    t.state = wire::TrialState::Queued;
    wire::ParamValueT layers, act;
    layers.name = "layers";
    layers.number = 4;
    act.name = "activation";
    act.category = "gelu";
    t.params = {layers, act};
    t.updated_ms = 1;
    t.id = store->insert_trial(t);
    t.state = wire::TrialState::Completed;
    t.objectives = {{"accuracy", 0.75}, {"latency_ms", 2.5}};
    t.metrics = {{"median_ci_low_ms", 2.25}};
    t.artifacts = {{"model.safetensors", digest, 42}};
    store->update_trial(t);

    EventRow e;
    e.study_id = study.id;
    e.seq = 1;
    e.kind = "trial_completed";
    e.trial_id = t.id;
    e.trial_kind = wire::TrialKind::Regular;
    e.values = {{"accuracy", 0.75}};
    store->insert_event(e);

    WorkerRow w;
    w.worker_id = "w1";
    w.role = wire::Role::External;
    w.hardware = "hw";
    w.studies = {study.id, 99};
    store->upsert_worker(w);

    CheckpointRow c;
    c.trial_id = t.id;
    c.attempt = 2;
    c.step = 5;
    c.blobs = {{"checkpoint.safetensors", digest, 9}, {"optimizer.bin", digest, 10}};
    store->put_checkpoint(c);

    ProbeRow p;
    p.arch = "{}";
    p.serving = "{}";
    p.fingerprint = "f";
    p.objectives = {{"latency_ms", 1.5}};
    p.metrics = {{"median_ci_high_ms", 1.75}};
    p.trial_id = t.id;
    store->put_probe(p);
    REQUIRE(store->commit());
  }
  auto store = Store::open(path).value();
  auto study = store->get_study(1).value();
  REQUIRE(study);
  CHECK(study->state == wire::StudyState::Cancelled);
  CHECK(study->message == "by hand");

  auto t = store->get_trial(1).value();
  REQUIRE(t);
  CHECK(t->kind == wire::TrialKind::Finetune);
  CHECK(t->state == wire::TrialState::Completed);
  REQUIRE(t->params.size() == 2);
  CHECK(t->params[0].name == "layers");
  CHECK(t->params[0].number == 4);
  CHECK(t->params[0].category.empty());
  CHECK(t->params[1].name == "activation");
  CHECK(t->params[1].category == "gelu");
  CHECK(t->objectives == Values{{"accuracy", 0.75}, {"latency_ms", 2.5}});
  CHECK(t->metrics == Values{{"median_ci_low_ms", 2.25}});
  CHECK(t->artifacts == BlobRefs{{"model.safetensors", digest, 42}});

  auto events = store->events_after(1, 0, 10).value();
  REQUIRE(events.size() == 1);
  CHECK(events[0].trial_kind == wire::TrialKind::Regular);
  CHECK(events[0].values == Values{{"accuracy", 0.75}});

  auto w = store->get_worker("w1").value();
  REQUIRE(w);
  CHECK(w->role == wire::Role::External);
  CHECK(w->studies == std::vector<uint64_t>{1, 99});

  auto c = store->get_checkpoint(1).value();
  REQUIRE(c);
  CHECK(c->blobs == BlobRefs{{"checkpoint.safetensors", digest, 9}, {"optimizer.bin", digest, 10}});

  auto p = store->find_probe("{}", "{}", "f").value();
  REQUIRE(p);
  CHECK(p->objectives == Values{{"latency_ms", 1.5}});
  CHECK(p->metrics == Values{{"median_ci_high_ms", 1.75}});

  auto by_state = store->trials_by_state().value();
  CHECK(by_state == std::map<wire::TrialState, int64_t>{{wire::TrialState::Completed, 1}});
  CHECK(store->studies_by_state().value() ==
        std::map<wire::StudyState, int64_t>{{wire::StudyState::Cancelled, 1}});
  // The on-disk text is what earlier versions wrote (no schema change).
  CHECK(params_to_json(t->params) ==
        R"([{"name":"layers","number":4.0},{"category":"gelu","name":"activation"}])");
  CHECK(values_to_json(t->objectives) == R"({"accuracy":0.75,"latency_ms":2.5})");
  CHECK(blob_refs_to_json(t->artifacts) ==
        R"([{"digest":")" + digest + R"(","name":"model.safetensors","size":42}])");
  CHECK(ids_to_json(w->studies) == "[1,99]");
}

TEST_CASE("store: a stored value out of range or of the wrong shape is a load error naming it",
          "[store][typed]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto store = Store::open(path).value();
    StudyRow study;
    study.spec = "spec";
    store->insert_study(study);
    store->insert_study(study);
    TrialRow t;
    t.study_id = 1;
    t.updated_ms = 1;
    store->insert_trial(t);
    t.study_id = 2;
    store->insert_trial(t);
    WorkerRow w;
    w.worker_id = "w1";
    store->upsert_worker(w);
    EventRow e;
    e.study_id = 2;
    e.seq = 1;
    e.kind = "x";
    store->insert_event(e);
    REQUIRE(store->commit());
  }
  // Study 1: state 42; trial 1 (of study 1): state 9; trial 2 (of study 2):
  // params that are not JSON; worker w1: role -1; event 1 of study 2: values
  // that are not numbers.
  raw_sql(path,
          "UPDATE studies SET state = 42 WHERE id = 1;"
          "UPDATE trials SET state = 9 WHERE id = 1;"
          "UPDATE trials SET params = 'not json' WHERE id = 2;"
          "UPDATE workers SET role = -1;"
          "UPDATE events SET event_values = '{\"a\":\"b\"}';");
  auto store = Store::open(path).value();

  auto study = store->get_study(1);
  REQUIRE_FALSE(study);
  CHECK(study.status().code() == Code::kInternal);
  CHECK(study.status().field() == "studies.state");
  CHECK(study.status().message() == "studies.state of study 1: 42 is not a StudyState");
  CHECK_FALSE(store->list_studies(0));
  REQUIRE(store->get_study(2).value());  // the other study reads fine
  // Recovery loads study 1 (and fails it) even though its state is not active.
  CHECK(store->active_study_ids().value() == std::vector<uint64_t>{1, 2});

  auto trial = store->get_trial(1);
  REQUIRE_FALSE(trial);
  CHECK(trial.status().field() == "trials.state");
  CHECK(trial.status().message() == "trials.state of trial 1: 9 is not a TrialState");
  CHECK_FALSE(store->trials_of_study(1));

  auto params = store->trials_of_study(2);
  REQUIRE_FALSE(params);
  CHECK(params.status().field() == "trials.params of trial 2");
  CHECK(params.status().message().find("stored trials.params of trial 2") != std::string::npos);

  auto worker = store->get_worker("w1");
  REQUIRE_FALSE(worker);
  CHECK(worker.status().message() == "workers.role of worker \"w1\": -1 is not a Role");
  CHECK_FALSE(store->list_workers());

  auto events = store->events_after(2, 0, 10);
  REQUIRE_FALSE(events);
  CHECK(events.status().field() == "events.event_values of event 1 of study 2");

  // Counts skip what no enum names; the store keeps working.
  CHECK(store->studies_by_state().value() ==
        std::map<wire::StudyState, int64_t>{{wire::StudyState::Queued, 1}});
  store->update_study(1, wire::StudyState::Failed, "repaired", 2);
  REQUIRE(store->commit());
  CHECK(store->get_study(1).value()->state == wire::StudyState::Failed);
}

TEST_CASE("row codec: stored JSON is read strictly, non-finite values are left out",
          "[store][typed]") {
  CHECK(values_from_json(R"({"a":1,"b":null})", "f").value() == Values{{"a", 1}});
  CHECK(values_to_json(finite_values({{"a", 1}, {"b", std::nan("")}})) == R"({"a":1.0})");
  for (const char* bad : {"[]", "{\"a\":\"x\"}", "", "{"}) {
    auto v = values_from_json(bad, "t.metrics");
    INFO(bad);
    REQUIRE_FALSE(v);
    CHECK(v.status().field() == "t.metrics");
  }
  CHECK_FALSE(params_from_json(R"([{"name":"a"}])", "p"));
  CHECK_FALSE(params_from_json(R"([{"number":1}])", "p"));
  CHECK_FALSE(blob_refs_from_json(R"([{"name":"a","digest":"d","size":-1}])", "b"));
  CHECK_FALSE(ids_from_json("[1,-2]", "s"));
  CHECK(ids_from_json("[]", "s").value().empty());
}

TEST_CASE("store: a v6 database gains gang ranks, recorded and marked done per rank",
          "[store][gang]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto store = Store::open(path).value();
    REQUIRE(store->commit());
  }
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, V7_ROLLBACK "PRAGMA user_version=6", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = Store::open(path).value();
  CHECK(store->schema_version() == 7);
  CHECK(store->gang_ranks(5, 1).value().empty());
  store->record_gang_rank(5, 1, 1, "b");
  store->record_gang_rank(5, 1, 0, "a");
  store->record_gang_rank(5, 2, 0, "c");
  store->gang_rank_done(5, 1, 1);
  REQUIRE(store->commit());
  auto ranks = store->gang_ranks(5, 1).value();
  REQUIRE(ranks.size() == 2);
  CHECK(ranks[0].rank == 0);
  CHECK(ranks[0].worker_id == "a");
  CHECK_FALSE(ranks[0].done);
  CHECK(ranks[1].rank == 1);
  CHECK(ranks[1].worker_id == "b");
  CHECK(ranks[1].done);
  REQUIRE(store->gang_ranks(5, 2).value().size() == 1);
  CHECK(store->gang_ranks(5, 2).value()[0].worker_id == "c");
}
