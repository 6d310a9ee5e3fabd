// The real PullWorker against FakeDaemon on loopback: the session, the
// outbox, reconnection, cancellation, progress and blob transfer.

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "autodistill/wire/digest.hpp"
#include "autodistill/worker/pull_worker.hpp"
#include "fake_daemon.hpp"
#include "worker_test_support.hpp"

namespace {

// After the daemon's reply to a Result: a copy the worker re-sent before it
// read the reply (its resend timer is liveness x heartbeat = 300 ms in these
// tests) may still be on the way on a loaded machine. Waiting two resend
// periods before listening leaves only copies sent after the reply.
constexpr auto kResendSettle = std::chrono::milliseconds(700);

using namespace autodistill;
using namespace std::chrono_literals;
using test::FakeDaemon;
using test::FunctionEvaluator;
using test::TempDir;
using test::WorkerThread;
using worker::TrialContext;
using worker::TrialOutcome;

wire::AssignT make_assign(uint64_t trial, uint32_t attempt, std::map<std::string, double> params,
                          std::vector<std::string> objectives = {"a", "b"}) {
  wire::AssignT assign;
  assign.trial_id = trial;
  assign.attempt = attempt;
  assign.study_id = 7;
  assign.kind = wire::TrialKind::External;
  assign.lease_ms = 5000;
  for (const auto& [name, value] : params) {
    auto p = std::make_unique<wire::ParamValueT>();
    p->name = name;
    p->number = value;
    assign.params.push_back(std::move(p));
  }
  assign.objectives = std::move(objectives);
  return assign;
}

wire::AckT make_ack(uint64_t trial, uint32_t attempt) {
  wire::AckT ack;
  ack.trial_id = trial;
  ack.attempt = attempt;
  return ack;
}

double param(const TrialContext& ctx, const std::string& name) {
  return std::get<double>(ctx.spec().params.at(name));
}

// sum over params of (x - centre)^2: what the quadratic evaluator reports.
FunctionEvaluator quadratic() {
  return FunctionEvaluator([](TrialContext& ctx) -> Result<TrialOutcome> {
    TrialOutcome outcome;
    for (size_t j = 0; j < ctx.spec().objectives.size(); ++j) {
      double sum = 0;
      for (const auto& [name, value] : ctx.spec().params) {
        double x = std::get<double>(value);
        sum += (x - static_cast<double>(j)) * (x - static_cast<double>(j));
      }
      outcome.objectives[ctx.spec().objectives[j]] = sum;
    }
    return outcome;
  });
}

std::map<std::string, double> objectives_of(const wire::ResultT& result) {
  std::map<std::string, double> out;
  for (const auto& m : result.objectives) out[m->name] = m->value;
  return out;
}

// Waits for Hello, answers Welcome with a fast heartbeat, consumes the Pull.
wire::HelloT start_session(FakeDaemon& daemon, uint32_t heartbeat_ms = 100,
                           uint32_t max_chunk_bytes = 1 << 20) {
  auto hello = daemon.next<wire::HelloT>(3s);
  REQUIRE(hello);
  daemon.welcome(heartbeat_ms, 3, 5000, max_chunk_bytes);
  auto pull = daemon.next<wire::PullT>(2s);
  REQUIRE(pull);
  return std::move(*hello);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("Hello carries identity and role and tag and studies and Pull credits equal the slots",
          "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  auto eval = quadratic();
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);

  auto hello = daemon.next<wire::HelloT>(3s);
  REQUIRE(hello);
  CHECK(hello->worker_id == "test-worker");
  CHECK(hello->role == wire::Role::External);
  REQUIRE(hello->hardware);
  CHECK(hello->hardware->tag == "tagX");
  CHECK(hello->hardware->fingerprint.size() == 64);
  CHECK(hello->hardware->cores > 0);
  CHECK(hello->slots == 2);
  CHECK(hello->studies == std::vector<uint64_t>{7});
  CHECK(hello->running.empty());
  CHECK_FALSE(daemon.next<wire::PullT>(200ms));  // no credit before Welcome

  daemon.welcome(100, 3, 5000, 1 << 20);
  auto pull = daemon.next<wire::PullT>(2s);
  REQUIRE(pull);
  CHECK(pull->credits == 2);
  auto heartbeat = daemon.next<wire::HeartbeatT>(2s);
  REQUIRE(heartbeat);
  CHECK(heartbeat->progress.empty());

  CHECK(worker.stop().is_ok());
  CHECK(daemon.next<wire::ByeT>(2s));
}

TEST_CASE("a Result stays in the outbox and is re-sent until its Ack", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  auto eval = quadratic();
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  wire::HelloT hello = start_session(daemon);

  daemon.send(make_assign(1, 1, {{"x", 1.0}, {"y", 2.0}}));
  auto result = daemon.next<wire::ResultT>(2s);
  REQUIRE(result);
  CHECK(result->trial_id == 1);
  CHECK(result->attempt == 1);
  auto objectives = objectives_of(*result);
  CHECK(objectives.at("a") == Approx(1.0 + 4.0));  // centre 0
  CHECK(objectives.at("b") == Approx(0.0 + 1.0));  // centre 1
  CHECK(result->hardware_fingerprint == hello.hardware->fingerprint);
  CHECK(result->elapsed_ms >= 0.0);
  auto pull = daemon.next<wire::PullT>(2s);
  REQUIRE(pull);
  CHECK(pull->credits == 1);  // the slot is free again

  // Unacknowledged: sent again after liveness * interval (300 ms).
  auto again = daemon.next<wire::ResultT>(2s);
  REQUIRE(again);
  CHECK(again->trial_id == 1);

  daemon.send(make_ack(1, 1));
  std::this_thread::sleep_for(kResendSettle);
  daemon.clear();
  CHECK_FALSE(daemon.next<wire::ResultT>(800ms));
  CHECK(worker.stop().is_ok());
}

TEST_CASE("a Result the daemon refuses leaves the outbox, a transient error keeps it",
          "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  auto eval = quadratic();
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  start_session(daemon);

  daemon.send(make_assign(1, 1, {{"x", 1.0}}));
  auto first = daemon.next_envelope<wire::ResultT>(2s);
  REQUIRE(first);
  // A transient error (a full disk on the daemon): the Result is re-sent.
  daemon.send(wire::to_wire(Status(Code::kResourceExhausted, "disk full")), first->request_id);
  auto again = daemon.next_envelope<wire::ResultT>(2s);
  REQUIRE(again);
  CHECK(again->request_id == first->request_id);
  // Refused for good (the worker did not hold that lease): dropped, and
  // neither re-sent nor kept alive by heartbeats.
  daemon.send(wire::to_wire(Status(Code::kPermissionDenied, "not your lease", "attempt")),
              again->request_id);
  std::this_thread::sleep_for(kResendSettle);
  daemon.clear();
  CHECK_FALSE(daemon.next<wire::ResultT>(800ms));
  auto heartbeat = daemon.next<wire::HeartbeatT>(1s);
  REQUIRE(heartbeat);
  CHECK(heartbeat->progress.empty());
  CHECK(worker.stop().is_ok());
}

TEST_CASE("an unacknowledged Result survives a daemon restart", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  auto eval = quadratic();
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  start_session(daemon);

  daemon.send(make_assign(3, 2, {{"x", 0.5}}));
  auto result = daemon.next<wire::ResultT>(2s);
  REQUIRE(result);

  daemon.restart();  // silent: the worker must notice and reconnect
  daemon.clear();
  auto hello = daemon.next<wire::HelloT>(5s);
  REQUIRE(hello);
  REQUIRE(hello->running.size() == 1);
  CHECK(hello->running[0]->trial_id == 3);
  CHECK(hello->running[0]->attempt == 2);

  daemon.welcome(100, 3, 5000, 1 << 20);
  auto pull = daemon.next<wire::PullT>(2s);
  REQUIRE(pull);
  CHECK(pull->credits == 2);
  auto resent = daemon.next<wire::ResultT>(2s);
  REQUIRE(resent);
  CHECK(resent->trial_id == 3);
  CHECK(resent->attempt == 2);
  CHECK(objectives_of(*resent) == objectives_of(*result));

  daemon.send(make_ack(3, 2));
  std::this_thread::sleep_for(kResendSettle);
  daemon.clear();
  CHECK_FALSE(daemon.next<wire::ResultT>(800ms));
  CHECK(worker.stop().is_ok());
}

TEST_CASE("Error{UnknownPeer} makes the worker say Hello again at once", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  auto eval = quadratic();
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  start_session(daemon, /*heartbeat_ms=*/1000);  // silence limit 3 s

  const auto sent = std::chrono::steady_clock::now();
  daemon.send(wire::to_wire(Status(Code::kUnknownPeer, "who are you?")));
  auto hello = daemon.next<wire::HelloT>(2s);
  REQUIRE(hello);
  CHECK(std::chrono::steady_clock::now() - sent < 1s);  // not the silence timeout
  daemon.welcome(1000, 3, 5000, 1 << 20);
  auto pull = daemon.next<wire::PullT>(2s);
  REQUIRE(pull);
  CHECK(pull->credits == 2);
  CHECK(worker.stop().is_ok());
}

TEST_CASE("heartbeats carry progress and Cancel stops the trial with nothing reported",
          "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  std::atomic<bool> saw_cancel{false};
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    ctx.report_progress(0.25, "warming up", {{"loss", 2.5}});
    saw_cancel = ctx.wait_cancelled_for(10s);
    // Even an outcome returned after a cancel must be dropped.
    TrialOutcome outcome;
    outcome.objectives = {{"a", 1.0}, {"b", 2.0}};
    return outcome;
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  start_session(daemon);

  daemon.send(make_assign(5, 1, {{"x", 1.0}}));
  bool progressed = false;
  for (int i = 0; i < 20 && !progressed; ++i) {
    auto heartbeat = daemon.next<wire::HeartbeatT>(1s);
    REQUIRE(heartbeat);
    for (const auto& p : heartbeat->progress) {
      if (p->trial_id != 5) continue;
      CHECK(p->attempt == 1);
      CHECK(p->fraction == Approx(0.25));
      CHECK(p->message == "warming up");
      REQUIRE(p->metrics.size() == 1);
      CHECK(p->metrics[0]->name == "loss");
      CHECK(p->metrics[0]->value == Approx(2.5));
      progressed = true;
    }
  }
  REQUIRE(progressed);

  wire::CancelT cancel;
  cancel.trial_id = 5;
  cancel.attempt = 1;
  cancel.reason = "study cancelled";
  daemon.send(std::move(cancel));
  auto pull = daemon.next<wire::PullT>(2s);  // the slot is free again
  REQUIRE(pull);
  CHECK(pull->credits == 1);
  CHECK(saw_cancel);
  daemon.clear();
  CHECK_FALSE(daemon.next<wire::ResultT>(500ms));
  CHECK_FALSE(daemon.next<wire::FailureT>(10ms));
  auto heartbeat = daemon.next<wire::HeartbeatT>(1s);
  REQUIRE(heartbeat);
  CHECK(heartbeat->progress.empty());
  CHECK(worker.stop().is_ok());
}

TEST_CASE("evaluator errors become Failures with the right retryable flag", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  FunctionEvaluator eval([](TrialContext& ctx) -> Result<TrialOutcome> {
    switch (static_cast<int>(param(ctx, "case"))) {
      case 1:
        return worker::permanent_failure("heads do not divide the width");
      case 2:
        return worker::retryable_failure("out of memory");
      case 3:
        throw std::runtime_error("boom");
      default: {
        TrialOutcome outcome;
        outcome.objectives = {{"a", 1.0}};  // "b" is missing
        return outcome;
      }
    }
  });
  auto options = test::test_options(daemon.endpoint(), dir);
  options.slots = 4;
  WorkerThread worker(options, eval);
  start_session(daemon);
  for (uint64_t trial = 1; trial <= 4; ++trial) {
    daemon.send(make_assign(trial, 1, {{"case", static_cast<double>(trial)}}));
  }
  std::map<uint64_t, wire::FailureT> failures;
  for (int i = 0; i < 4; ++i) {
    auto failure = daemon.next<wire::FailureT>(2s);
    REQUIRE(failure);
    failures[failure->trial_id] = std::move(*failure);
  }
  REQUIRE(failures.size() == 4);
  CHECK_FALSE(failures[1].retryable);
  CHECK(failures[1].error->code == wire::ErrorCode::InvalidArgument);
  CHECK(failures[1].error->message == "heads do not divide the width");
  CHECK(failures[2].retryable);
  CHECK(failures[2].error->code == wire::ErrorCode::TrialError);
  CHECK(failures[3].retryable);
  CHECK_THAT(failures[3].error->message, Catch::Contains("boom"));
  CHECK_FALSE(failures[4].retryable);
  CHECK_THAT(failures[4].error->message, Catch::Contains("\"b\""));
  CHECK(failures[4].error->field == "objectives.b");
  CHECK_FALSE(daemon.next<wire::ResultT>(10ms));
  CHECK(worker.stop().is_ok());
}

TEST_CASE("artifacts are uploaded before the Result that names them", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  std::string content(3000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + 3);
  std::filesystem::path scratch;
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    scratch = ctx.scratch_dir();
    std::ofstream(ctx.scratch_dir() / "model.bin", std::ios::binary) << content;
    TrialOutcome outcome;
    outcome.objectives = {{"a", 1.0}, {"b", 2.0}};
    outcome.artifacts.push_back({"model.bin", ctx.scratch_dir() / "model.bin"});
    return outcome;
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  start_session(daemon, 100, /*max_chunk_bytes=*/1024);

  daemon.send(make_assign(9, 1, {{"x", 1.0}}));
  auto result = daemon.next<wire::ResultT>(3s);
  REQUIRE(result);
  REQUIRE(result->artifacts.size() == 1);
  const wire::ArtifactT& artifact = *result->artifacts[0];
  CHECK(artifact.name == "model.bin");
  CHECK(artifact.size == 3000);
  CHECK(artifact.digest == wire::sha256_hex(content));
  CHECK(daemon.results_naming_missing_blobs() == 0);
  CHECK(daemon.blob_puts() == 3);  // 1024 + 1024 + 952
  CHECK(daemon.blob(artifact.digest) == content);
  CHECK_FALSE(std::filesystem::exists(scratch));  // removed after the upload
  CHECK(worker.stop().is_ok());
}

TEST_CASE("fetch_blob downloads in chunks once and then serves the cache", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  std::string teacher(2500, '\0');
  for (size_t i = 0; i < teacher.size(); ++i) teacher[i] = static_cast<char>(i * 13 + 1);
  const std::string digest = daemon.put_blob(teacher);
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    auto path = ctx.fetch_blob(ctx.spec().teacher_digest);
    if (!path) return path.status();
    TrialOutcome outcome;
    outcome.objectives = {{"a", static_cast<double>(std::filesystem::file_size(path.value()))},
                          {"b", read_file(path.value()) == teacher ? 1.0 : 0.0}};
    return outcome;
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  start_session(daemon, 100, /*max_chunk_bytes=*/1000);

  // Two trials fetch the same blob at the same time: one download.
  for (uint64_t trial : {1, 2}) {
    auto assign = make_assign(trial, 1, {{"x", 0.0}});
    assign.teacher_digest = digest;
    daemon.send(std::move(assign));
  }
  for (int i = 0; i < 2; ++i) {
    auto result = daemon.next<wire::ResultT>(3s);
    REQUIRE(result);
    CHECK(objectives_of(*result) == std::map<std::string, double>{{"a", 2500.0}, {"b", 1.0}});
  }
  CHECK(daemon.blob_gets() == 3);  // 1000 + 1000 + 500
  CHECK(read_file(dir.path() / "cache" / digest) == teacher);

  auto assign = make_assign(3, 1, {{"x", 0.0}});
  assign.teacher_digest = digest;
  daemon.send(std::move(assign));
  auto result = daemon.next<wire::ResultT>(3s);
  REQUIRE(result);
  CHECK(objectives_of(*result).at("b") == 1.0);
  CHECK(daemon.blob_gets() == 3);  // served from the cache

  auto missing = make_assign(4, 1, {{"x", 0.0}});
  missing.teacher_digest = wire::sha256_hex("not stored");
  daemon.send(std::move(missing));
  auto failure = daemon.next<wire::FailureT>(3s);
  REQUIRE(failure);
  CHECK(failure->trial_id == 4);
  CHECK(failure->error->code == wire::ErrorCode::NotFound);
  CHECK(worker.stop().is_ok());
}

TEST_CASE("stop() cancels running trials then says Bye and returns ok", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  std::atomic<bool> started{false}, saw_cancel{false};
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    started = true;
    saw_cancel = ctx.wait_cancelled_for(10s);
    return Status(Code::kCancelled, "cancelled");
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  start_session(daemon);
  daemon.send(make_assign(11, 1, {{"x", 0.0}}));
  for (int i = 0; i < 100 && !started; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(started);

  const auto before = std::chrono::steady_clock::now();
  CHECK(worker.stop().is_ok());
  CHECK(std::chrono::steady_clock::now() - before < 2s);
  CHECK(saw_cancel);
  CHECK(daemon.next<wire::ByeT>(2s));
  CHECK_FALSE(daemon.next<wire::FailureT>(10ms));
}

TEST_CASE("a Reject ends run() with the daemon's error", "[workers][pull]") {
  FakeDaemon daemon;
  TempDir dir;
  auto eval = quadratic();
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  REQUIRE(daemon.next<wire::HelloT>(3s));
  wire::RejectT reject;
  reject.error = std::make_unique<wire::ErrorT>(
      wire::to_wire(Status(Code::kInvalidArgument, "unknown hardware tag", "hardware.tag")));
  daemon.send(std::move(reject));
  Status status = worker.join();
  CHECK(status.code() == Code::kInvalidArgument);
  CHECK(status.field() == "hardware.tag");
  CHECK_THAT(status.message(), Catch::Contains("unknown hardware tag"));
  CHECK_FALSE(daemon.next<wire::HelloT>(500ms));  // no blind retry
}

TEST_CASE("bad options are refused before connecting", "[workers][pull]") {
  TempDir dir;
  auto eval = quadratic();
  auto check = [&](auto mutate, const std::string& field) {
    auto options = test::test_options("tcp://127.0.0.1:1", dir);
    mutate(options);
    worker::PullWorker worker(options, eval);
    Status status = worker.run();
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK(status.field() == field);
  };
  check([](worker::PullWorkerOptions& o) { o.studies.clear(); }, "studies");
  check([](worker::PullWorkerOptions& o) { o.role = wire::Role::Probe; }, "studies");
  check([](worker::PullWorkerOptions& o) { o.slots = 0; }, "slots");
  check([](worker::PullWorkerOptions& o) { o.worker_id = "a b"; }, "worker_id");
  check([](worker::PullWorkerOptions& o) { o.endpoint = "nonsense"; }, "endpoint");
}
