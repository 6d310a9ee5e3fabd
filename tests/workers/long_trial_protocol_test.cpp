// The pull loop's side of long trials (docs/protocol.md "Checkpoints",
// "Gangs"), with the real PullWorker against FakeDaemon on loopback and
// TrialContext on its own: checkpoints published in the background,
// uploaded before they are reported, re-sent until CheckpointAck, refused
// checkpoints dropped, nothing published without the daemon's "checkpoint"
// feature; Assign.resume and Assign.gang reaching the trial; a gang's
// rendezvous address announced and relayed; a rank > 0 Result.

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include <catch2/catch.hpp>

#include "autodistill/wire/digest.hpp"
#include "autodistill/worker/pull_worker.hpp"
#include "fake_daemon.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace std::chrono_literals;
using test::FakeDaemon;
using test::FunctionEvaluator;
using test::TempDir;
using test::WorkerThread;
using worker::CheckpointFile;
using worker::TrialContext;
using worker::TrialOutcome;

wire::AssignT make_assign(uint64_t trial, uint32_t attempt) {
  wire::AssignT assign;
  assign.trial_id = trial;
  assign.attempt = attempt;
  assign.study_id = 7;
  assign.kind = wire::TrialKind::External;
  assign.lease_ms = 5000;
  assign.objectives = {"a"};
  return assign;
}

// A gate the test opens step by step for the evaluator.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mu_);
    ++opened_;
    cv_.notify_all();
  }
  // Waits until the gate was opened `n` times (or the trial is cancelled).
  bool wait(int n, TrialContext& ctx) {
    std::unique_lock lock(mu_);
    while (opened_ < n) {
      if (ctx.cancelled()) return false;
      cv_.wait_for(lock, 10ms);
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int opened_ = 0;
};

// Writes `text` to dir/name and returns it as the checkpoint's only file.
worker::CheckpointWriter write_text(std::filesystem::path dir, std::string text) {
  return [dir = std::move(dir), text = std::move(text)]() -> Result<std::vector<CheckpointFile>> {
    const auto path = dir / ("checkpoint-" + std::to_string(text.size()) + ".bin");
    std::ofstream(path, std::ios::binary) << text;
    return std::vector<CheckpointFile>{{"checkpoint.bin", path}};
  };
}

wire::CheckpointAckT make_checkpoint_ack(uint64_t trial, uint32_t attempt, uint64_t step) {
  wire::CheckpointAckT ack;
  ack.trial_id = trial;
  ack.attempt = attempt;
  ack.step = step;
  return ack;
}

}  // namespace

