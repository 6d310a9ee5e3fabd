// `autodistill distill` and `autodistill report` as child processes against
// a fake daemon: the teacher directory is packed and uploaded once, the
// study carries the flags and the default baseline under a derived key that
// a retry reuses, and --wait delivers the Regular trials' artifacts and the
// report.

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autodistill/client.hpp"
#include "autodistill/wire/bundle.hpp"
#include "autodistill/wire/digest.hpp"
#include "fake_daemon.hpp"

using namespace autodistill;
using testing::FakeBlobStore;
using testing::FakeDaemon;
using testing::reply_to;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// `env`: VAR=value assignments for the CLI's environment.
Run run_cli(const std::string& args, const fs::path& dir, const std::string& env = "") {
  static int n = 0;
  const fs::path out = dir / ("cli-" + std::to_string(++n) + ".out");
  const fs::path err = dir / ("cli-" + std::to_string(n) + ".err");
  const std::string command = env + " " + std::string(AUTODISTILL_CLI_PATH) + " " + args + " >" +
                              out.string() + " 2>" + err.string() + " </dev/null";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

std::unique_ptr<wire::ParamValueT> param(const std::string& name, double number) {
  auto p = std::make_unique<wire::ParamValueT>();
  p->name = name;
  p->number = number;
  return p;
}

std::unique_ptr<wire::MetricT> metric(const std::string& name, double value) {
  auto m = std::make_unique<wire::MetricT>();
  m->name = name;
  m->value = value;
  return m;
}

// A daemon that accepts any Distill study as study 5 and reports it
// succeeded: candidate 0 is the submitted baseline (2 ms, 0.30), candidate
// 1 dominates it and was regularly distilled, its artifact being the blob
// `artifact_digest`.
class DistillDaemon {
 public:
  DistillDaemon() : fake_([this](const wire::EnvelopeT& r) { return handle(r); }) {}

  const std::string& endpoint() const { return fake_.endpoint(); }
  size_t count(wire::Message type) const { return fake_.count(type); }

  std::vector<wire::EnvelopeT> submits() const {
    std::vector<wire::EnvelopeT> out;
    for (auto& r : fake_.requests()) {
      if (r.body.AsSubmit()) out.push_back(std::move(r));
    }
    return out;
  }

  void set_artifact(const std::string& digest) {
    std::lock_guard lock(mutex_);
    artifact_ = digest;
  }

 private:
  std::vector<std::string> handle(const wire::EnvelopeT& request) {
    std::lock_guard lock(mutex_);
    if (auto blob = blobs_.handle(request)) return {*blob};
    if (const wire::SubmitT* submit = request.body.AsSubmit()) {
      baseline_.clear();
      for (const auto& p : submit->spec->baseline) baseline_.emplace_back(p->name, p->number);
      wire::StudyReplyT reply;
      reply.study = study(wire::StudyState::Exploring);
      reply.created = submitted_++ == 0;
      return {reply_to(request, std::move(reply))};
    }
    if (request.body.AsWatch()) {
      wire::EventBatchT batch;
      auto event = std::make_unique<wire::EventT>();
      event->study_id = 5;
      event->seq = 1;
      event->kind = "study_state";
      event->message = "succeeded";
      batch.events.push_back(std::move(event));
      batch.end = true;
      return {reply_to(request, std::move(batch))};
    }
    if (request.body.AsGetStudy()) {
      wire::StudyReplyT reply;
      reply.study = study(wire::StudyState::Succeeded);
      auto add = [&](uint32_t candidate, wire::TrialKind kind, bool is_baseline, const char* name,
                     double value) {
        auto t = std::make_unique<wire::TrialInfoT>();
        t->trial_id = reply.trials.size() + 1;
        t->study_id = 5;
        t->candidate = candidate;
        t->kind = kind;
        t->state = wire::TrialState::Completed;
        for (const auto& [n, v] : baseline_) {
          t->params.push_back(param(n, is_baseline || n != "num_stacked_ffn" ? v : 1));
        }
        t->objectives.push_back(metric(name, value));
        if (kind == wire::TrialKind::Regular) {
          auto a = std::make_unique<wire::ArtifactT>();
          a->name = "model.safetensors";
          a->digest = artifact_;
          a->size = 9;
          t->artifacts.push_back(std::move(a));
        }
        reply.trials.push_back(std::move(t));
      };
      add(0, wire::TrialKind::Probe, true, "latency_ms", 2.0);
      add(0, wire::TrialKind::Flash, true, "accuracy", 0.30);
      add(1, wire::TrialKind::Probe, false, "latency_ms", 1.0);
      add(1, wire::TrialKind::Flash, false, "accuracy", 0.33);
      add(1, wire::TrialKind::Regular, false, "accuracy", 0.37);
      return {reply_to(request, std::move(reply))};
    }
    return {};
  }

  std::unique_ptr<wire::StudyInfoT> study(wire::StudyState state) {
    auto s = std::make_unique<wire::StudyInfoT>();
    s->study_id = 5;
    s->state = state;
    s->spec = std::make_unique<wire::StudySpecT>();
    s->spec->kind = wire::StudyKind::Distill;
    s->spec->max_trials = 4;
    for (const auto& [n, v] : baseline_) s->spec->baseline.push_back(param(n, v));
    return s;
  }

  mutable std::mutex mutex_;
  FakeBlobStore blobs_;
  std::vector<std::pair<std::string, double>> baseline_;
  std::string artifact_;
  int submitted_ = 0;
  FakeDaemon fake_;  // last: its thread stops before the members above go
};

// A teacher directory, a corpus, a space file and a student artifact.
struct Inputs {
  fs::path dir;
  Inputs() {
    dir = fs::temp_directory_path() / ("autodistill-distill-cli-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "teacher");
    std::ofstream(dir / "teacher/config.json")
        << R"({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
               "vocab_size": 31, "max_position_embeddings": 48})";
    std::ofstream(dir / "teacher/vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n";
    std::ofstream(dir / "teacher/model.safetensors") << "not really tensors";
    std::ofstream(dir / "teacher/notes.txt") << "training log, not part of the checkpoint";
    std::ofstream(dir / "corpus.txt") << "the cat sat .\nthe dog ran .\n\nthe end .\n";
    std::ofstream(dir / "space.json") << R"({
      "factors": [
        {"name": "num_blocks", "kind": "ordinal", "values": [1, 2]},
        {"name": "hidden_size", "kind": "ordinal", "values": [32, 64]},
        {"name": "bottleneck_size", "kind": "ordinal", "values": [8, 16]},
        {"name": "num_heads", "kind": "ordinal", "values": [2, 4]},
        {"name": "intermediate_size", "kind": "ordinal", "values": [32, 64]},
        {"name": "num_stacked_ffn", "kind": "integer", "low": 1, "high": 4}],
      "settings": {"distill": {"flash_steps": 5}}})";
    std::ofstream(dir / "student.bin") << "weights!!";
    std::ofstream(dir / "baseline.json") << R"({"num_blocks": 1, "hidden_size": 32})";
  }
  ~Inputs() { fs::remove_all(dir); }
  std::string args() const {
    return " --teacher " + (dir / "teacher").string() + " --corpus " +
           (dir / "corpus.txt").string() + " --space " + (dir / "space.json").string();
  }
};

}  // namespace

