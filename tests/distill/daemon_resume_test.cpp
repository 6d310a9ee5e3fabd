// Issue #14 item 1 end to end: the real autodistilld and real
// autodistill-distill-worker processes on loopback. A Regular trial's
// worker is SIGKILLed after the daemon recorded its checkpoint at step >= 100;
// its lease expires and a second worker process resumes from the recorded
// checkpoint (Assign.resume). The delivered model.safetensors is the one an
// uninterrupted run of the same study delivers, byte for byte (same seed,
// one thread), and the trial's checkpoint row and blobs are gone after it.

#include <signal.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "../integration/cluster.hpp"
#include "autodistill/wire/blob_transfer.hpp"
#include "autodistill/wire/bundle.hpp"
#include "tiny_teacher.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

wire::RoundTrip round_trip_of(WirePeer& peer) {
  return [&peer](wire::MessageUnion request) -> Result<wire::EnvelopeT> {
    std::optional<wire::EnvelopeT> reply;
    if (auto* s = request.AsBlobStat()) reply = peer.call(*s);
    if (auto* p = request.AsBlobPut()) reply = peer.call(*p);
    if (auto* g = request.AsBlobGet()) reply = peer.call(*g);
    if (!reply) return Status(Code::kUnavailable, "timeout");
    return std::move(*reply);
  };
}

