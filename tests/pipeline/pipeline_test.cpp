// The product end to end on a micro setup: a micro teacher and corpus made
// by autodistill-make-teacher; autodistilld, one distillation worker and
// one probe worker as separate processes on loopback; `autodistill distill
// --wait` as the release pipeline runs it. Every stage must run (probes,
// flash distillations, regular distillation of the chosen), the delivered
// students must load back with the accuracy the study reported (evaluated
// by the distillation library's own code on the worker's held-out set), the
// report must exist, and the same command must return the same study's
// result across daemon restarts: one in the middle of the study, one after.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "../support/process.hpp"
#include "autodistill/client.hpp"
#include "autodistill/distill/evaluation.hpp"
#include "autodistill/model/batch.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/wire/digest.hpp"

// LibTorch's c10 defines a glog-style CHECK (abort on failure); Catch's must
// win, so Catch comes after the LibTorch headers.
#undef CHECK
#include <catch2/catch.hpp>

using namespace autodistill;
using testing::free_tcp_port;
using testing::loopback;
using testing::Process;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kSeqLen = 32;
constexpr int64_t kBatch = 8;
constexpr int64_t kEvalBatches = 2;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The micro teacher (1 layer, 32 wide) and its generated corpus, made once
// per build directory: the tool is deterministic for the same flags. ctest
// runs the pipeline cases in parallel, so each process builds into its own
// staging directory and renames it into place; a loser of that race keeps
// the winner's (identical) files and drops its own.
fs::path micro_teacher() {
  const fs::path dir = AUTODISTILL_PIPELINE_CACHE;
  if (fs::exists(dir / "model.safetensors") && fs::exists(dir / "corpus.txt")) return dir;
  const fs::path staging = dir.string() + ".staging-" + std::to_string(::getpid());
  fs::remove_all(staging);
  Process tool = Process::spawn({AUTODISTILL_MAKE_TEACHER_PATH,
                                 "--out",
                                 staging.string(),
                                 "--documents",
                                 "150",
                                 "--layers",
                                 "1",
                                 "--hidden",
                                 "32",
                                 "--heads",
                                 "2",
                                 "--intermediate",
                                 "64",
                                 "--positions",
                                 "64",
                                 "--steps",
                                 "40",
                                 "--batch-size",
                                 "8",
                                 "--seq-len",
                                 "32",
                                 "--threads",
                                 "1",
                                 "--seed",
                                 "0"},
                                (staging.string() + ".log"));
  REQUIRE(tool.wait(120s) == 0);
  std::error_code ec;
  fs::rename(staging, dir, ec);  // atomic; fails only if another process won
  if (ec && !fs::exists(dir / "corpus.txt")) {
    fs::remove_all(dir);  // a partial directory left by an older build of this test
    fs::rename(staging, dir, ec);
  }
  if (ec) fs::remove_all(staging);
  REQUIRE(fs::exists(dir / "model.safetensors"));
  REQUIRE(fs::exists(dir / "corpus.txt"));
  return dir;
}

const char* kSpace = R"({
  "name": "pipeline-micro",
  "factors": [
    {"name": "num_blocks", "kind": "ordinal", "values": [1]},
    {"name": "hidden_size", "kind": "ordinal", "values": [16, 32]},
    {"name": "bottleneck_size", "kind": "ordinal", "values": [8, 16]},
    {"name": "num_heads", "kind": "ordinal", "values": [2]},
    {"name": "intermediate_size", "kind": "ordinal", "values": [16, 32]},
    {"name": "num_stacked_ffn", "kind": "integer", "low": 1, "high": 2}
  ],
  "parallelism": 2,
  "seed": 3,
  "settings": {
    "distill": {"flash_steps": 4, "regular_steps": 8, "batch_size": 8, "seq_len": 32,
                "learning_rate": 0.01, "eval_batches": 2, "threads": 1},
    "serving": {"batch_size": 1, "seq_len": 32, "threads": 1}
  }
})";

class Cluster {
 public:
  explicit Cluster(const fs::path& dir)
      : dir_(dir),
        worker_endpoint_(loopback(free_tcp_port())),
        client_endpoint_(loopback(free_tcp_port())) {
    start_daemon();
    workers_.push_back(Process::spawn(
        {AUTODISTILL_DISTILL_WORKER_PATH, "--endpoint", worker_endpoint_, "--worker-id",
         "pipeline-distill", "--cache-dir", (dir_ / "cache-distill").string(), "--threads", "1"},
        (dir_ / "distill-worker.log").string()));
    workers_.push_back(Process::spawn(
        {AUTODISTILL_PROBE_WORKER_PATH, "--endpoint", worker_endpoint_, "--worker-id",
         "pipeline-probe", "--cache-dir", (dir_ / "cache-probe").string(), "--lock-file",
         (dir_ / "probe.lock").string(), "--warmup-ms", "10", "--min-runs", "5", "--max-time-ms",
         "200"},
        (dir_ / "probe-worker.log").string()));
  }

