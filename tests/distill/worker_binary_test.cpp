// autodistill-distill-worker as a process against an in-test fake daemon:
// Hello with the Distill role, a Flash trial end to end over the wire
// (teacher bundle and corpus fetched as blobs, progress in heartbeats,
// artifacts uploaded before the Result), SIGTERM, bad flags, and a teacher
// whose vocab.txt does not fit its config (issue #11, item 6).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "autodistill/wire/bundle.hpp"
#include "fake_daemon.hpp"
#include "tiny_teacher.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace std::chrono_literals;
using test::FakeDaemon;
using test::TempDir;

class Child {
 public:
  Child(std::vector<std::string> args, const std::filesystem::path& log) {
    // AUTODISTILL_DISTILL_WORKER_BIN in the environment runs another build
    // of the worker (e.g. to show a regression test failing on old code).
    const char* other = std::getenv("AUTODISTILL_DISTILL_WORKER_BIN");
    args.insert(args.begin(), other && *other ? other : AUTODISTILL_DISTILL_WORKER_BIN);
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

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("autodistill-distill-worker prints its help and exits 2 on bad flags") {
  TempDir dir;
  Child help({"--help"}, dir.path() / "help.log");
  CHECK(help.wait(10s) == 0);
  CHECK_THAT(read_file(dir.path() / "help.log"), Catch::Contains("--device"));
  Child study({"--study", "3"}, dir.path() / "study.log");
  CHECK(study.wait(10s) == 2);
  CHECK_THAT(read_file(dir.path() / "study.log"), Catch::Contains("--study is for External"));
  Child device({"--device", "tpu"}, dir.path() / "device.log");
  CHECK(device.wait(10s) == 2);
  Child role({"--role", "probe"}, dir.path() / "role.log");
  CHECK(role.wait(10s) == 2);
}

TEST_CASE("autodistill-distill-worker runs a Flash trial over the wire") {
  FakeDaemon daemon;
  TempDir dir;
  const auto teacher_dir = testing::tiny_teacher_dir();
  REQUIRE(wire::pack_directory(teacher_dir, dir.path() / "teacher.tar"));
  const std::string teacher = daemon.put_blob(read_file(dir.path() / "teacher.tar"));
  const std::string corpus = daemon.put_blob(read_file(teacher_dir / "corpus.txt"));

  Child child({"--endpoint", daemon.endpoint(), "--worker-id", "distill-bin", "--threads", "1",
               "--cache-dir", (dir.path() / "cache").string(), "--scratch-dir",
               (dir.path() / "scratch").string()},
              dir.path() / "worker.log");
  REQUIRE(child.pid() > 0);
  auto hello = daemon.next<wire::HelloT>(10s);
  REQUIRE(hello);
  CHECK(hello->role == wire::Role::Distill);
  CHECK(hello->worker_id == "distill-bin");
  REQUIRE(hello->hardware);
  CHECK(hello->hardware->torch_version.rfind("1.", 0) == 0);
  daemon.welcome(100, 5, 10000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(5s));

  wire::AssignT assign;
  assign.trial_id = 5;
  assign.attempt = 1;
  assign.study_id = 2;
  assign.kind = wire::TrialKind::Flash;
  assign.lease_ms = 10000;
  for (auto [name, value] :
       {std::pair{"num_blocks", 2.0}, std::pair{"hidden_size", 32.0},
        std::pair{"bottleneck_size", 16.0}, std::pair{"num_heads", 2.0},
        std::pair{"intermediate_size", 32.0}, std::pair{"num_stacked_ffn", 1.0}}) {
    auto p = std::make_unique<wire::ParamValueT>();
    p->name = name;
    p->number = value;
    assign.params.push_back(std::move(p));
  }
  assign.objectives = {"accuracy"};
  assign.settings_json =
      R"({"distill": {"flash_steps": 200, "batch_size": 8, "seq_len": 32, "eval_batches": 2}})";
  assign.teacher_digest = teacher;
  assign.corpus_digest = corpus;
  daemon.send(std::move(assign));

  auto result = daemon.next<wire::ResultT>(60s);
  INFO(read_file(dir.path() / "worker.log"));
  REQUIRE(result);
  CHECK(result->trial_id == 5);
  std::map<std::string, double> objectives, metrics;
  for (const auto& m : result->objectives) objectives[m->name] = m->value;
  for (const auto& m : result->metrics) metrics[m->name] = m->value;
  CHECK(objectives.count("accuracy") == 1);
  CHECK(objectives.at("accuracy") > 0.05);
  CHECK(metrics.count("nsp_accuracy") == 1);  // beyond the requested objectives
  CHECK(metrics.at("steps") == 200);
  REQUIRE(result->artifacts.size() == 7);  // the student, its tokenizer files, the manifest
  for (const auto& a : result->artifacts) {
    INFO(a->name);
    CHECK(daemon.blob(a->digest));  // uploaded before the Result
  }
  CHECK(daemon.results_naming_missing_blobs() == 0);
  // Heartbeats carried the training progress.
  bool saw_progress = false;
  while (auto beat = daemon.next<wire::HeartbeatT>(0ms)) {
    for (const auto& p : beat->progress) saw_progress = saw_progress || p->fraction > 0.0;
  }
  CHECK(saw_progress);

  child.signal(SIGTERM);
  wire::AckT ack;
  ack.trial_id = 5;
  ack.attempt = 1;
  daemon.send(std::move(ack));
  CHECK(child.wait(10s) == 0);
}

// Issue #11, item 6: a teacher whose vocab.txt holds 5 tokens while its
// config.json says 238 was accepted, every word became [UNK], MLM accuracy
// was a perfect 1.0 and the delivered student was garbage. The worker must
// refuse it as a permanent Failure naming vocab.txt, never a Result.
TEST_CASE("autodistill-distill-worker refuses a teacher whose vocab.txt does not fit its config") {
  FakeDaemon daemon;
  TempDir dir;
  const auto teacher_dir = testing::tiny_teacher_dir();
  const std::string corpus = daemon.put_blob(read_file(teacher_dir / "corpus.txt"));
  // Two broken copies of the tiny teacher: only the five special tokens;
  // the full vocabulary less [MASK] (replaced, so the size still fits).
  std::string full = read_file(teacher_dir / "vocab.txt");
  const std::string specials = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  std::string no_mask = full;
  no_mask.replace(no_mask.find("[MASK]"), 6, "[MASQ]");
  std::vector<std::string> teachers;
  for (const auto& [name, vocab] : {std::pair{"five", specials}, std::pair{"no_mask", no_mask}}) {
    const auto copy = dir.path() / name;
    std::filesystem::create_directories(copy);
    for (const char* file : {"config.json", "model.safetensors"}) {
      std::filesystem::copy_file(teacher_dir / file, copy / file);
    }
    std::ofstream(copy / "vocab.txt", std::ios::binary) << vocab;
    REQUIRE(wire::pack_directory(copy, dir.path() / (std::string(name) + ".tar")));
    teachers.push_back(daemon.put_blob(read_file(dir.path() / (std::string(name) + ".tar"))));
  }

  Child child({"--endpoint", daemon.endpoint(), "--worker-id", "distill-vocab", "--threads", "1",
               "--cache-dir", (dir.path() / "cache").string(), "--scratch-dir",
               (dir.path() / "scratch").string()},
              dir.path() / "worker.log");
  REQUIRE(child.pid() > 0);
  REQUIRE(daemon.next<wire::HelloT>(10s));
  daemon.welcome(100, 5, 10000, 1 << 20);
  REQUIRE(daemon.next<wire::PullT>(5s));
  const char* expected[] = {"has 5 tokens but config.json's vocab_size is",
                            "lacks the special token [MASK]"};
  for (size_t i = 0; i < teachers.size(); ++i) {
    wire::AssignT assign;
    assign.trial_id = 30 + i;
    assign.attempt = 1;
    assign.study_id = 2;
    assign.kind = wire::TrialKind::Flash;
    assign.lease_ms = 10000;
    for (auto [name, value] :
         {std::pair{"num_blocks", 1.0}, std::pair{"hidden_size", 16.0},
          std::pair{"bottleneck_size", 8.0}, std::pair{"num_heads", 2.0},
          std::pair{"intermediate_size", 16.0}, std::pair{"num_stacked_ffn", 1.0}}) {
      auto p = std::make_unique<wire::ParamValueT>();
      p->name = name;
      p->number = value;
      assign.params.push_back(std::move(p));
    }
    assign.objectives = {"accuracy"};
    assign.settings_json =
        R"({"distill": {"flash_steps": 4, "batch_size": 4, "seq_len": 16, "eval_batches": 1}})";
    assign.teacher_digest = teachers[i];
    assign.corpus_digest = corpus;
    daemon.send(std::move(assign));

    INFO("teacher " << i << "; worker log:\n" << read_file(dir.path() / "worker.log"));
    CHECK_FALSE(daemon.next<wire::ResultT>(0ms));
    auto failure = daemon.next<wire::FailureT>(60s);
    REQUIRE(failure);
    CHECK(failure->trial_id == 30 + i);
    CHECK_FALSE(failure->retryable);
    REQUIRE(failure->error);
    CHECK(failure->error->field == "vocab.txt");
    CHECK_THAT(failure->error->message, Catch::Contains(expected[i]));
    CHECK_FALSE(daemon.next<wire::ResultT>(0ms));
    wire::AckT ack;
    ack.trial_id = 30 + i;
    ack.attempt = 1;
    daemon.send(std::move(ack));
  }
  child.signal(SIGTERM);
  CHECK(child.wait(10s) == 0);
}
