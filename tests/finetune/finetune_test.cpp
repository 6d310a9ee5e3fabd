// Fine-tuning on real text: a tiny BERT teacher pre-trained on the King
// James Bible (the finetune_real_text fixture) fine-tuned on tasks built by
// autodistill-make-tasks from bible-kjv and dict-gcide must beat the
// majority class by a clear margin; runs are reproducible; a delivered
// student goes through the same seam; bad models, options and settings are
// refused with the field at fault; the autodistill-finetune CLI prints the
// GLUE-style table.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

// LibTorch's headers (glog's CHECK) before Catch's, so CHECK is Catch's.
#include <ATen/Parallel.h>

#include "autodistill/finetune/finetune_evaluator.hpp"
#include "autodistill/finetune/finetuner.hpp"
#include "autodistill/model/bert_config.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/study_settings.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

using namespace autodistill;
using namespace autodistill::finetune;
namespace fs = std::filesystem;

const fs::path kFixture = AUTODISTILL_FINETUNE_FIXTURE_DIR;

fs::path fixture(const std::string& name) {
  const fs::path path = kFixture / name;
  INFO("the finetune_real_text fixture (ctest -R finetune_real_text) builds " << kFixture);
  REQUIRE(fs::exists(path));
  return path;
}

GlueTask load_task(const std::string& name) {
  auto task = read_glue_task(fixture("tasks") / name);
  REQUIRE(task);
  return std::move(task.value());
}

