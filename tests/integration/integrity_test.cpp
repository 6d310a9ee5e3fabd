// Daemon integrity against peers that lie, stall or vanish (issue #11,
// items 1, 3, 5, 9): the real autodistilld, real worker processes and raw
// protocol peers (tests/support/wire_peer.hpp) on loopback.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "autodistill/wire/blob_transfer.hpp"
#include "autodistill/wire/curve.hpp"
#include "autodistill/wire/digest.hpp"
#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

wire::HelloT hello_of(const std::string& id, wire::Role role, std::vector<uint64_t> studies = {},
                      uint32_t slots = 1) {
  wire::HelloT hello;
  hello.worker_id = id;
  hello.role = role;
  hello.slots = slots;
  hello.studies = std::move(studies);
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = "cpu-test";
  return hello;
}

// Says Hello on `peer`; the daemon's answer (Welcome or Reject).
wire::EnvelopeT say_hello(WirePeer& peer, wire::HelloT hello) {
  auto reply = peer.call(std::move(hello), 5s);
  REQUIRE(reply);
  return std::move(*reply);
}

wire::ResultT forged_result(uint64_t trial, uint32_t attempt,
                            const std::vector<std::string>& objectives, double value) {
  wire::ResultT r;
  r.trial_id = trial;
  r.attempt = attempt;
  for (const std::string& name : objectives) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = value;
    r.objectives.push_back(std::move(m));
  }
  return r;
}

// The reply to a Result / Failure must be a refusal: an Error with a code,
// a message and a field, never an Ack.
void check_refused(const std::optional<wire::EnvelopeT>& reply, wire::ErrorCode code) {
  REQUIRE(reply);
  INFO(Cluster::describe(*reply));
  CHECK_FALSE(reply->body.AsAck());
  REQUIRE(reply->body.AsError());
  CHECK(reply->body.AsError()->code == code);
  CHECK_FALSE(reply->body.AsError()->message.empty());
  CHECK_FALSE(reply->body.AsError()->field.empty());
}

// Waits until some trial of the study is Leased to `worker`; its id.
uint64_t wait_leased(Cluster& c, uint64_t study, const std::string& worker) {
  uint64_t id = 0;
  REQUIRE(wait_until([&] {
    for (const auto& t : c.get(study).trials) {
      if (t->state == wire::TrialState::Leased && t->worker_id == worker) id = t->trial_id;
    }
    return id != 0;
  }));
  return id;
}

const wire::TrialInfoT* trial_of(const wire::StudyReplyT& reply, uint64_t id) {
  for (const auto& t : reply.trials) {
    if (t->trial_id == id) return t.get();
  }
  return nullptr;
}

wire::WorkerListT list_workers(Cluster& c) {
  auto reply = c.client().call(wire::ListWorkersT{}, 5s);
  REQUIRE(reply);
  INFO(Cluster::describe(*reply));
  REQUIRE(reply->body.AsWorkerList());
  return std::move(*reply->body.AsWorkerList());
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

int64_t worker_rows(Cluster& c) {
  sqlite3* db = nullptr;
  const std::string path = c.data_dir() + "/autodistill.db";
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM workers", -1, &s, nullptr);
  int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

wire::RoundTrip round_trip_of(WirePeer& peer) {
  return [&peer](wire::MessageUnion request) -> Result<wire::EnvelopeT> {
    std::optional<wire::EnvelopeT> reply;
    if (auto* s = request.AsBlobStat()) reply = peer.call(*s);
    if (auto* p = request.AsBlobPut()) reply = peer.call(*p);
    if (!reply) return Status(Code::kUnavailable, "timeout");
    return std::move(*reply);
  };
}

// A well-formed safetensors file holding one F32 tensor of `n` values.
std::string safetensors_bytes(size_t n) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[)" + std::to_string(n) +
                             R"(],"data_offsets":[0,)" + std::to_string(4 * n) + "]}}";
  std::string out(8, '\0');
  const uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + std::string(4 * n, '\x01');
}

}  // namespace