TEST_CASE("distill packs, uploads once, submits under a derived key and delivers the students") {
  Inputs in;
  DistillDaemon daemon;
  ClientOptions options;
  options.endpoint = daemon.endpoint();
  Client client(options);
  auto artifact = client.upload((in.dir / "student.bin").string());
  REQUIRE(artifact);
  daemon.set_artifact(*artifact);
  const size_t puts_before = daemon.count(wire::Message::BlobPut);
  const fs::path out = in.dir / "out";
  const std::string cmd = "--endpoint " + daemon.endpoint() + " distill" + in.args() +
                          " --budget 4 --select pareto:1 --max-wall 600 --warm-start 3"
                          " --objectives accuracy:max,latency_ms:min --out " +
                          out.string() + " --wait";

  // The ONNX exporter the CLI runs on each delivered student: a stand-in
  // here (the real one is tested in tests/model and tests/pipeline).
  const fs::path exporter = in.dir / "fake-exporter";
  std::ofstream(exporter)
      << "#!/bin/sh\nmkdir -p \"$1/onnx\" && echo onnx > \"$1/onnx/model.onnx\"\n";
  fs::permissions(exporter, fs::perms::owner_all);
  const std::string env = "AUTODISTILL_EXPORT_ONNX=" + exporter.string();
  Run first = run_cli(cmd, in.dir, env);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(slurp(out / "5/student-1/model.safetensors") == "weights!!");
  CHECK(slurp(out / "5/student-1/onnx/model.onnx") == "onnx\n");
  CHECK(first.out.find("onnx:    " + (out / "5/student-1/onnx/model.onnx").string()) !=
        std::string::npos);
  CHECK(fs::exists(out / "5/report.md"));
  CHECK(slurp(out / "5/pareto.svg").find("</svg>") != std::string::npos);
  CHECK(first.out.find("student: " + (out / "5/student-1").string()) != std::string::npos);
  CHECK(first.out.find("✓") != std::string::npos);
  CHECK(first.out.find("1 of 1 candidates dominate the baseline") != std::string::npos);

  auto submits = daemon.submits();
  REQUIRE(submits.size() == 1);
  const wire::SubmitT& submit = *submits[0].body.AsSubmit();
  const std::string key = submit.idempotency_key;
  CHECK(key.rfind("distill-", 0) == 0);
  const wire::StudySpecT& spec = *submit.spec;
  CHECK(spec.kind == wire::StudyKind::Distill);
  CHECK(spec.max_trials == 4);
  CHECK(spec.max_wall_seconds == 600);
  CHECK(spec.warm_start_study == 3);
  REQUIRE(spec.selection);
  CHECK(spec.selection->rule == wire::SelectionRule::Pareto);
  CHECK(spec.selection->k == 1);
  REQUIRE(spec.objectives.size() == 2);
  // The default baseline for a 2-layer, 64-wide teacher, snapped to the space.
  std::map<std::string, double> baseline;
  for (const auto& p : spec.baseline) baseline[p->name] = p->number;
  CHECK(baseline == std::map<std::string, double>{{"bottleneck_size", 8},
                                                  {"hidden_size", 32},
                                                  {"intermediate_size", 32},
                                                  {"num_blocks", 2},
                                                  {"num_heads", 4},
                                                  {"num_stacked_ffn", 4}});
  // The teacher went up as the deterministic bundle of its checkpoint files
  // (notes.txt, not one of them, stayed out).
  REQUIRE(wire::pack_directory(in.dir / "teacher", in.dir / "expected.tar"));
  CHECK(spec.teacher_digest != *wire::sha256_file((in.dir / "expected.tar").string()));
  fs::remove(in.dir / "teacher/notes.txt");
  REQUIRE(wire::pack_directory(in.dir / "teacher", in.dir / "expected.tar"));
  CHECK(spec.teacher_digest == *wire::sha256_file((in.dir / "expected.tar").string()));
  CHECK(spec.corpus_digest == *wire::sha256_file((in.dir / "corpus.txt").string()));
  // The teacher's sizes joined the settings; the space's own keys stayed.
  const auto settings = nlohmann::json::parse(spec.settings_json);
  CHECK(settings["student"]["vocab_size"] == 31);
  CHECK(settings["student"]["max_positions"] == 48);
  CHECK_FALSE(settings["student"].contains("type_vocab_size"));
  CHECK(settings["distill"]["flash_steps"] == 5);
  const size_t puts_after_first = daemon.count(wire::Message::BlobPut);
  CHECK(puts_after_first > puts_before);

  // A retry: nothing uploaded again, the same key, the students still there.
  Run retry = run_cli(cmd, in.dir, env);
  CHECK(retry.exit_code == 0);
  CHECK(daemon.count(wire::Message::BlobPut) == puts_after_first);
  auto retried = daemon.submits();
  REQUIRE(retried.size() == 2);
  CHECK(retried[1].body.AsSubmit()->idempotency_key == key);
  CHECK(retry.out.find("resumed") != std::string::npos);
  CHECK(slurp(out / "5/student-1/model.safetensors") == "weights!!");

  // --json: the submit line, the events, then the outcome with the students.
  Run json = run_cli("--json " + cmd, in.dir, env);
  CHECK(json.exit_code == 0);
  std::istringstream lines(json.out);
  std::string line, last;
  int n = 0;
  while (std::getline(lines, line)) {
    CHECK(nlohmann::json::accept(line));
    last = line;
    ++n;
  }
  CHECK(n == 3);
  auto outcome = nlohmann::json::parse(last);
  CHECK(outcome["students"][0]["candidate"] == 1);
  CHECK(outcome["students"][0]["dir"] == (out / "5/student-1").string());
  CHECK(outcome["students"][0]["onnx"] == (out / "5/student-1/onnx/model.onnx").string());
  CHECK(outcome["candidates"][1]["dominates_baseline"] == true);

  // An export that fails is reported and fails the command (exit 1); the
  // students are still delivered. --no-onnx skips the export.
  fs::remove_all(out / "5/student-1/onnx");
  Run failing = run_cli("--json " + cmd, in.dir, "AUTODISTILL_EXPORT_ONNX=/bin/false");
  CHECK(failing.exit_code == 1);
  CHECK(failing.err.find("no ONNX export of student-1") != std::string::npos);
  std::string failing_last;
  std::istringstream failing_lines(failing.out);
  while (std::getline(failing_lines, line)) failing_last = line;
  auto failed = nlohmann::json::parse(failing_last);
  CHECK(failed["students"][0]["onnx"].is_null());
  CHECK(failed["students"][0]["onnx_error"].get<std::string>().find("/bin/false") !=
        std::string::npos);
  Run skipped = run_cli(cmd + " --no-onnx", in.dir, "AUTODISTILL_EXPORT_ONNX=/bin/false");
  CHECK(skipped.exit_code == 0);
  CHECK_FALSE(fs::exists(out / "5/student-1/onnx"));
}