Encoder load_teacher() {
  auto encoder = Encoder::load(fixture("teacher"));
  REQUIRE(encoder);
  return std::move(encoder.value());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ad-finetune-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs a program to completion with stdout and stderr in files; returns its exit status.
int run(std::vector<std::string> args, const fs::path& out, const fs::path& err) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("Fine-tuning the KJV teacher beats the majority class on which testament a verse is from",
          "[finetune]") {
  at::set_num_threads(1);
  const GlueTask task = load_task("kjv-testament");
  Encoder teacher = load_teacher();
  FinetuneOptions options;
  options.epochs = 2;
  options.max_seq_len = 64;
  options.learning_rate = 1e-3;
  auto report = fine_tune(teacher, task, options);
  REQUIRE(report);
  INFO("dev accuracy " << report->dev.accuracy << ", F1 " << report->dev.f1 << ", majority "
                       << report->majority.accuracy << ", loss " << report->first_loss << " -> "
                       << report->last_loss << ", " << report->train_seconds << " s");
  CHECK(report->majority.accuracy == Approx(0.5));  // a balanced task
  CHECK(report->dev.examples == 400);
  CHECK(report->steps == 2 * 50);  // 1,600 examples in batches of 32
  CHECK(report->unk_rate < 0.01);  // the vocabulary was learned from the KJV
  CHECK(report->last_loss < report->first_loss);
  CHECK(report->dev.accuracy >= report->majority.accuracy + 0.2);
  CHECK(report->dev.f1 >= 0.6);
}

TEST_CASE("With BERT's [CLS] recipe, pre-training on the KJV pays off on part of speech",
          "[finetune]") {
  at::set_num_threads(1);
  const GlueTask task = load_task("gcide-pos");
  // The same model untrained: the teacher's config, fresh weights, its vocabulary.
  TempDir untrained_dir;
  auto config = model::read_bert_config(fixture("teacher") / "config.json");
  REQUIRE(config);
  auto fresh = model::Teacher::create(*config, 0);
  REQUIRE(fresh);
  REQUIRE(fresh->save(untrained_dir.path()));
  fs::copy_file(fixture("teacher") / "vocab.txt", untrained_dir.path() / "vocab.txt");

  // BERT's recipe, the pooled [CLS] state: the teacher's pooler learned NSP in pre-training.
  // (With mean pooling the untrained model does better on this task: docs/glue.md.)
  FinetuneOptions options;
  options.epochs = 2;
  options.max_seq_len = 64;
  options.learning_rate = 1e-3;
  options.pooling = Pooling::kCls;
  Encoder teacher = load_teacher();
  auto pretrained = fine_tune(teacher, task, options);
  REQUIRE(pretrained);
  auto untrained_encoder = Encoder::load(untrained_dir.path());
  REQUIRE(untrained_encoder);
  auto untrained = fine_tune(*untrained_encoder, task, options);
  REQUIRE(untrained);
  INFO("dev accuracy " << pretrained->dev.accuracy << " pre-trained, " << untrained->dev.accuracy
                       << " untrained, " << pretrained->majority.accuracy << " majority");
  CHECK(pretrained->majority.accuracy == Approx(0.25));  // four balanced labels
  CHECK(pretrained->dev.accuracy >= 0.75);
  CHECK(pretrained->dev.macro_f1 >= 0.75);
  CHECK(pretrained->dev.accuracy >= untrained->dev.accuracy + 0.1);
}

TEST_CASE("Fine-tuning is reproducible for a seed and changes with it", "[finetune]") {
  at::set_num_threads(1);
  const GlueTask task = load_task("gcide-pos");
  FinetuneOptions options;
  options.epochs = 1;
  options.max_train_examples = 256;
  options.max_seq_len = 48;
  options.learning_rate = 1e-3;
  auto run_once = [&](uint64_t seed) {
    Encoder teacher = load_teacher();
    options.seed = seed;
    auto report = fine_tune(teacher, task, options);
    REQUIRE(report);
    return report.value();
  };
  const FinetuneReport a = run_once(3), b = run_once(3), c = run_once(4);
  CHECK(a.steps == 8);
  CHECK(a.dev.confusion == b.dev.confusion);
  CHECK(a.first_loss == b.first_loss);
  CHECK(a.last_loss == b.last_loss);
  CHECK(a.first_loss != c.first_loss);
  CHECK(a.majority.macro_f1 == Approx(2.0 * 0.25 / 1.25 / 4));  // 4 balanced labels
}

TEST_CASE("A delivered student fine-tunes through the same seam", "[finetune]") {
  at::set_num_threads(1);
  TempDir dir;
  auto vocab = model::Vocab::read(fixture("teacher") / "vocab.txt");
  REQUIRE(vocab);
  StudentArch arch;
  arch.num_blocks = 2;
  arch.hidden_size = 32;
  arch.bottleneck_size = 16;
  arch.num_heads = 2;
  arch.intermediate_size = 32;
  arch.num_stacked_ffn = 1;
  arch.vocab_size = vocab->size();
  arch.max_positions = 64;
  arch.type_vocab_size = 2;
  auto student = model::Student::create(arch, 5);
  REQUIRE(student);
  auto tokenizer = model::WordPieceTokenizer::create(std::move(*vocab));
  REQUIRE(tokenizer);
  REQUIRE(model::save_student(*student, dir.path(), *tokenizer, "{}"));
  auto encoder = Encoder::load(dir.path());
  REQUIRE(encoder);
  CHECK(encoder->model_type() == "mobilebert");
  CHECK(encoder->hidden_size() == 32);
  CHECK(encoder->parameter_count() == student->parameter_count());
  const GlueTask task = load_task("kjv-testament");
  FinetuneOptions options;
  options.epochs = 1;
  options.max_train_examples = 128;
  options.max_seq_len = 32;
  auto report = fine_tune(*encoder, task, options);
  REQUIRE(report);
  CHECK(report->steps == 4);
  CHECK(report->dev.examples == 400);
  CHECK(std::isfinite(report->last_loss));
  CHECK(report->dev.accuracy >= 0.0);
  CHECK(report->dev.accuracy <= 1.0);
}

TEST_CASE("Bad models and options are refused with the field at fault", "[finetune]") {
  TempDir dir;
  SECTION("no config.json") {
    auto encoder = Encoder::load(dir.path());
    CHECK(encoder.status().code() == Code::kNotFound);
    CHECK(encoder.status().field() == "config.json");
  }
  SECTION("an unknown model_type") {
    std::ofstream(dir.path() / "config.json") << R"({"model_type": "gpt2"})";
    auto encoder = Encoder::load(dir.path());
    CHECK(encoder.status().code() == Code::kInvalidArgument);
    CHECK(encoder.status().field() == "config.json.model_type");
  }
  SECTION("max_seq_len beyond the model's positions") {
    Encoder teacher = load_teacher();
    FinetuneOptions options;
    options.max_seq_len = 65;
    auto report = fine_tune(teacher, load_task("kjv-testament"), options);
    CHECK(report.status().code() == Code::kInvalidArgument);
    CHECK(report.status().field() == "max_seq_len");
  }
  SECTION("options out of range") {
    FinetuneOptions options;
    options.dropout = 1.0;
    CHECK(validate(options).field() == "dropout");
    options = {};
    options.learning_rate = 0;
    CHECK(validate(options).field() == "learning_rate");
  }
}

TEST_CASE("Finetune trial settings: the three model forms, defaults and errors", "[finetune]") {
  const std::string d(64, 'a'), e(64, 'b');
  auto teacher = parse_finetune_settings(R"({"distill": {"seq_len": 32},
      "finetune": {"model": "teacher", "task": ")" +
                                         d + R"(", "epochs": 2, "seed": 7}})");
  REQUIRE(teacher);
  CHECK(teacher->source == FinetuneSettings::Source::kTeacher);
  CHECK(teacher->task_digest == d);
  CHECK(teacher->options.epochs == 2);
  CHECK(teacher->options.seed == 7);
  CHECK(teacher->options.batch_size == 32);  // a default
  CHECK(teacher->options.pooling == Pooling::kMean);
  auto bundle = parse_finetune_settings(R"({"finetune": {"model": ")" + e + R"(", "task": ")" + d +
                                        R"(", "pooling": "cls"}})");
  REQUIRE(bundle);
  CHECK(bundle->options.pooling == Pooling::kCls);
  CHECK(bundle->source == FinetuneSettings::Source::kBundle);
  CHECK(bundle->bundle_digest == e);
  auto files =
      parse_finetune_settings(R"({"finetune": {"model": {"config.json": ")" + e +
                              R"(", "vocab.txt": ")" + d + R"("}, "task": ")" + d + R"("}})");
  REQUIRE(files);
  CHECK(files->source == FinetuneSettings::Source::kFiles);
  CHECK(files->files.at("config.json") == e);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"distill": {}})", "settings.finetune"},
      {R"({"finetune": {"task": ")" + d + R"("}})", "settings.finetune.model"},
      {R"({"finetune": {"model": "teacher"}})", "settings.finetune.task"},
      {R"({"finetune": {"model": "teacher", "task": "abc"}})", "settings.finetune.task"},
      {R"({"finetune": {"model": "student", "task": ")" + d + R"("}})", "settings.finetune.model"},
      {R"({"finetune": {"model": {"../x": ")" + d + R"("}, "task": ")" + d + R"("}})",
       "settings.finetune.model"},
      {R"({"finetune": {"model": {"vocab.txt": 3}, "task": ")" + d + R"("}})",
       "settings.finetune.model.vocab.txt"},
      {R"({"finetune": {"model": "teacher", "task": ")" + d + R"(", "epoch": 2}})",
       "settings.finetune.epoch"},
      {R"({"finetune": {"model": "teacher", "task": ")" + d + R"(", "epochs": 0}})",
       "settings.finetune.epochs"},
      {R"({"finetune": {"model": "teacher", "task": ")" + d + R"(", "dropout": 1.5}})",
       "settings.finetune.dropout"},
      {R"({"finetune": {"model": "teacher", "task": ")" + d + R"(", "seed": -1}})",
       "settings.finetune.seed"},
      {R"({"finetune": {"model": "teacher", "task": ")" + d + R"(", "pooling": "max"}})",
       "settings.finetune.pooling"},
  };
  for (const auto& [json, field] : bad) {
    INFO(json);
    auto parsed = parse_finetune_settings(json);
    CHECK(parsed.status().code() == Code::kInvalidArgument);
    CHECK(parsed.status().field() == field);
  }
  CHECK(parse_finetune_settings("[]").status().code() == Code::kMalformed);
}