TEST_CASE("integrity: only the leased worker's result counts", "[integration][integrity]") {
  Cluster c;
  uint64_t study = c.submit(external_spec(2, 2));
  c.start_worker("honest", "external",
                 {"--study", std::to_string(study), "--builtin", "sleep:2500", "--slots", "1"});
  const uint64_t leased = wait_leased(c, study, "honest");
  uint64_t queued = 0;
  for (const auto& t : c.get(study).trials) {
    if (t->trial_id != leased) queued = t->trial_id;
  }
  REQUIRE(queued != 0);
  const std::vector<std::string> objectives = {"f1", "f2"};

  WirePeer mallory(c.context(), c.worker_endpoint());
  REQUIRE(say_hello(mallory, hello_of("mallory", wire::Role::External, {study})).body.AsWelcome());
  // Another worker's trial: its Result and its Failure.
  check_refused(mallory.call(forged_result(leased, 1, objectives, -1e9)),
                wire::ErrorCode::PermissionDenied);
  wire::FailureT failure;
  failure.trial_id = leased;
  failure.attempt = 1;
  failure.retryable = false;
  failure.error = std::make_unique<wire::ErrorT>();
  failure.error->message = "forged";
  check_refused(mallory.call(std::move(failure)), wire::ErrorCode::PermissionDenied);
  // A trial never leased, an attempt never leased, a trial that does not exist.
  check_refused(mallory.call(forged_result(queued, 1, objectives, -1e9)),
                wire::ErrorCode::PermissionDenied);
  check_refused(mallory.call(forged_result(leased, 2, objectives, -1e9)),
                wire::ErrorCode::PermissionDenied);
  check_refused(mallory.call(forged_result(987654321, 1, objectives, -1e9)),
                wire::ErrorCode::NotFound);
  // A peer of another role.
  WirePeer prober(c.context(), c.worker_endpoint());
  REQUIRE(say_hello(prober, hello_of("prober", wire::Role::Probe)).body.AsWelcome());
  check_refused(prober.call(forged_result(leased, 1, objectives, -1e9)),
                wire::ErrorCode::PermissionDenied);
  // The honest worker's results, and only those, complete the study.
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  for (const auto& t : reply.trials) {
    INFO("trial " << t->trial_id);
    CHECK(t->state == wire::TrialState::Completed);
    CHECK(t->worker_id == "honest");
    for (const auto& o : t->objectives) CHECK(o->value > -1);
  }
  auto rows = c.result_rows();
  CHECK(rows[leased] == 1);
  CHECK(rows[queued] == 1);
  CHECK(c.daemon().running());
}

TEST_CASE("integrity: a forged Regular result never becomes a delivered student",
          "[integration][integrity]") {
  Cluster c;
  auto teacher = wire::upload_bytes(round_trip_of(c.client()), "teacher weights");
  auto corpus = wire::upload_bytes(round_trip_of(c.client()), "a corpus");
  REQUIRE(teacher);
  REQUIRE(corpus);
  auto spec = distill_spec(teacher.value(), corpus.value());
  spec.max_trials = 2;
  spec.parallelism = 2;
  spec.max_attempts = 1;
  spec.selection = selection(wire::SelectionRule::TopK, 1, "accuracy");
  const uint64_t study = c.submit(std::move(spec));
  c.start_worker("probe", "probe", {"--tag", "cpu-test", "--builtin", "quadratic"});

  // The attacker is the study's only distillation worker: it holds every
  // Flash and Regular lease, and answers the Regular one with bytes of its
  // choosing. The manifest names a digest that is not the weights'.
  WirePeer rogue(c.context(), c.worker_endpoint());
  WirePeer blobs(c.context(), c.worker_endpoint());
  const std::string weights = safetensors_bytes(16);
  const std::string forged_manifest = R"({"format":"autodistill-student","files":{)"
                                      R"("model.safetensors":{"sha256":")" +
                                      std::string(64, 'a') + R"(","size":)" +
                                      std::to_string(weights.size()) + "}}}";
  auto weights_digest = wire::upload_bytes(round_trip_of(blobs), weights);
  auto manifest_digest = wire::upload_bytes(round_trip_of(blobs), forged_manifest);
  REQUIRE(weights_digest);
  REQUIRE(manifest_digest);
  REQUIRE(say_hello(rogue, hello_of("rogue", wire::Role::Distill, {}, 2)).body.AsWelcome());
  wire::PullT pull;
  pull.credits = 2;
  rogue.send(pull);
  uint64_t regular = 0;
  std::optional<wire::EnvelopeT> regular_reply;
  auto deadline = std::chrono::steady_clock::now() + 40s;
  while (regular == 0 && std::chrono::steady_clock::now() < deadline) {
    rogue.send(wire::HeartbeatT{});  // keeps the session, not the leases
    auto env = rogue.receive(100ms);
    if (!env || !env->body.AsAssign()) continue;
    const wire::AssignT a = *env->body.AsAssign();
    wire::ResultT r = forged_result(a.trial_id, a.attempt, a.objectives, 0.5);
    if (a.kind == wire::TrialKind::Regular) {
      regular = a.trial_id;
      for (auto [name, digest, size] :
           {std::tuple{"model.safetensors", weights_digest.value(), weights.size()},
            std::tuple{"manifest.json", manifest_digest.value(), forged_manifest.size()}}) {
        auto art = std::make_unique<wire::ArtifactT>();
        art->name = name;
        art->digest = digest;
        art->size = size;
        r.artifacts.push_back(std::move(art));
      }
      regular_reply = rogue.call(std::move(r));
    } else {
      rogue.send(std::move(r), 1000 + a.trial_id);
      rogue.send(pull);
    }
  }
  REQUIRE(regular != 0);
  // The leaseholder's report is taken (Acked) and its trial fails the check.
  REQUIRE(regular_reply);
  INFO(Cluster::describe(*regular_reply));
  CHECK(regular_reply->body.AsAck());
  auto reply = c.wait_state(study, wire::StudyState::Failed, 20s);
  const auto* t = trial_of(reply, regular);
  REQUIRE(t);
  CHECK(t->state == wire::TrialState::Failed);
  REQUIRE(t->error);
  INFO(t->error->message);
  CHECK(t->error->message.find("model.safetensors") != std::string::npos);
  CHECK(t->error->message.find("sha256") != std::string::npos);
  CHECK(reply.study->message.find("regular") != std::string::npos);
  for (const auto& trial : reply.trials) {
    if (trial->state != wire::TrialState::Completed) continue;
    for (const auto& a : trial->artifacts) CHECK(a->digest != weights_digest.value());
  }
}