TEST_CASE("checkpoints are uploaded in the background, reported, and re-sent until acknowledged",
          "[workers][pull][checkpoint]") {
  FakeDaemon daemon;
  TempDir dir;
  Gate gate;
  std::atomic<bool> files_left{true};
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    REQUIRE(ctx.checkpoints_enabled());
    for (int step = 1; step <= 2; ++step) {
      if (!gate.wait(step, ctx)) return Status(Code::kCancelled, "cancelled");
      const bool started = ctx.publish_checkpoint(
          step, 2, "test/1", write_text(ctx.scratch_dir(), std::string(step * 10, 'c')));
      if (!started) return worker::retryable_failure("publish_checkpoint refused");
      if (Status s = ctx.wait_checkpoint(); !s) return s;
    }
    files_left = std::filesystem::exists(ctx.scratch_dir() / "checkpoint-10.bin") ||
                 std::filesystem::exists(ctx.scratch_dir() / "checkpoint-20.bin");
    if (!gate.wait(3, ctx)) return Status(Code::kCancelled, "cancelled");
    TrialOutcome outcome;
    outcome.objectives["a"] = 1.0;
    return outcome;
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  REQUIRE(daemon.next<wire::HelloT>(3s));
  daemon.welcome(100, 3, 5000, 1 << 20, {"checkpoint"});
  REQUIRE(daemon.next<wire::PullT>(2s));
  daemon.send(make_assign(4, 2));

  gate.open();
  auto first = daemon.next<wire::CheckpointT>(5s);
  REQUIRE(first);
  CHECK(first->trial_id == 4);
  CHECK(first->attempt == 2);
  CHECK(first->step == 1);
  CHECK(first->total_steps == 2);
  CHECK(first->format == "test/1");
  REQUIRE(first->blobs.size() == 1);
  CHECK(first->blobs[0]->name == "checkpoint.bin");
  CHECK(first->blobs[0]->size == 10);
  CHECK(first->blobs[0]->digest == wire::sha256_hex(std::string(10, 'c')));
  // Uploaded before it was reported.
  CHECK(daemon.blob(first->blobs[0]->digest) == std::string(10, 'c'));

  // Unacknowledged: sent again (every liveness x heartbeat = 300 ms).
  auto again = daemon.next<wire::CheckpointT>(2s);
  REQUIRE(again);
  CHECK(again->step == 1);
  daemon.send(make_checkpoint_ack(4, 2, 1));
  std::this_thread::sleep_for(100ms);
  daemon.clear();
  CHECK_FALSE(daemon.next<wire::CheckpointT>(700ms));

  gate.open();
  auto second = daemon.next<wire::CheckpointT>(5s);
  REQUIRE(second);
  CHECK(second->step == 2);
  REQUIRE(second->blobs.size() == 1);
  CHECK(daemon.blob(second->blobs[0]->digest) == std::string(20, 'c'));
  daemon.send(make_checkpoint_ack(4, 2, 2));

  gate.open();
  auto result = daemon.next<wire::ResultT>(5s);
  REQUIRE(result);
  CHECK(result->rank == 0);
  CHECK_FALSE(files_left.load());  // the local files go once uploaded
  CHECK(worker.stop().is_ok());
}

TEST_CASE("a daemon without the checkpoint feature gets no checkpoints",
          "[workers][pull][checkpoint]") {
  FakeDaemon daemon;
  TempDir dir;
  std::atomic<int> enabled{-1}, started{-1};
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    enabled = ctx.checkpoints_enabled();
    started = ctx.publish_checkpoint(1, 1, "test/1", write_text(ctx.scratch_dir(), "x"));
    TrialOutcome outcome;
    outcome.objectives["a"] = 1.0;
    return outcome;
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  REQUIRE(daemon.next<wire::HelloT>(3s));
  daemon.welcome(100, 3, 5000, 1 << 20);  // no features
  REQUIRE(daemon.next<wire::PullT>(2s));
  daemon.send(make_assign(5, 1));
  REQUIRE(daemon.next<wire::ResultT>(5s));
  CHECK(enabled == 0);
  CHECK(started == 0);
  CHECK_FALSE(daemon.next<wire::CheckpointT>(300ms));
  CHECK(daemon.blob_puts() == 0);
  CHECK(worker.stop().is_ok());
}

TEST_CASE("a checkpoint the daemon refuses with an Error is not sent again",
          "[workers][pull][checkpoint]") {
  FakeDaemon daemon;
  TempDir dir;
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    REQUIRE(ctx.publish_checkpoint(3, 9, "test/1", write_text(ctx.scratch_dir(), "abc")));
    REQUIRE(ctx.wait_checkpoint());
    ctx.wait_cancelled_for(10s);
    return Status(Code::kCancelled, "cancelled");
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  REQUIRE(daemon.next<wire::HelloT>(3s));
  daemon.welcome(100, 3, 5000, 1 << 20, {"checkpoint"});
  REQUIRE(daemon.next<wire::PullT>(2s));
  daemon.send(make_assign(6, 1));
  auto checkpoint = daemon.next_request<wire::CheckpointT>(5s);
  REQUIRE(checkpoint);
  CHECK(checkpoint->second.step == 3);
  daemon.send(wire::to_wire(Status(Code::kNotFound, "no blob", "blobs[0].digest")),
              checkpoint->first);
  std::this_thread::sleep_for(200ms);
  daemon.clear();
  CHECK_FALSE(daemon.next<wire::CheckpointT>(800ms));
  CHECK(worker.stop().is_ok());
}