TEST_CASE("Finetune trial settings: refused as at submit with the daemon error",
          "[finetune][settings]") {
  // The one settings codec (study_settings.hpp): the daemon bounds the
  // Finetune options (epochs <= 1000, learning_rate <= 1e3, ...) and checks
  // every section; the worker used to take any positive value and ignore
  // the other sections, and word its errors its own way.
  const std::string d(64, 'a');
  const std::string head = R"({"finetune": {"model": "teacher", "task": ")" + d + R"(", )";
  const std::vector<std::string> refused = {
      head + R"("epochs": 1001}})",
      head + R"("batch_size": 65537}})",
      head + R"("max_seq_len": 65537}})",
      head + R"("learning_rate": 2000}})",
      head + R"("clip_norm": 1e10}})",
      head + R"("max_train_examples": 2199023255553}})",
      head + R"("threads": 1025}})",
      head + R"("warmup_fraction": -0.5}})",
      head + R"("epoch": 2}})",
      R"({"distill": {"alpha": 2}, )" + head.substr(1) + R"("epochs": 2}})",
  };
  for (const std::string& settings : refused) {
    INFO(settings);
    auto daemon = parse_study_settings_text(settings, "settings");
    REQUIRE_FALSE(daemon);
    auto worker = parse_finetune_settings(settings);
    REQUIRE_FALSE(worker);
    CHECK(worker.status().code() == Code::kInvalidArgument);
    CHECK(worker.status().field() == daemon.status().field());
    CHECK(worker.status().message() == daemon.status().message());
  }
  // The bounds themselves are allowed.
  auto top = parse_finetune_settings(head + R"("epochs": 1000, "threads": 1024}})");
  REQUIRE(top);
  CHECK(top->options.epochs == 1000);
  CHECK(top->knobs.threads == 1024);
}

