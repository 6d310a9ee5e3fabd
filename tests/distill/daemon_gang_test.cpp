// Issue #14 item 2 end to end: the real autodistilld gang-schedules a
// Regular trial (StudySpec.regular_ranks = 2) on two real
// autodistill-distill-worker processes on loopback. Both ranks are leased
// in one turn, rank 0's GangAddress is relayed by the daemon, the ranks
// form a Gloo gang, and rank 0's Result completes the trial. A rank
// SIGKILLed after a checkpoint ends the attempt for both; the gang
// re-forms with another worker and resumes from the checkpoint.

#include <signal.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
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

std::map<std::string, double> metrics_of(const wire::TrialInfoT& t) {
  std::map<std::string, double> out;
  for (const auto& m : t.metrics) out[m->name] = m->value;
  return out;
}

// One candidate, accuracy only (no probe): a Flash trial on one worker,
// then its Regular trial on two.
wire::StudySpecT gang_spec(const std::string& teacher, const std::string& corpus,
                           const std::string& regular) {
  wire::StudySpecT s;
  s.name = "gang-e2e";
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
  s.regular_ranks = 2;
  s.settings_json =
      R"({"distill": {"batch_size": 8, "seq_len": 32, "eval_batches": 2, "learning_rate": 0.01, )"
      R"("seed": 3, "flash_steps": 5, )" +
      regular + "}}";
  return s;
}

// The recorded checkpoint step of each trial.
std::map<uint64_t, uint64_t> checkpoint_steps(Cluster& c) {
  std::map<uint64_t, uint64_t> out;
  sqlite3* db = nullptr;
  const std::string path = c.data_dir() + "/autodistill.db";
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT trial_id, step FROM checkpoints", -1, &s, nullptr) ==
      SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      out[static_cast<uint64_t>(sqlite3_column_int64(s, 0))] =
          static_cast<uint64_t>(sqlite3_column_int64(s, 1));
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

}  // namespace

TEST_CASE("the real daemon runs a Regular trial as a gang of two real distill workers",
          "[distill][gang][e2e]") {
  Cluster c({"--lease_ms", "6000", "--liveness", "10"});
  const auto teacher_dir = tiny_teacher_dir();
  const std::string tar = c.path("teacher.tar");
  REQUIRE(wire::pack_directory(teacher_dir, tar));
  auto teacher = wire::upload_file(round_trip_of(c.client()), tar);
  auto corpus = wire::upload_file(round_trip_of(c.client()), (teacher_dir / "corpus.txt").string());
  REQUIRE(teacher);
  REQUIRE(corpus);

  // Its Regular trial of 20 steps on both workers.
  const uint64_t study = c.submit(
      gang_spec(teacher.value(), corpus.value(), R"("regular_steps": 20, "checkpoint_steps": 10)"));

  Process a = start_worker(c, "a");
  Process b = start_worker(c, "b");
  auto done = c.wait_state(study, wire::StudyState::Succeeded, 150s);
  INFO("study: " << done.study->message << "\nworker a:\n"
                 << read_text(c.path("a.log")) << "\nworker b:\n"
                 << read_text(c.path("b.log")) << "\ndaemon log:\n"
                 << read_text(c.path("daemon.log")));
  REQUIRE(done.study->state == wire::StudyState::Succeeded);
  const wire::TrialInfoT* regular = nullptr;
  for (const auto& t : done.trials) {
    if (t->kind == wire::TrialKind::Regular) regular = t.get();
  }
  REQUIRE(regular);
  CHECK(regular->state == wire::TrialState::Completed);
  CHECK(regular->attempt == 1);
  const auto m = metrics_of(*regular);
  REQUIRE(m.count("ranks"));
  CHECK(m.at("ranks") == 2);  // trained by both ranks, gradients all-reduced
  CHECK(m.at("steps") == 20);
  bool weights = false;
  for (const auto& art : regular->artifacts) weights |= art->name == "model.safetensors";
  CHECK(weights);
  // Both workers held a rank: the daemon relayed the address to the other.
  const std::string log = read_text(c.path("a.log")) + read_text(c.path("b.log"));
  CHECK(log.find("as rank 0 of 2") != std::string::npos);
  CHECK(log.find("as rank 1 of 2") != std::string::npos);
  a.signal(SIGTERM);
  b.signal(SIGTERM);
  CHECK(a.wait(15s) == 0);
  CHECK(b.wait(15s) == 0);
}

TEST_CASE("a gang rank SIGKILLed mid-Regular: the gang re-forms and resumes from the checkpoint",
          "[distill][gang][e2e]") {
  Cluster c({"--lease_ms", "6000", "--liveness", "10"});
  const auto teacher_dir = tiny_teacher_dir();
  const std::string tar = c.path("teacher.tar");
  REQUIRE(wire::pack_directory(teacher_dir, tar));
  auto teacher = wire::upload_file(round_trip_of(c.client()), tar);
  auto corpus = wire::upload_file(round_trip_of(c.client()), (teacher_dir / "corpus.txt").string());
  REQUIRE(teacher);
  REQUIRE(corpus);
  const uint64_t study = c.submit(gang_spec(teacher.value(), corpus.value(),
                                            R"("regular_steps": 600, "checkpoint_steps": 50)"));
  std::map<std::string, Process> workers;
  workers.emplace("a", start_worker(c, "a"));
  workers.emplace("b", start_worker(c, "b"));
  // Wait for a checkpoint of the gang's Regular trial, then kill rank 1.
  uint64_t regular = 0;
  std::string rank0;
  const bool checkpointed = wait_until(
      [&] {
        const wire::StudyReplyT reply = c.get(study);
        if (reply.study->state == wire::StudyState::Failed) return true;  // reported below
        const auto* t = regular_of(reply);
        if (t == nullptr || t->state != wire::TrialState::Leased) return false;
        regular = t->trial_id;
        rank0 = t->worker_id;
        auto steps = checkpoint_steps(c);
        return steps.count(regular) && steps.at(regular) >= 50;
      },
      120s);
  INFO("study: " << c.get(study).study->message << "\nworker a:\n"
                 << read_text(c.path("a.log")) << "\nworker b:\n"
                 << read_text(c.path("b.log")) << "\ndaemon log:\n"
                 << read_text(c.path("daemon.log")));
  REQUIRE(checkpointed);
  REQUIRE((rank0 == "a" || rank0 == "b"));
  const std::string rank1 = rank0 == "a" ? "b" : "a";
  workers.at(rank1).signal(SIGKILL);
  CHECK(workers.at(rank1).wait(10s) == 128 + SIGKILL);
  workers.emplace("c", start_worker(c, "c"));
  auto done = c.wait_state(study, wire::StudyState::Succeeded, 150s);
  INFO("worker c:\n" << read_text(c.path("c.log")));
  REQUIRE(done.study->state == wire::StudyState::Succeeded);
  const wire::TrialInfoT* r = regular_of(done);
  REQUIRE(r);
  CHECK(r->attempt >= 2);
  const auto m = metrics_of(*r);
  CHECK(m.at("ranks") == 2);
  CHECK(m.at("steps") == 600);
  CHECK(m.at("resumed_from_step") >= 50);
  CHECK(checkpoint_steps(c).empty());  // the trial ended: its checkpoint row is gone
  // The re-formed gang ran on the surviving worker and the new one.
  CHECK(read_text(c.path("c.log")).find("of 2 from checkpoint step") != std::string::npos);
  for (auto& [id, p] : workers) {
    if (id == rank1) continue;
    p.signal(SIGTERM);
    CHECK(p.wait(15s) == 0);
  }
}