TEST_CASE("integrity: under CURVE a worker_id is bound to the key that first used it",
          "[integration][integrity][auth]") {
  testing::TempDir dir;
  auto keygen = [&](const std::string& name) {
    Process p = Process::spawn(
        {AUTODISTILL_CLI_PATH, "keygen", "--out", dir.path(), "--name", name}, dir.path() + "/kg");
    REQUIRE(p.wait(30s) == 0);
  };
  for (const char* name : {"server", "worker", "other", "admin"}) keygen(name);
  auto pub = [&](const std::string& name) {
    return wire::read_curve_key_file(dir.path() + "/" + name + ".key", false)->public_key;
  };
  auto keys = [&](const std::string& name) {
    return wire::load_client_keys(dir.path() + "/server.key", dir.path() + "/" + name + ".secret")
        .value();
  };
  const std::string workers = dir.path() + "/workers.allow";
  const std::string clients = dir.path() + "/clients.allow";
  // Both worker keys are allowed: a second host, or a stolen allowed key.
  std::ofstream(workers) << pub("worker") << "\n" << pub("other") << "\n";
  std::ofstream(clients) << pub("admin") << " admin\n";
  Cluster c({"--curve_secret_key_file", dir.path() + "/server.secret", "--worker_keys_file",
             workers, "--client_keys_file", clients},
            keys("admin"));
  uint64_t study = c.submit(external_spec(1, 1));
  c.start_worker("w1", "external",
                 {"--study", std::to_string(study), "--builtin", "sleep:2500", "--server-key",
                  dir.path() + "/server.key", "--key-file", dir.path() + "/worker.secret"});
  const uint64_t leased = wait_leased(c, study, "w1");

  // Another key says Hello as "w1", claiming its lease: refused.
  WirePeer other(c.context(), c.worker_endpoint(), keys("other"));
  wire::HelloT takeover = hello_of("w1", wire::Role::External, {study});
  auto ref = std::make_unique<wire::TrialRefT>();
  ref->trial_id = leased;
  ref->attempt = 1;
  takeover.running.push_back(std::move(ref));
  auto answer = say_hello(other, std::move(takeover));
  INFO(Cluster::describe(answer));
  REQUIRE(answer.body.AsReject());
  CHECK(answer.body.AsReject()->error->code == wire::ErrorCode::PermissionDenied);
  CHECK(answer.body.AsReject()->error->field == "worker_id");
  // Under its own id it is a worker like any other, but not w1's leaseholder.
  REQUIRE(say_hello(other, hello_of("other", wire::Role::External, {study})).body.AsWelcome());
  check_refused(other.call(forged_result(leased, 1, {"f1", "f2"}, -1e9)),
                wire::ErrorCode::PermissionDenied);

  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  REQUIRE(reply.trials.size() == 1);
  CHECK(reply.trials[0]->worker_id == "w1");
  CHECK(reply.trials[0]->attempt == 1);
  for (const auto& o : reply.trials[0]->objectives) CHECK(o->value > -1);
}