TEST_CASE("distill: the baseline flag and the key follow the request") {
  Inputs in;
  DistillDaemon daemon;
  const std::string base = "--endpoint " + daemon.endpoint() + " distill" + in.args();
  REQUIRE(run_cli(base, in.dir).exit_code == 0);
  REQUIRE(run_cli(base + " --baseline none", in.dir).exit_code == 0);
  REQUIRE(run_cli(base + " --baseline " + (in.dir / "baseline.json").string(), in.dir).exit_code ==
          0);
  REQUIRE(run_cli(base + " --baseline none --key release-9", in.dir).exit_code == 0);
  auto submits = daemon.submits();
  REQUIRE(submits.size() == 4);
  const auto& by_default = *submits[0].body.AsSubmit();
  const auto& none = *submits[1].body.AsSubmit();
  const auto& given = *submits[2].body.AsSubmit();
  CHECK(by_default.spec->baseline.size() == 6);
  CHECK(none.spec->baseline.empty());
  REQUIRE(given.spec->baseline.size() == 2);
  CHECK(given.spec->baseline[0]->name == "hidden_size");
  CHECK(given.spec->baseline[0]->number == 32);
  CHECK(by_default.idempotency_key != none.idempotency_key);
  CHECK(none.idempotency_key != given.idempotency_key);
  CHECK(submits[3].body.AsSubmit()->idempotency_key == "release-9");
  // Without --wait nothing is delivered.
  CHECK_FALSE(fs::exists("autodistill-out/5"));
}