  ~Cluster() {
    for (Process& w : workers_) w.signal(SIGTERM);
    for (Process& w : workers_) w.wait(10s);
    stop_daemon(SIGTERM);
  }

  void start_daemon() {
    daemon_ = Process::spawn(
        {AUTODISTILLD_PATH, "--data_dir", (dir_ / "data").string(), "--worker_endpoint",
         worker_endpoint_, "--client_endpoint", client_endpoint_, "--heartbeat_interval_ms", "200",
         "--liveness", "5", "--lease_ms", "3000", "--tick_ms", "50",
         // Not the default 127.0.0.1:9464: another daemon on the host may hold it.
         "--http_listen", ""},
        (dir_ / "daemon.log").string());
    ClientOptions options;
    options.endpoint = client_endpoint_;
    options.request_timeout_ms = 200;
    options.retries = 0;
    Client client(options);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!client.list(1) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
    }
    REQUIRE(client.list(1));
  }

  void stop_daemon(int sig) {
    daemon_.signal(sig);
    daemon_.wait(10s);
  }

  const std::string& client_endpoint() const { return client_endpoint_; }

 private:
  fs::path dir_;
  std::string worker_endpoint_;
  std::string client_endpoint_;
  Process daemon_;
  std::vector<Process> workers_;
};

// The CLI as the pipeline runs it, in the background; stdout to `out`.
Process start_distill(const std::string& endpoint, const fs::path& teacher, const fs::path& dir,
                      const fs::path& out, const std::string& extra = " --budget 3") {
  const std::string command =
      std::string(AUTODISTILL_CLI_PATH) + " --json --endpoint " + endpoint + " distill --teacher " +
      teacher.string() + " --corpus " + (teacher / "corpus.txt").string() + " --space " +
      (dir / "space.json").string() + extra + " --select pareto:1 --out " + (dir / "out").string() +
      " --wait >" + out.string() + " 2>>" + (dir / "cli.err").string();
  return Process::spawn({"/bin/sh", "-c", command}, (dir / "cli.log").string());
}

nlohmann::json last_line(const fs::path& path) {
  std::istringstream lines(slurp(path));
  std::string line, last;
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last, nullptr, false);
}

// The held-out set the worker evaluated on, rebuilt by the library from the
// same corpus, vocabulary and settings.
std::vector<model::Batch> eval_batches(const fs::path& corpus_path, const fs::path& student) {
  auto corpus = model::Corpus::open(corpus_path);
  REQUIRE(corpus);
  auto vocab = model::Vocab::read(student / "vocab.txt");
  REQUIRE(vocab);
  auto tokenizer = model::WordPieceTokenizer::create(std::move(vocab.value()));
  REQUIRE(tokenizer);
  model::ExampleOptions examples;
  examples.seq_len = kSeqLen;
  auto batches =
      model::make_eval_batches(*corpus, *tokenizer, examples, kEvalBatches, kBatch, /*seed=*/0);
  REQUIRE(batches);
  return std::move(batches.value());
}

}  // namespace