TEST_CASE("integrity: two Hellos on one connection, then silence, do not end the daemon",
          "[integration][integrity]") {
  Cluster c;
  uint64_t study = c.submit(external_spec(1, 1));
  {
    WirePeer twice(c.context(), c.worker_endpoint());
    REQUIRE(say_hello(twice, hello_of("first", wire::Role::External, {study})).body.AsWelcome());
    wire::PullT pull;
    pull.credits = 1;
    twice.send(pull);
    REQUIRE(wait_until([&] {
      auto env = twice.receive(100ms);
      return env && env->body.AsAssign();
    }));
    REQUIRE(say_hello(twice, hello_of("second", wire::Role::External, {study})).body.AsWelcome());
    CHECK(list_workers(c).workers.size() == 2);
  }
  // Silence: both sessions are dropped, then "first"'s lease expires.
  std::this_thread::sleep_for(2500ms);
  REQUIRE(c.daemon().running());
  auto listed = list_workers(c);
  CHECK(listed.workers.size() == 2);
  for (const auto& w : listed.workers) CHECK_FALSE(w->connected);
  // The trial went back to the queue; a real worker completes the study.
  c.start_worker("w", "external", {"--study", std::to_string(study), "--builtin", "quadratic"});
  auto reply = c.wait_state(study, wire::StudyState::Succeeded);
  CHECK(reply.trials[0]->worker_id == "w");
  CHECK(c.daemon().running());
}

TEST_CASE("integrity: a worker that takes work and goes silent is quarantined",
          "[integration][integrity]") {
  Cluster c;
  auto spec = external_spec(3, 3);
  spec.max_attempts = 2;
  uint64_t study = c.submit(std::move(spec));
  // The silent peer keeps its session alive (empty heartbeats) and pulls,
  // but never reports progress: every lease it takes expires.
  WirePeer silent(c.context(), c.worker_endpoint());
  REQUIRE(say_hello(silent, hello_of("silent", wire::Role::External, {study}, 8)).body.AsWelcome());
  wire::PullT pull;
  pull.credits = 8;
  silent.send(pull);
  std::map<uint64_t, int> assigned;  // trial -> Assigns the silent peer got
  auto listen = [&](std::chrono::milliseconds for_how_long) {
    auto until = std::chrono::steady_clock::now() + for_how_long;
    while (std::chrono::steady_clock::now() < until) {
      silent.send(wire::HeartbeatT{});
      if (auto env = silent.receive(100ms); env && env->body.AsAssign()) {
        assigned[env->body.AsAssign()->trial_id]++;
        silent.send(pull);
      }
    }
  };
  REQUIRE(wait_until([&] {
    listen(100ms);
    return assigned.size() == 3;
  }));
  c.start_worker("healthy", "external",
                 {"--study", std::to_string(study), "--builtin", "quadratic", "--slots", "1"});
  wire::StudyReplyT reply;
  REQUIRE(wait_until(
      [&] {
        listen(200ms);
        reply = c.get(study);
        return reply.study->state >= wire::StudyState::Succeeded;
      },
      30s));
  INFO(reply.study->message);
  CHECK(reply.study->state == wire::StudyState::Succeeded);
  for (const auto& t : reply.trials) {
    INFO("trial " << t->trial_id);
    CHECK(t->state == wire::TrialState::Completed);
    CHECK(t->worker_id == "healthy");
    CHECK(assigned[t->trial_id] == 1);
  }
  CHECK(c.finished_by("healthy").size() == 3);
}