TEST_CASE("autodistill-finetune prints the GLUE-style table and writes JSON", "[finetune][cli]") {
  TempDir dir;
  const fs::path out = dir.path() / "out.txt", err = dir.path() / "err.txt";
  const fs::path json = dir.path() / "results.json";
  const int rc =
      run({AUTODISTILL_FINETUNE_BIN, "--model", "teacher=" + fixture("teacher").string(), "--task",
           (fixture("tasks") / "gcide-pos").string(), "--epochs", "1", "--max-train-examples",
           "128", "--max-seq-len", "32", "--json", json.string()},
          out, err);
  INFO(read_file(err));
  REQUIRE(rc == 0);
  const std::string table = read_file(out);
  CHECK_THAT(table, Catch::Contains("| model | parameters | gcide-pos acc / macro-F1 |"));
  CHECK_THAT(table, Catch::Contains("| majority class | | 0.250 / 0.100 |"));
  CHECK_THAT(table, Catch::Contains("| teacher | "));
  const auto results = nlohmann::json::parse(read_file(json));
  REQUIRE(results.size() == 1);
  CHECK(results[0]["task"] == "gcide-pos");
  CHECK(results[0]["model_type"] == "bert");
  CHECK(results[0]["steps"] == 4);
  CHECK(results[0]["dev"]["examples"] == 400);
  CHECK(results[0]["labels"].size() == 4);

  CHECK(run({AUTODISTILL_FINETUNE_BIN, "--task", "x"}, out, err) == 2);
  CHECK_THAT(read_file(err), Catch::Contains("--model is required"));
  CHECK(run({AUTODISTILL_FINETUNE_BIN, "--model", "m", "--task", "t", "--dropout", "2"}, out,
            err) == 2);
  CHECK(run({AUTODISTILL_FINETUNE_BIN, "--model", dir.path().string(), "--task",
             (fixture("tasks") / "gcide-pos").string()},
            out, err) == 1);
  CHECK_THAT(read_file(err), Catch::Contains("config.json"));
}
