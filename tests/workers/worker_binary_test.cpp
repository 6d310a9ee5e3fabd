// The executables as processes: autodistill-worker (--exec, SIGTERM, exit
// codes) and autodistill-test-worker (any role, --log), against FakeDaemon.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <catch2/catch.hpp>

#include "fake_daemon.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace std::chrono_literals;
using test::FakeDaemon;
using test::TempDir;

// A child process, killed (SIGKILL) if the test leaves it running.
class Child {
 public:
  Child(const std::string& binary, std::vector<std::string> args,
        const std::filesystem::path& log) {
    args.insert(args.begin(), binary);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // The exit status, or -1 when it did not exit normally within `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

wire::AssignT make_assign(uint64_t trial, uint32_t attempt, wire::TrialKind kind) {
  wire::AssignT assign;
  assign.trial_id = trial;
  assign.attempt = attempt;
  assign.study_id = 7;
  assign.kind = kind;
  assign.lease_ms = 5000;
  auto p = std::make_unique<wire::ParamValueT>();
  p->name = "x";
  p->number = 2.0;
  assign.params.push_back(std::move(p));
  assign.objectives = {"f0", "f1"};
  return assign;
}

}  // namespace

TEST_CASE("autodistill-worker prints its help and exits 2 on bad flags", "[workers][binary]") {
  TempDir dir;
  Child help(AUTODISTILL_WORKER_BIN, {"--help"}, dir.path() / "help.log");
  CHECK(help.wait(5s) == 0);
  Child no_study(AUTODISTILL_WORKER_BIN, {"--builtin", "quadratic"}, dir.path() / "a.log");
  CHECK(no_study.wait(5s) == 2);
  CHECK_THAT(read_file(dir.path() / "a.log"), Catch::Contains("--study is required"));
  Child both(AUTODISTILL_WORKER_BIN, {"--study", "1", "--builtin", "quadratic", "--exec", "true"},
             dir.path() / "b.log");
  CHECK(both.wait(5s) == 2);
  CHECK_THAT(read_file(dir.path() / "b.log"), Catch::Contains("exactly one of --exec"));
}

TEST_CASE("autodistill-worker evaluates with an exec command and exits 0 on SIGTERM",
          "[workers][binary]") {
  FakeDaemon daemon;
  TempDir dir;
  Child child(
      AUTODISTILL_WORKER_BIN,
      {"--endpoint", daemon.endpoint(), "--study", "7", "--worker-id", "bin-worker", "--cache-dir",
       (dir.path() / "cache").string(), "--scratch-dir", (dir.path() / "scratch").string(),
       "--exec",
       R"(cat > /dev/null; echo "{\"objectives\": {\"f0\": 4, \"f1\": $AUTODISTILL_ATTEMPT}}")"},
      dir.path() / "worker.log");
  REQUIRE(child.pid() > 0);
  auto hello = daemon.next<wire::HelloT>(5s);
  REQUIRE(hello);
  CHECK(hello->worker_id == "bin-worker");
  CHECK(hello->role == wire::Role::External);
  CHECK(hello->studies == std::vector<uint64_t>{7});
  daemon.welcome(100, 3, 5000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(2s));
  daemon.send(make_assign(21, 3, wire::TrialKind::External));
  auto result = daemon.next<wire::ResultT>(5s);
  REQUIRE(result);
  REQUIRE(result->objectives.size() == 2);
  CHECK(result->objectives[0]->name == "f0");
  CHECK(result->objectives[0]->value == 4.0);
  CHECK(result->objectives[1]->name == "f1");
  CHECK(result->objectives[1]->value == 3.0);  // the attempt, from the environment

  // Stopping waits (up to 2 s) for the Ack of the result in the outbox, and
  // no longer once it arrives.
  const auto stopped = std::chrono::steady_clock::now();
  child.signal(SIGTERM);
  std::this_thread::sleep_for(100ms);
  wire::AckT ack;
  ack.trial_id = 21;
  ack.attempt = 3;
  daemon.send(std::move(ack));
  CHECK(child.wait(5s) == 0);
  CHECK(std::chrono::steady_clock::now() - stopped < 1500ms);
  CHECK(daemon.next<wire::ByeT>(2s));
}

TEST_CASE("autodistill-worker: --version, --log-level, and a level and UTC time on each line",
          "[workers][binary]") {
  TempDir dir;
  Child version(AUTODISTILL_WORKER_BIN, {"--version"}, dir.path() / "v.log");
  CHECK(version.wait(5s) == 0);
  Child bad(AUTODISTILL_WORKER_BIN,
            {"--study", "1", "--builtin", "quadratic", "--log-level", "loud"},
            dir.path() / "bad.log");
  CHECK(bad.wait(5s) == 2);
  CHECK_THAT(read_file(dir.path() / "bad.log"), Catch::Contains("(field: --log-level)"));

  FakeDaemon daemon;
  Child child(AUTODISTILL_WORKER_BIN,
              {"--endpoint", daemon.endpoint(), "--study", "7", "--worker-id", "log-worker",
               "--cache-dir", (dir.path() / "cache").string(), "--builtin", "quadratic"},
              dir.path() / "worker.log");
  REQUIRE(daemon.next<wire::HelloT>(5s));
  daemon.welcome(100, 3, 5000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(2s));
  child.signal(SIGTERM);
  CHECK(child.wait(5s) == 0);
  const std::string log = read_file(dir.path() / "worker.log");
  INFO(log);
  // <6>2026-12-03T11:40:32.123Z info autodistill-worker: [log-worker] session established ...
  const std::regex line(R"(<6>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info autodistill-worker: )"
                        R"(\[log-worker\] session established with .*)");
  bool found = false;
  std::istringstream lines(log);
  for (std::string l; std::getline(lines, l);) found = found || std::regex_match(l, line);
  CHECK(found);

  // --log-level warn drops the info lines.
  FakeDaemon quiet_daemon;
  Child quiet(AUTODISTILL_WORKER_BIN,
              {"--endpoint", quiet_daemon.endpoint(), "--study", "7", "--cache-dir",
               (dir.path() / "cache").string(), "--builtin", "quadratic", "--log-level", "warn"},
              dir.path() / "quiet.log");
  REQUIRE(quiet_daemon.next<wire::HelloT>(5s));
  quiet_daemon.welcome(100, 3, 5000, 1 << 20);
  REQUIRE(quiet_daemon.next<wire::PullT>(2s));
  quiet.signal(SIGTERM);
  CHECK(quiet.wait(5s) == 0);
  CHECK(read_file(dir.path() / "quiet.log").find("session established") == std::string::npos);
}

TEST_CASE(
    "autodistill-test-worker takes any role and tag and delays results and logs one line per trial",
    "[workers][binary]") {
  FakeDaemon daemon;
  TempDir dir;
  const auto log = dir.path() / "trials.log";
  Child child(AUTODISTILL_TEST_WORKER_BIN,
              {"--endpoint", daemon.endpoint(), "--role", "probe", "--tag", "edge-tpu",
               "--worker-id", "probe-1", "--slots", "2", "--result-delay-ms", "200", "--log",
               log.string(), "--cache-dir", (dir.path() / "cache").string()},
              dir.path() / "worker.log");
  REQUIRE(child.pid() > 0);
  auto hello = daemon.next<wire::HelloT>(5s);
  REQUIRE(hello);
  CHECK(hello->role == wire::Role::Probe);
  CHECK(hello->hardware->tag == "edge-tpu");
  CHECK(hello->studies.empty());
  daemon.welcome(100, 3, 5000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(2s));

  const auto sent = std::chrono::steady_clock::now();
  daemon.send(make_assign(31, 1, wire::TrialKind::Probe));
  daemon.send(make_assign(32, 4, wire::TrialKind::Probe));
  for (int i = 0; i < 2; ++i) {
    auto result = daemon.next<wire::ResultT>(5s);
    REQUIRE(result);
    CHECK(result->objectives[0]->value == 4.0);  // (2 - 0)^2
    CHECK(result->objectives[1]->value == 1.0);  // (2 - 1)^2
    wire::AckT ack;
    ack.trial_id = result->trial_id;
    ack.attempt = result->attempt;
    daemon.send(std::move(ack));
  }
  CHECK(std::chrono::steady_clock::now() - sent >= 200ms);
  std::string lines = read_file(log);
  CHECK_THAT(lines, Catch::Contains("31 1\n"));
  CHECK_THAT(lines, Catch::Contains("32 4\n"));
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 2);

  child.signal(SIGINT);
  CHECK(child.wait(5s) == 0);
}