TEST_CASE("integrity: the data directory is private whatever the umask",
          "[integration][integrity]") {
  const mode_t old = ::umask(022);
  Cluster c;
  ::umask(old);
  // A published blob and an upload left half-way.
  REQUIRE(wire::upload_bytes(round_trip_of(c.client()), "published bytes"));
  wire::BlobPutT put;
  put.digest = wire::sha256_hex("a half upload");
  put.total_size = 13;
  put.data = {'a', ' ', 'h'};
  auto ack = c.client().call(std::move(put));
  REQUIRE(ack);
  REQUIRE(ack->body.AsBlobPutAck());
  const std::string d = c.data_dir();
  CHECK(mode_of(d) == 0700);
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
    INFO(e.path());
    if (e.is_directory()) {
      CHECK(mode_of(e.path()) == 0700);
    } else {
      CHECK(mode_of(e.path()) == 0600);
      ++files;
    }
  }
  for (const char* name : {"autodistill.db", "autodistill.db-wal", "autodistill.db-shm"}) {
    INFO(name);
    CHECK(std::filesystem::exists(d + "/" + name));
  }
  CHECK(files >= 6);  // lock, db, wal, shm, a blob, a partial upload
}

TEST_CASE("integrity: ghost workers and abandoned uploads are expired",
          "[integration][integrity]") {
  Cluster c({"--worker_retention_seconds", "3", "--partial_upload_max_age_seconds", "1"});
  // 1000 worker ids say Hello (one connection, one after the other) and vanish.
  {
    WirePeer ghost(c.context(), c.worker_endpoint());
    for (int i = 0; i < 1000; ++i) {
      ghost.send(hello_of("ghost-" + std::to_string(i), wire::Role::Probe), i + 1);
    }
    int welcomed = 0;
    for (auto env = ghost.receive(5s); env; env = ghost.receive(5s)) {
      welcomed += env->body.AsWelcome() != nullptr;
      if (env->request_id == 1000) break;
    }
    REQUIRE(welcomed == 1000);
  }
  CHECK(worker_rows(c) == 1000);
  c.start_worker("alive", "probe", {"--tag", "cpu-test", "--builtin", "quadratic"});
  wire::BlobPutT put;
  put.digest = wire::sha256_hex("never finished");
  put.total_size = 14;
  put.data = {'n', 'e', 'v'};
  auto ack = c.client().call(std::move(put));
  REQUIRE(ack);
  REQUIRE(ack->body.AsBlobPutAck());
  const std::string partial = c.data_dir() + "/blobs/partial/" + wire::sha256_hex("never finished");
  CHECK(std::filesystem::exists(partial));

  REQUIRE(wait_until([&] { return worker_rows(c) == 1; }, 10s));
  auto listed = list_workers(c);
  REQUIRE(listed.workers.size() == 1);
  CHECK(listed.workers[0]->worker_id == "alive");
  CHECK(listed.workers[0]->connected);
  REQUIRE(wait_until([&] { return !std::filesystem::exists(partial); }, 10s));
  wire::BlobStatT stat;
  stat.digest = wire::sha256_hex("never finished");
  auto resumed = c.client().call(stat);
  REQUIRE(resumed);
  REQUIRE(resumed->body.AsBlobPutAck());
  CHECK(resumed->body.AsBlobPutAck()->next_offset == 0);
  CHECK(c.daemon().running());
}

TEST_CASE("integrity: a Hello naming an unknown or finished study is rejected",
          "[integration][integrity]") {
  Cluster c;
  WirePeer peer(c.context(), c.worker_endpoint());
  auto unknown = say_hello(peer, hello_of("lost", wire::Role::External, {424242}));
  INFO(Cluster::describe(unknown));
  REQUIRE(unknown.body.AsReject());
  CHECK(unknown.body.AsReject()->error->code == wire::ErrorCode::NotFound);
  CHECK(unknown.body.AsReject()->error->field == "studies[0]");

  uint64_t study = c.submit(external_spec(1, 1));
  c.start_worker("w", "external", {"--study", std::to_string(study), "--builtin", "quadratic"});
  c.wait_state(study, wire::StudyState::Succeeded);
  auto finished = say_hello(peer, hello_of("late", wire::Role::External, {study}));
  INFO(Cluster::describe(finished));
  REQUIRE(finished.body.AsReject());
  CHECK(finished.body.AsReject()->error->code == wire::ErrorCode::FailedPrecondition);
  CHECK(finished.body.AsReject()->error->field == "studies[0]");
}