TEST_CASE("TrialContext publishes one checkpoint at a time and stop aborts the upload",
          "[workers][pull][checkpoint]") {
  TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> uploads{0};
  std::atomic<int> woken{0};
  worker::TrialServices services;
  services.checkpoints_enabled = [] { return true; };
  services.wake = [&] {
    // A slow wake-up: whoever waits for the publication must still see it
    // (the loop is woken before the publication counts as finished).
    std::this_thread::sleep_for(20ms);
    ++woken;
  };
  services.upload = [&](const std::filesystem::path& file,
                        const std::function<bool()>& cancelled) -> Result<std::string> {
    ++uploads;
    std::unique_lock lock(mu);
    while (!release) {
      if (cancelled()) return Status(Code::kCancelled, "upload aborted");
      cv.wait_for(lock, 5ms);
    }
    std::ifstream in(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return wire::sha256_hex(bytes);
  };
  worker::TrialSpec spec;
  spec.trial_id = 9;
  spec.attempt = 3;
  TrialContext ctx(spec, dir.path(), services);

  int writes = 0;
  auto writer = [&]() -> Result<std::vector<CheckpointFile>> {
    ++writes;
    return write_text(dir.path(), "state")();
  };
  REQUIRE(ctx.publish_checkpoint(10, 100, "test/1", writer));
  CHECK(ctx.checkpoint_busy());
  CHECK_FALSE(ctx.publish_checkpoint(20, 100, "test/1", writer));  // one in flight
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  REQUIRE(ctx.wait_checkpoint());
  CHECK(woken == 1);
  auto report = ctx.take_checkpoint_report();
  REQUIRE(report);
  CHECK(report->trial_id == 9);
  CHECK(report->attempt == 3);
  CHECK(report->step == 10);
  REQUIRE(report->blobs.size() == 1);
  CHECK(report->blobs[0].digest == wire::sha256_hex("state"));
  CHECK(report->blobs[0].size == 5);
  CHECK_FALSE(ctx.take_checkpoint_report());  // taken once
  CHECK(writes == 1);

  // A writer error is the publication's status; nothing is reported.
  REQUIRE(ctx.publish_checkpoint(30, 100, "test/1", []() -> Result<std::vector<CheckpointFile>> {
    return Status(Code::kInternal, "disk full");
  }));
  CHECK(ctx.wait_checkpoint().code() == Code::kInternal);
  CHECK_FALSE(ctx.take_checkpoint_report());

  // stop_checkpoints() aborts an upload in flight and refuses new ones.
  {
    std::lock_guard lock(mu);
    release = false;
  }
  REQUIRE(ctx.publish_checkpoint(40, 100, "test/1", writer));
  while (uploads < 2) std::this_thread::sleep_for(1ms);
  ctx.stop_checkpoints();
  CHECK(ctx.wait_checkpoint().code() == Code::kCancelled);
  CHECK_FALSE(ctx.take_checkpoint_report());
  CHECK_FALSE(ctx.checkpoints_enabled());
  CHECK_FALSE(ctx.publish_checkpoint(50, 100, "test/1", writer));
  CHECK(ctx.checkpoints_published() == 1);
}

TEST_CASE("Assign.resume and Assign.gang reach the trial spec", "[workers][pull][gang]") {
  wire::AssignT assign = make_assign(11, 4);
  assign.resume = std::make_unique<wire::CheckpointT>();
  assign.resume->trial_id = 11;
  assign.resume->attempt = 3;
  assign.resume->step = 120;
  assign.resume->total_steps = 400;
  assign.resume->format = "autodistill-checkpoint/1";
  auto blob = std::make_unique<wire::ArtifactT>();
  blob->name = "checkpoint.safetensors";
  blob->digest = std::string(64, 'a');
  blob->size = 77;
  assign.resume->blobs.push_back(std::move(blob));
  assign.gang = std::make_unique<wire::GangT>();
  assign.gang->rank = 1;
  assign.gang->world_size = 3;
  assign.gang->address = "10.0.0.1:4242";
  // Through the wire and back.
  const std::string frame = wire::encode_message(1, std::move(assign));
  auto decoded = wire::decode(frame.data(), frame.size());
  REQUIRE(decoded);
  const worker::TrialSpec spec = worker::trial_spec_from_assign(*decoded->body.AsAssign());
  REQUIRE(spec.resume);
  CHECK(spec.resume->attempt == 3);
  CHECK(spec.resume->step == 120);
  CHECK(spec.resume->total_steps == 400);
  CHECK(spec.resume->format == "autodistill-checkpoint/1");
  REQUIRE(spec.resume->blobs.size() == 1);
  CHECK(spec.resume->blobs[0].name == "checkpoint.safetensors");
  CHECK(spec.resume->blobs[0].size == 77);
  REQUIRE(spec.gang);
  CHECK(spec.gang->rank == 1);
  CHECK(spec.gang->world_size == 3);
  TempDir dir;
  TrialContext ctx(spec, dir.path());
  CHECK(ctx.wait_gang_address(0ms) == std::optional<std::string>("10.0.0.1:4242"));

  const worker::TrialSpec plain = worker::trial_spec_from_assign(make_assign(12, 1));
  CHECK_FALSE(plain.resume);
  CHECK_FALSE(plain.gang);
}

TEST_CASE("rank 0 announces its rendezvous address and a relayed one reaches rank 1",
          "[workers][pull][gang]") {
  FakeDaemon daemon;
  TempDir dir;
  FunctionEvaluator eval([&](TrialContext& ctx) -> Result<TrialOutcome> {
    REQUIRE(ctx.spec().gang);
    TrialOutcome outcome;
    if (ctx.spec().gang->rank == 0) {
      ctx.announce_gang_address("127.0.0.1:5999");
      ctx.wait_cancelled_for(300ms);
      outcome.objectives["a"] = 2.0;
      return outcome;
    }
    auto address = ctx.wait_gang_address(5s);
    if (!address) return worker::retryable_failure("no gang address");
    outcome.metrics["address_port"] = std::stod(address->substr(address->find(':') + 1));
    return outcome;  // no objectives: a rank > 0 reports none
  });
  WorkerThread worker(test::test_options(daemon.endpoint(), dir), eval);
  REQUIRE(daemon.next<wire::HelloT>(3s));
  daemon.welcome(100, 3, 5000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(2s));

  wire::AssignT rank0 = make_assign(20, 1);
  rank0.gang = std::make_unique<wire::GangT>();
  rank0.gang->rank = 0;
  rank0.gang->world_size = 2;
  daemon.send(std::move(rank0));
  auto announced = daemon.next<wire::GangAddressT>(3s);
  REQUIRE(announced);
  CHECK(announced->trial_id == 20);
  CHECK(announced->attempt == 1);
  CHECK(announced->address == "127.0.0.1:5999");
  auto result0 = daemon.next<wire::ResultT>(3s);
  REQUIRE(result0);
  CHECK(result0->rank == 0);
  CHECK(result0->objectives.size() == 1);

  wire::AssignT rank1 = make_assign(21, 2);
  rank1.gang = std::make_unique<wire::GangT>();
  rank1.gang->rank = 1;
  rank1.gang->world_size = 2;
  daemon.send(std::move(rank1));
  std::this_thread::sleep_for(100ms);
  wire::GangAddressT relay;
  relay.trial_id = 21;
  relay.attempt = 2;
  relay.address = "127.0.0.1:6123";
  daemon.send(std::move(relay));
  auto result1 = daemon.next<wire::ResultT>(5s);
  REQUIRE(result1);
  CHECK(result1->trial_id == 21);
  CHECK(result1->rank == 1);
  CHECK(result1->objectives.empty());  // only rank 0 reports objectives
  CHECK(result1->artifacts.empty());
  REQUIRE(result1->metrics.size() == 1);
  CHECK(result1->metrics[0]->value == 6123);
  CHECK_FALSE(daemon.next<wire::FailureT>(0ms));
  CHECK(worker.stop().is_ok());
}
