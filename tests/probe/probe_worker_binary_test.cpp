// autodistill-probe-worker as a process: Hello with role Probe, the tag and
// LibTorch's identity; a Result for a probe trial; a permanent Failure for a
// bad architecture; bad flags; the landscape export.

#include <signal.h>

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "autodistill/probe/cpu_set.hpp"
#include "fake_daemon.hpp"
#include "process.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace std::chrono_literals;
using autodistill::testing::Process;
using test::FakeDaemon;
using test::TempDir;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> probe_command(const TempDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> argv = {AUTODISTILL_PROBE_WORKER_BIN,
                                   "--lock-file",
                                   (dir.path() / "probe.lock").string(),
                                   "--cpus",
                                   std::to_string(probe::allowed_cpus().back()),
                                   "--warmup-ms",
                                   "0",
                                   "--max-time-ms",
                                   "200",
                                   "--precision",
                                   "0.05"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

wire::AssignT probe_assign(uint64_t trial, double heads) {
  wire::AssignT assign;
  assign.trial_id = trial;
  assign.attempt = 1;
  assign.study_id = 3;
  assign.kind = wire::TrialKind::Probe;
  assign.lease_ms = 10000;
  const std::pair<const char*, double> factors[] = {
      {"num_blocks", 2},    {"hidden_size", 64},       {"bottleneck_size", 32},
      {"num_heads", heads}, {"intermediate_size", 64}, {"num_stacked_ffn", 1}};
  for (const auto& [name, value] : factors) {
    auto p = std::make_unique<wire::ParamValueT>();
    p->name = name;
    p->number = value;
    assign.params.push_back(std::move(p));
  }
  assign.objectives = {"latency_ms", "params"};
  assign.settings_json =
      R"({"student": {"vocab_size": 1000, "max_positions": 64}, "serving": {"seq_len": 32}})";
  assign.hardware_tag = "cpu-test";
  return assign;
}

void ack(FakeDaemon& daemon, uint64_t trial) {
  wire::AckT a;
  a.trial_id = trial;
  a.attempt = 1;
  daemon.send(std::move(a));
}

}  // namespace

TEST_CASE("autodistill-probe-worker probes trials and fails bad architectures for good",
          "[probe][binary]") {
  FakeDaemon daemon;
  TempDir dir;
  Process worker = Process::spawn(
      probe_command(dir, {"--endpoint", daemon.endpoint(), "--tag", "cpu-test", "--worker-id",
                          "probe-bin", "--cache-dir", (dir.path() / "cache").string(),
                          "--scratch-dir", (dir.path() / "scratch").string()}),
      (dir.path() / "worker.log").string());
  auto hello = daemon.next<wire::HelloT>(10s);
  REQUIRE(hello);
  CHECK(hello->worker_id == "probe-bin");
  CHECK(hello->role == wire::Role::Probe);
  CHECK(hello->slots == 1);
  CHECK(hello->software_version.rfind("autodistill-probe-worker ", 0) == 0);
  REQUIRE(hello->hardware);
  CHECK(hello->hardware->tag == "cpu-test");
  CHECK(hello->hardware->threads == 1);  // pinned to one CPU
  CHECK(hello->hardware->cores == 1);
  CHECK_FALSE(hello->hardware->torch_version.empty());
  CHECK(hello->hardware->fingerprint.size() == 64);
  daemon.welcome(100, 3, 10000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(2s));

  daemon.send(probe_assign(41, 2));
  auto result = daemon.next<wire::ResultT>(30s);
  INFO(read_file(dir.path() / "worker.log"));
  REQUIRE(result);
  CHECK(result->trial_id == 41);
  REQUIRE(result->objectives.size() == 2);
  CHECK(result->objectives[0]->name == "latency_ms");
  CHECK(result->objectives[0]->value > 0);
  CHECK(result->objectives[1]->name == "params");
  CHECK(result->objectives[1]->value > 0);
  std::map<std::string, double> metrics;
  for (const auto& m : result->metrics) metrics[m->name] = m->value;
  for (const char* name : {"flops", "p90_ms", "p99_ms", "mean_ms", "std_ms", "runs",
                           "throughput_bs1", "peak_memory_bytes"}) {
    INFO(name);
    CHECK(metrics.count(name) == 1);
  }
  CHECK(result->hardware_fingerprint == hello->hardware->fingerprint);
  ack(daemon, 41);
  REQUIRE(daemon.next<wire::PullT>(5s));

  daemon.send(probe_assign(42, 3));  // 3 heads do not divide the bottleneck 32
  auto failure = daemon.next<wire::FailureT>(10s);
  REQUIRE(failure);
  CHECK(failure->trial_id == 42);
  CHECK_FALSE(failure->retryable);
  REQUIRE(failure->error);
  CHECK(failure->error->field == "params.num_heads");
  CHECK_THAT(failure->error->message, Catch::Contains("num_heads (3) must divide"));
  ack(daemon, 42);

  worker.signal(SIGTERM);
  CHECK(worker.wait(10s) == 0);
}

TEST_CASE("autodistill-probe-worker refuses bad flags with exit status 2", "[probe][binary]") {
  TempDir dir;
  const auto log = (dir.path() / "flags.log").string();
  const std::vector<std::vector<std::string>> bad = {
      {"--slots", "2"},  {"--study", "4"},     {"--landscape", "space.json"},
      {"--cpus", "3-1"}, {"--precision", "2"}, {"--role", "distill"}};
  std::vector<Process> runs;
  for (const auto& extra : bad) runs.push_back(Process::spawn(probe_command(dir, extra), log));
  for (size_t i = 0; i < runs.size(); ++i) {
    INFO(bad[i][0]);
    CHECK(runs[i].wait(60s) == 2);  // six LibTorch start-ups at once: slow on a loaded machine
  }
  CHECK_THAT(read_file(log), Catch::Contains("one trial at a time"));
}

TEST_CASE("autodistill-probe-worker --landscape writes the CSV of a design space",
          "[probe][binary]") {
  TempDir dir;
  const auto space = dir.path() / "space.json";
  std::ofstream(space) << R"({"factors": [
      {"name": "num_blocks", "kind": "ordinal", "values": [1, 2]},
      {"name": "hidden_size", "kind": "ordinal", "values": [64]},
      {"name": "bottleneck_size", "kind": "ordinal", "values": [32]},
      {"name": "num_heads", "kind": "ordinal", "values": [2]},
      {"name": "intermediate_size", "kind": "ordinal", "values": [64]},
      {"name": "num_stacked_ffn", "kind": "integer", "low": 1, "high": 1}],
    "settings": {"student": {"vocab_size": 1000, "max_positions": 64},
                 "serving": {"seq_len": 32}}})";
  const auto csv = dir.path() / "landscape.csv";
  Process p =
      Process::spawn(probe_command(dir, {"--landscape", space.string(), "--out", csv.string()}),
                     (dir.path() / "landscape.log").string());
  REQUIRE(p.wait(30s) == 0);
  const std::string text = read_file(csv);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);  // header + 2 points
  CHECK(text.rfind("num_blocks,hidden_size,", 0) == 0);
  CHECK_THAT(read_file(dir.path() / "landscape.log"), Catch::Contains("2/2 num_blocks=2"));
}