TEST_CASE("distill: --region baseline makes the baseline's values the references") {
  Inputs in;
  DistillDaemon daemon;
  const std::string base = "--endpoint " + daemon.endpoint() + " distill" + in.args();
  REQUIRE(run_cli(base + " --region baseline", in.dir).exit_code == 0);
  REQUIRE(run_cli(base + " --region front", in.dir).exit_code == 0);
  auto submits = daemon.submits();
  REQUIRE(submits.size() == 2);
  const auto& beyond = *submits[0].body.AsSubmit()->spec;
  const auto& front = *submits[1].body.AsSubmit()->spec;
  REQUIRE(beyond.objectives.size() == 2);
  for (const auto& o : beyond.objectives) {
    CHECK(o->reference_baseline);
    CHECK_FALSE(o->reference.has_value());
  }
  for (const auto& o : front.objectives) CHECK_FALSE(o->reference_baseline);
  CHECK(submits[0].body.AsSubmit()->idempotency_key != submits[1].body.AsSubmit()->idempotency_key);
  // Without a baseline there is nothing to be beyond; a bad value is a usage error.
  Run none = run_cli(base + " --region baseline --baseline none", in.dir);
  CHECK(none.exit_code != 0);
  CHECK(none.err.find("baseline") != std::string::npos);
  CHECK(run_cli(base + " --region best", in.dir).exit_code == 2);
  CHECK(daemon.submits().size() == 2);
}