TEST_CASE(
    "pipeline: distill --wait runs every stage and delivers loadable students, across "
    "daemon restarts") {
  const fs::path teacher = micro_teacher();
  const fs::path dir =
      fs::temp_directory_path() / ("autodistill-pipeline-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "space.json") << kSpace;
  Cluster cluster(dir);

  // The first run; the daemon is killed (SIGKILL) and restarted while the
  // study explores, and the command carries on.
  Process first = start_distill(cluster.client_endpoint(), teacher, dir, dir / "first.jsonl");
  ClientOptions options;
  options.endpoint = cluster.client_endpoint();
  Client client(options);
  const auto submitted_by = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < submitted_by) {
    auto studies = client.list(1);
    if (studies && !studies->empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(client.list(1)->size() == 1);
  cluster.stop_daemon(SIGKILL);
  cluster.start_daemon();
  REQUIRE(first.wait(150s) == 0);

  const nlohmann::json outcome = last_line(dir / "first.jsonl");
  INFO(slurp(dir / "first.jsonl") << slurp(dir / "cli.err"));
  REQUIRE(outcome.is_object());
  const uint64_t study_id = outcome["study"]["study_id"];
  CHECK(outcome["study"]["state"] == "succeeded");
  CHECK(fs::exists(outcome["report"].get<std::string>()));
  CHECK(slurp(outcome["pareto_svg"].get<std::string>()).find("</svg>") != std::string::npos);

  // Every stage ran: completed probe, flash and regular trials.
  auto details = client.get(study_id, true);
  REQUIRE(details);
  std::map<TrialKind, int> completed;
  for (const TrialInfo& t : details->trials) {
    if (t.state == TrialState::kCompleted) completed[t.kind]++;
  }
  CHECK(completed[TrialKind::kProbe] >= 3);
  CHECK(completed[TrialKind::kFlash] >= 3);
  CHECK(completed[TrialKind::kRegular] >= 1);
  // The default baseline was evaluated like every candidate and reported.
  CHECK_FALSE(details->study.spec.baseline.empty());
  int baselines = 0;
  for (const auto& row : outcome["candidates"]) {
    if (row["baseline"] == true) {
      ++baselines;
      CHECK(row["flash_accuracy"].is_number());
      CHECK(row["latency_ms"].is_number());
    }
  }
  CHECK(baselines == 1);
  CHECK(slurp(outcome["report"].get<std::string>()).find("baseline") != std::string::npos);

  // The students load back and score what the study reported.
  REQUIRE(outcome["students"].size() >= 1);
  for (const auto& student : outcome["students"]) {
    const fs::path student_dir = student["dir"].get<std::string>();
    INFO(student_dir);
    for (const char* file :
         {"model.safetensors", "config.json", "vocab.txt", "tokenizer.json",
          "tokenizer_config.json", "special_tokens_map.json", "manifest.json", "onnx/model.onnx"}) {
      CHECK(fs::exists(student_dir / file));
    }
    // The CLI exported it to ONNX (autodistill-export-onnx of the build tree).
    CHECK(student["onnx"] == (student_dir / "onnx" / "model.onnx").string());
    auto loaded = model::load_student(student_dir);
    REQUIRE(loaded);
    const model::Student& s = *loaded;
    const distill::EvalResult eval =
        distill::evaluate([&s](const model::ModelInputs& in,
                               const model::ForwardOptions& o) { return s.forward(in, o); },
                          eval_batches(teacher / "corpus.txt", student_dir), at::Device(at::kCPU));
    CHECK(eval.mlm_accuracy == Approx(student["accuracy"].get<double>()).margin(1e-6));
    const auto manifest = nlohmann::json::parse(slurp(student_dir / "manifest.json"));
    CHECK(manifest["accuracy"]["mlm_accuracy"].get<double>() ==
          Approx(eval.mlm_accuracy).margin(1e-6));
    // The latency the candidate's probe trial measured reached the manifest
    // (the daemon hands it to the Regular trial), with its interval and the
    // probe's hardware fingerprint, and every file's digest.
    CHECK(manifest["latency"]["median_ms"].get<double>() ==
          Approx(student["latency_ms"].get<double>()));
    CHECK(manifest["latency"]["median_ci_ms"][0].get<double>() <=
          manifest["latency"]["median_ms"].get<double>());
    CHECK(manifest["latency"]["median_ci_ms"][1].get<double>() >=
          manifest["latency"]["median_ms"].get<double>());
    CHECK_FALSE(manifest["latency"]["hardware_fingerprint"].get<std::string>().empty());
    CHECK(manifest["parameters"] == s.parameter_count());
    // The daemon took the student only with the digests its manifest records.
    for (const char* file : {"model.safetensors", "config.json", "vocab.txt", "tokenizer.json"}) {
      CHECK(manifest["files"][file]["sha256"] ==
            wire::sha256_file((student_dir / file).string()).value());
    }
  }

  // A retry after another restart: the same study, nothing new, same result.
  const std::string first_student =
      slurp(outcome["students"][0]["dir"].get<std::string>() + "/model.safetensors");
  cluster.stop_daemon(SIGTERM);
  cluster.start_daemon();
  Process retry = start_distill(cluster.client_endpoint(), teacher, dir, dir / "retry.jsonl");
  REQUIRE(retry.wait(60s) == 0);
  std::istringstream retry_lines(slurp(dir / "retry.jsonl"));
  std::string submit_line;
  std::getline(retry_lines, submit_line);
  const auto submit = nlohmann::json::parse(submit_line);
  CHECK(submit["created"] == false);
  CHECK(submit["study"]["study_id"] == study_id);
  const nlohmann::json again = last_line(dir / "retry.jsonl");
  CHECK(again["study"]["study_id"] == study_id);
  CHECK(again["students"] == outcome["students"]);
  CHECK(slurp(again["students"][0]["dir"].get<std::string>() + "/model.safetensors") ==
        first_student);
  auto studies = client.list(0);
  REQUIRE(studies);
  CHECK(studies->size() == 1);
  fs::remove_all(dir);
}

// Issue #12 item 5: a study that names a GLUE task fine-tunes the teacher,
// the baseline (distilled regularly for the table) and each delivered
// student on it (Finetune trials run by the same distillation worker), keeps
// going across a daemon restart in the middle of the fine-tuning, and its
// report shows the GLUE table.
TEST_CASE("pipeline: --glue-task fine-tunes teacher, baseline and students, report has the table",
          "[glue]") {
  const fs::path teacher = micro_teacher();
  const fs::path task = fs::path(AUTODISTILL_FINETUNE_FIXTURE_DIR) / "tasks" / "kjv-testament";
  REQUIRE(fs::exists(task / "train.tsv"));
  const fs::path dir =
      fs::temp_directory_path() / ("autodistill-pipeline-glue-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  nlohmann::json space = nlohmann::json::parse(kSpace);
  space["settings"]["glue"] = {{"epochs", 1},       {"max_train_examples", 64}, {"batch_size", 16},
                               {"max_seq_len", 32}, {"learning_rate", 1e-3},    {"threads", 1}};
  std::ofstream(dir / "space.json") << space.dump();
  Cluster cluster(dir);

  Process cli = start_distill(cluster.client_endpoint(), teacher, dir, dir / "glue.jsonl",
                              " --budget 2 --glue-task " + task.string());
  ClientOptions options;
  options.endpoint = cluster.client_endpoint();
  options.request_timeout_ms = 500;
  Client client(options);
  // Restart the daemon (SIGKILL) once the first Finetune trial exists.
  bool restarted = false;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!restarted && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    auto studies = client.list(1);
    if (!studies || studies->empty()) continue;
    auto details = client.get(studies->front().study_id, true);
    if (!details) continue;
    for (const TrialInfo& t : details->trials) {
      if (t.kind == TrialKind::kFinetune && !restarted) {
        cluster.stop_daemon(SIGKILL);
        cluster.start_daemon();
        restarted = true;
      }
    }
  }
  CHECK(restarted);
  REQUIRE(cli.wait(150s) == 0);

  const nlohmann::json outcome = last_line(dir / "glue.jsonl");
  INFO(slurp(dir / "glue.jsonl") << slurp(dir / "cli.err") << slurp(dir / "daemon.log"));
  REQUIRE(outcome.is_object());
  CHECK(outcome["study"]["state"] == "succeeded");
  CHECK(outcome["study"]["message"].get<std::string>().find("fine-tuning: ") != std::string::npos);
  auto details = client.get(outcome["study"]["study_id"].get<uint64_t>(), true);
  REQUIRE(details);
  // One Finetune trial per model: the teacher, the baseline (candidate 0)
  // and every delivered student; all completed, none twice after the restart.
  std::map<uint32_t, int> finetuned;
  std::set<uint32_t> delivered;
  for (const TrialInfo& t : details->trials) {
    if (t.kind == TrialKind::kRegular && t.state == TrialState::kCompleted) {
      delivered.insert(t.candidate);
    }
    if (t.kind != TrialKind::kFinetune) continue;
    INFO("trial " << t.trial_id << ": " << t.error.to_string());
    CHECK(t.state == TrialState::kCompleted);
    REQUIRE(t.params.size() == 1);
    CHECK(t.params[0].name == "glue_task");
    CHECK(t.params[0].category == "kjv-testament");
    ++finetuned[t.candidate];
    double accuracy = -1;
    for (const Metric& m : t.objectives) accuracy = m.name == "accuracy" ? m.value : accuracy;
    CHECK(accuracy >= 0);
    CHECK(accuracy <= 1);
  }
  CHECK(finetuned[0xFFFFFFFFu] == 1);  // the teacher
  CHECK(delivered.count(0) == 1);      // the baseline, distilled for the table
  for (uint32_t c : delivered) CHECK(finetuned[c] == 1);
  CHECK(finetuned.size() == delivered.size() + 1);

  // The report's GLUE table: teacher, baseline, students, majority class.
  const std::string report = slurp(outcome["report"].get<std::string>());
  INFO(report);
  CHECK(report.find("## Downstream (GLUE-format tasks)") != std::string::npos);
  CHECK(report.find("| model | parameters | kjv-testament acc / F1 |") != std::string::npos);
  CHECK(report.find("| teacher | ") != std::string::npos);
  CHECK(report.find("| baseline (") != std::string::npos);
  CHECK(report.find("| majority class |  | 0.500 / 0.000 |") != std::string::npos);
  for (uint32_t c : delivered) {
    if (c != 0) CHECK(report.find("| student-" + std::to_string(c) + " (") != std::string::npos);
  }
  fs::remove_all(dir);
}