// One candidate (the long-trial student of tests/distill), accuracy only:
// a Flash trial, then its Regular trial of 1000 steps, checkpointed every 100.
wire::StudySpecT spec_of(const std::string& teacher, const std::string& corpus) {
  wire::StudySpecT s;
  s.name = "resume-e2e";
  s.kind = wire::StudyKind::Distill;
  for (auto [name, value] :
       {std::pair{"num_blocks", 2.0}, std::pair{"hidden_size", 32.0},
        std::pair{"bottleneck_size", 16.0}, std::pair{"num_heads", 2.0},
        std::pair{"intermediate_size", 32.0}, std::pair{"num_stacked_ffn", 1.0}}) {
    s.factors.push_back(ordinal(name, {value}));
  }
  s.objectives.push_back(objective("accuracy", true));
  s.teacher_digest = teacher;
  s.corpus_digest = corpus;
  s.max_trials = 1;
  s.parallelism = 1;
  s.max_attempts = 3;
  s.settings_json =
      R"({"distill": {"batch_size": 8, "seq_len": 32, "eval_batches": 2, "learning_rate": 0.01, )"
      R"("seed": 3, "flash_steps": 10, "regular_steps": 1000, "checkpoint_steps": 100}})";
  return s;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Process start_worker(Cluster& c, const std::string& id) {
  return Process::spawn({AUTODISTILL_DISTILL_WORKER_BIN, "--endpoint", c.worker_endpoint(),
                         "--worker-id", id, "--threads", "1", "--cache-dir", c.path("cache-" + id),
                         "--scratch-dir", c.path("scratch-" + id)},
                        c.path(id + ".log"));
}

// The store's checkpoint rows: trial id -> (step, blobs JSON).
std::map<uint64_t, std::pair<uint64_t, std::string>> checkpoint_rows(Cluster& c) {
  std::map<uint64_t, std::pair<uint64_t, std::string>> out;
  sqlite3* db = nullptr;
  const std::string path = c.data_dir() + "/autodistill.db";
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  sqlite3_stmt* s = nullptr;
  const int rc =
      sqlite3_prepare_v2(db, "SELECT trial_id, step, blobs FROM checkpoints", -1, &s, nullptr);
  INFO(sqlite3_errmsg(db));
  CHECK(rc == SQLITE_OK);
  if (rc == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      const auto* blobs = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
      out[static_cast<uint64_t>(sqlite3_column_int64(s, 0))] = {
          static_cast<uint64_t>(sqlite3_column_int64(s, 1)), blobs ? blobs : ""};
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

const wire::TrialInfoT* regular_of(const wire::StudyReplyT& reply) {
  for (const auto& t : reply.trials) {
    if (t->kind == wire::TrialKind::Regular) return t.get();
  }
  return nullptr;
}

std::map<std::string, std::string> artifacts_of(const wire::TrialInfoT& t) {
  std::map<std::string, std::string> out;
  for (const auto& a : t.artifacts) out[a->name] = a->digest;
  return out;
}

std::map<std::string, double> metrics_of(const wire::TrialInfoT& t) {
  std::map<std::string, double> out;
  for (const auto& m : t.metrics) out[m->name] = m->value;
  return out;
}

}  // namespace

TEST_CASE("a Regular trial whose worker is SIGKILLed resumes under the real daemon, bit-exact",
          "[distill][checkpoint][e2e]") {
  // Leases long enough that a loaded machine does not let one lapse while
  // a worker trains (the killed worker's lapses 6 s after its death).
  Cluster c({"--lease_ms", "6000", "--liveness", "10"});
  const auto teacher_dir = tiny_teacher_dir();
  const std::string tar = c.path("teacher.tar");
  REQUIRE(wire::pack_directory(teacher_dir, tar));
  auto teacher = wire::upload_file(round_trip_of(c.client()), tar);
  auto corpus = wire::upload_file(round_trip_of(c.client()), (teacher_dir / "corpus.txt").string());
  REQUIRE(teacher);
  REQUIRE(corpus);

  // The interrupted study: its worker dies after a checkpoint at step >= 100.
  const uint64_t study = c.submit(spec_of(teacher.value(), corpus.value()));
  std::string killed_blob;
  {
    Process first = start_worker(c, "first");
    uint64_t regular = 0;
    const bool checkpointed = wait_until(
        [&] {
          if (wire::StudyState st = c.get(study).study->state;
              st == wire::StudyState::Failed || st == wire::StudyState::Cancelled) {
            return true;  // reported below
          }
          if (regular == 0) {
            const wire::StudyReplyT reply = c.get(study);
            if (const auto* t = regular_of(reply)) regular = t->trial_id;
            return false;
          }
          auto rows = checkpoint_rows(c);
          auto row = rows.find(regular);
          if (row == rows.end() || row->second.first < 100) return false;
          killed_blob = row->second.second;
          return true;
        },
        120s);
    INFO("study: " << c.get(study).study->message << "\nworker log:\n"
                   << read_text(c.path("first.log")) << "\ndaemon log:\n"
                   << read_text(c.path("daemon.log")));
    REQUIRE(checkpointed);
    REQUIRE_FALSE(killed_blob.empty());
    first.signal(SIGKILL);
    CHECK(first.wait(10s) == 128 + SIGKILL);
  }
  Process second = start_worker(c, "second");
  auto resumed = c.wait_state(study, wire::StudyState::Succeeded, 120s);
  const wire::TrialInfoT* r = regular_of(resumed);
  REQUIRE(r);
  CHECK(r->attempt == 2);
  CHECK(r->worker_id == "second");
  const auto m = metrics_of(*r);
  INFO("worker log:\n" << read_text(c.path("second.log")));
  REQUIRE(m.count("resumed_from_step"));
  CHECK(m.at("resumed_from_step") >= 100);
  CHECK(m.at("checkpoint_refused") == 0);
  CHECK(m.at("steps") == 1000);
  // The trial ended: its checkpoint row and blobs are gone.
  CHECK(checkpoint_rows(c).empty());
  const auto digest_at = killed_blob.find("\"digest\":\"");
  REQUIRE(digest_at != std::string::npos);
  wire::BlobStatT stat;
  stat.digest = killed_blob.substr(digest_at + 10, 64);
  auto held = c.client().call(stat, 5s);
  REQUIRE(held);
  REQUIRE(held->body.AsBlobPutAck());
  CHECK_FALSE(held->body.AsBlobPutAck()->complete);

  // The same study uninterrupted, on the same worker process.
  const uint64_t whole_study = c.submit(spec_of(teacher.value(), corpus.value()));
  auto whole = c.wait_state(whole_study, wire::StudyState::Succeeded, 120s);
  const wire::TrialInfoT* w = regular_of(whole);
  REQUIRE(w);
  CHECK(w->attempt == 1);
  CHECK(metrics_of(*w)["resumed_from_step"] == 0);
  const auto resumed_files = artifacts_of(*r), whole_files = artifacts_of(*w);
  REQUIRE(resumed_files.count("model.safetensors"));
  CHECK(resumed_files.at("model.safetensors") == whole_files.at("model.safetensors"));
  CHECK(m.at("weights_fingerprint") == metrics_of(*w).at("weights_fingerprint"));
  second.signal(SIGTERM);
  CHECK(second.wait(15s) == 0);
}