TEST_CASE("distill: usage errors exit 2, missing inputs 4, bad files 3") {
  Inputs in;
  DistillDaemon daemon;
  const std::string base = "--endpoint " + daemon.endpoint() + " distill";
  CHECK(run_cli(base + " --teacher x --corpus y", in.dir).exit_code == 2);  // no --space
  for (const char* flag : {" --select best", " --objectives accuracy", " --budget -1",
                           " --max-wall 4294967296", " --warm-start abc"}) {
    INFO(flag);
    Run run = run_cli(base + in.args() + flag, in.dir);
    CHECK(run.exit_code == 2);
    CHECK(run.err.rfind("autodistill: ", 0) == 0);
  }
  Run no_teacher =
      run_cli(base + " --teacher " + (in.dir / "nope").string() + " --corpus " +
                  (in.dir / "corpus.txt").string() + " --space " + (in.dir / "space.json").string(),
              in.dir);
  CHECK(no_teacher.exit_code == 4);
  CHECK(no_teacher.err.find("(field: teacher)") != std::string::npos);
  Run no_space =
      run_cli(base + " --teacher " + (in.dir / "teacher").string() + " --corpus " +
                  (in.dir / "corpus.txt").string() + " --space " + (in.dir / "nope.json").string(),
              in.dir);
  CHECK(no_space.exit_code == 4);
  std::ofstream(in.dir / "bad.json") << R"({"num_blocks": [2]})";
  Run bad_baseline =
      run_cli(base + in.args() + " --baseline " + (in.dir / "bad.json").string(), in.dir);
  CHECK(bad_baseline.exit_code == 3);
  fs::remove(in.dir / "teacher/config.json");
  Run no_config = run_cli(base + in.args(), in.dir);
  CHECK(no_config.exit_code == 3);
  CHECK(no_config.err.find("config.json") != std::string::npos);
  CHECK(daemon.submits().empty());
}

