// autodistill-distill-worker running Finetune trials through its pull loop,
// as a process against the in-test fake daemon: the teacher and a GLUE task
// fetched as blobs (a bundle, or the model's files one by one as a
// delivered student's artifacts are), progress in heartbeats, dev accuracy
// and F1 with the majority baseline in the Result, finetune.json uploaded
// before it, and a permanent Failure naming the setting at fault.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "autodistill/wire/bundle.hpp"
#include "fake_daemon.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace std::chrono_literals;
using test::FakeDaemon;
using test::TempDir;
namespace fs = std::filesystem;

const fs::path kFixture = AUTODISTILL_FINETUNE_FIXTURE_DIR;

class Child {
 public:
  Child(std::vector<std::string> args, const fs::path& log) {
    args.insert(args.begin(), AUTODISTILL_DISTILL_WORKER_BIN);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_APPEND, 0);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
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

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

wire::AssignT finetune_assign(uint64_t trial, const std::string& teacher,
                              const nlohmann::json& finetune) {
  wire::AssignT assign;
  assign.trial_id = trial;
  assign.attempt = 1;
  assign.study_id = 4;
  assign.kind = wire::TrialKind::Finetune;
  assign.lease_ms = 10000;
  assign.objectives = {"accuracy", "f1"};
  assign.settings_json = nlohmann::json{{"finetune", finetune}}.dump();
  assign.teacher_digest = teacher;
  return assign;
}

void ack(FakeDaemon& daemon, uint64_t trial) {
  wire::AckT ack;
  ack.trial_id = trial;
  ack.attempt = 1;
  daemon.send(std::move(ack));
}

}  // namespace

TEST_CASE("autodistill-distill-worker runs Finetune trials over the wire", "[finetune][binary]") {
  INFO("the finetune_real_text fixture (ctest -R finetune_real_text) builds " << kFixture);
  REQUIRE(fs::exists(kFixture / "teacher" / "model.safetensors"));
  FakeDaemon daemon;
  TempDir dir;
  REQUIRE(wire::pack_directory(kFixture / "teacher", dir.path() / "teacher.tar"));
  REQUIRE(wire::pack_directory(kFixture / "tasks" / "kjv-testament", dir.path() / "task.tar"));
  const std::string teacher = daemon.put_blob(read_file(dir.path() / "teacher.tar"));
  const std::string task = daemon.put_blob(read_file(dir.path() / "task.tar"));
  std::map<std::string, std::string> files;  // the model's files as separate blobs
  for (const char* name : {"config.json", "model.safetensors", "vocab.txt"}) {
    files[name] = daemon.put_blob(read_file(kFixture / "teacher" / name));
  }

  Child child({"--endpoint", daemon.endpoint(), "--worker-id", "finetune-bin", "--threads", "1",
               "--cache-dir", (dir.path() / "cache").string(), "--scratch-dir",
               (dir.path() / "scratch").string()},
              dir.path() / "worker.log");
  REQUIRE(child.pid() > 0);
  auto hello = daemon.next<wire::HelloT>(10s);
  REQUIRE(hello);
  CHECK(hello->role == wire::Role::Distill);
  daemon.welcome(100, 5, 10000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(5s));

  const nlohmann::json base = {
      {"task", task},      {"epochs", 1},           {"max_train_examples", 256},
      {"max_seq_len", 48}, {"learning_rate", 1e-3}, {"seed", 1}};
  nlohmann::json on_teacher = base;
  on_teacher["model"] = "teacher";
  daemon.send(finetune_assign(7, teacher, on_teacher));
  auto result = daemon.next<wire::ResultT>(120s);
  INFO(read_file(dir.path() / "worker.log"));
  REQUIRE(result);
  CHECK(result->trial_id == 7);
  std::map<std::string, double> objectives, metrics;
  for (const auto& m : result->objectives) objectives[m->name] = m->value;
  for (const auto& m : result->metrics) metrics[m->name] = m->value;
  REQUIRE(objectives.count("accuracy") == 1);
  REQUIRE(objectives.count("f1") == 1);
  CHECK(objectives.at("accuracy") >= 0.0);
  CHECK(objectives.at("accuracy") <= 1.0);
  CHECK(metrics.at("majority_accuracy") == Approx(0.5));
  CHECK(metrics.at("steps") == 8);
  CHECK(metrics.at("dev_examples") == 400);
  REQUIRE(result->artifacts.size() == 1);
  CHECK(result->artifacts[0]->name == "finetune.json");
  auto report_blob = daemon.blob(result->artifacts[0]->digest);  // uploaded before the Result
  REQUIRE(report_blob);
  const auto report = nlohmann::json::parse(*report_blob);
  CHECK(report["task"]["name"] == "kjv-testament");
  CHECK(report["model"]["type"] == "bert");
  CHECK(report["model"]["source"] == "teacher");
  CHECK(report["dev"]["accuracy"] == objectives.at("accuracy"));
  CHECK(report["majority"]["accuracy"] == 0.5);
  bool saw_progress = false;
  while (auto beat = daemon.next<wire::HeartbeatT>(0ms)) {
    for (const auto& p : beat->progress) saw_progress = saw_progress || p->fraction > 0.0;
  }
  CHECK(saw_progress);
  ack(daemon, 7);
  REQUIRE(daemon.next<wire::PullT>(5s));

  // The same model named by its files' digests, as a delivered student's
  // artifacts are: the same seed gives the same result.
  nlohmann::json on_files = base;
  on_files["model"] = files;
  daemon.send(finetune_assign(8, "", on_files));
  auto by_files = daemon.next<wire::ResultT>(120s);
  REQUIRE(by_files);
  CHECK(by_files->trial_id == 8);
  std::map<std::string, double> objectives_by_files;
  for (const auto& m : by_files->objectives) objectives_by_files[m->name] = m->value;
  CHECK(objectives_by_files.at("accuracy") == objectives.at("accuracy"));
  ack(daemon, 8);
  REQUIRE(daemon.next<wire::PullT>(5s));

  // A task digest naming something that is not a task bundle fails for good.
  nlohmann::json bad_task = on_teacher;
  bad_task["task"] = files["vocab.txt"];
  daemon.send(finetune_assign(9, teacher, bad_task));
  auto failure = daemon.next<wire::FailureT>(60s);
  REQUIRE(failure);
  CHECK(failure->trial_id == 9);
  CHECK_FALSE(failure->retryable);
  REQUIRE(failure->error);
  CHECK(failure->error->field == "settings.finetune.task");
  ack(daemon, 9);

  child.signal(SIGTERM);
  CHECK(child.wait(10s) == 0);
}