TEST_CASE("distill: hostile space and baseline and teacher files exit 3 naming the file") {
  Inputs in;
  DistillDaemon daemon;
  const std::string base = "--endpoint " + daemon.endpoint() + " distill";
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::ofstream(in.dir / "overflow.json") << R"({"factors": [{"name": "num_blocks",
      "kind": "ordinal", "values": [1e999]}]})";
  std::ofstream(in.dir / "deep.json") << "{\"settings\": " + deep + "}";
  for (const char* file : {"overflow.json", "deep.json"}) {
    INFO(file);
    Run run = run_cli(base + " --teacher " + (in.dir / "teacher").string() + " --corpus " +
                          (in.dir / "corpus.txt").string() + " --space " + (in.dir / file).string(),
                      in.dir);
    CHECK(run.exit_code == 3);
    CHECK(run.err.find(file) != std::string::npos);
    const bool why = run.err.find("not valid JSON: number overflow") != std::string::npos ||
                     run.err.find("deeper than 64") != std::string::npos;
    CHECK(why);
  }
  std::ofstream(in.dir / "deep-baseline.json") << deep;
  Run baseline =
      run_cli(base + in.args() + " --baseline " + (in.dir / "deep-baseline.json").string(), in.dir);
  CHECK(baseline.exit_code == 3);
  CHECK(baseline.err.find("deeper than 64") != std::string::npos);
  std::ofstream(in.dir / "teacher/config.json", std::ios::trunc)
      << "{\"hidden_size\": " + deep + "}";
  Run teacher = run_cli(base + in.args(), in.dir);
  CHECK(teacher.exit_code == 3);
  CHECK(teacher.err.find("config.json") != std::string::npos);
  CHECK(teacher.err.find("deeper than 64") != std::string::npos);
  std::ofstream(in.dir / "teacher/config.json", std::ios::trunc) << R"({"hidden_size": 1e999})";
  Run overflow = run_cli(base + in.args(), in.dir);
  CHECK(overflow.exit_code == 3);
  CHECK(overflow.err.find("number overflow") != std::string::npos);
  CHECK(daemon.submits().empty());
}

TEST_CASE("report prints the table and writes report.md and pareto.svg") {
  Inputs in;
  DistillDaemon daemon;
  // A submit first, so the fake knows the baseline.
  REQUIRE(run_cli("--endpoint " + daemon.endpoint() + " distill" + in.args(), in.dir).exit_code ==
          0);
  const fs::path out = in.dir / "report";
  Run run = run_cli(
      "--endpoint " + daemon.endpoint() + " report 5 --no-students --out " + out.string(), in.dir);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("baseline") != std::string::npos);
  CHECK(run.out.find("✓") != std::string::npos);
  CHECK(slurp(out / "report.md").find("| 1* |") != std::string::npos);
  CHECK(fs::exists(out / "pareto.svg"));
  CHECK(run_cli("--endpoint " + daemon.endpoint() + " report x", in.dir).exit_code == 2);
}

TEST_CASE("report --out delivers the students report.md lists, like distill --wait") {
  // A later pipeline job (docs/release-pipeline.md) collects a study that an
  // earlier job submitted: `autodistill report ID --out DIR` must leave the
  // students next to the report that names them.
  Inputs in;
  DistillDaemon daemon;
  REQUIRE(run_cli("--endpoint " + daemon.endpoint() + " distill" + in.args(), in.dir).exit_code ==
          0);
  ClientOptions options;
  options.endpoint = daemon.endpoint();
  Client client(options);
  auto artifact = client.upload((in.dir / "student.bin").string());
  REQUIRE(artifact);
  daemon.set_artifact(*artifact);
  const fs::path exporter = in.dir / "fake-exporter";
  std::ofstream(exporter)
      << "#!/bin/sh\nmkdir -p \"$1/onnx\" && echo onnx > \"$1/onnx/model.onnx\"\n";
  fs::permissions(exporter, fs::perms::owner_all);
  const std::string env = "AUTODISTILL_EXPORT_ONNX=" + exporter.string();
  const fs::path out = in.dir / "students";
  Run run = run_cli("--endpoint " + daemon.endpoint() + " --json report 5 --out " + out.string(),
                    in.dir, env);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(slurp(out / "student-1/model.safetensors") == "weights!!");
  CHECK(slurp(out / "student-1/onnx/model.onnx") == "onnx\n");
  CHECK(slurp(out / "report.md").find("student-1/") != std::string::npos);
  auto json = nlohmann::json::parse(run.out);
  REQUIRE(json["students"].size() == 1);
  CHECK(json["students"][0]["candidate"] == 1);
  CHECK(json["students"][0]["dir"] == (out / "student-1").string());

  // --no-students writes the report alone.
  const fs::path only = in.dir / "only-report";
  Run bare = run_cli(
      "--endpoint " + daemon.endpoint() + " report 5 --no-students --out " + only.string(), in.dir);
  CHECK(bare.exit_code == 0);
  CHECK(fs::exists(only / "report.md"));
  CHECK_FALSE(fs::exists(only / "student-1"));
}
