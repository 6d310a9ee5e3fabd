// The distill worker's trial evaluator in process: settings, a Flash trial
// end to end (teacher bundle and corpus fetched by digest, objectives,
// artifacts, manifest, exact reload), and the failures it must classify.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "autodistill/distill/distill_evaluator.hpp"
#include "autodistill/distill/distiller.hpp"
#include "autodistill/distill/settings.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/study_settings.hpp"
#include "autodistill/wire/bundle.hpp"
#include "autodistill/wire/digest.hpp"
#include "tiny_teacher.hpp"

using autodistill::Code;
using namespace autodistill;
using namespace autodistill::distill;
namespace fs = std::filesystem;

namespace {

const char* kSettings =
    R"({"distill": {"flash_steps": 24, "regular_steps": 48, "batch_size": 8, "seq_len": 32,
                    "eval_batches": 2, "threads": 1, "learning_rate": 0.03},
        "serving": {"batch_size": 1}})";

fs::path work_dir() {
  static const fs::path dir = [] {
    fs::path d =
        fs::temp_directory_path() / ("autodistill_evaluator_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// Blobs by digest: the teacher bundle, the corpus, and a few bad ones.
struct Blobs {
  std::map<std::string, fs::path> paths;
  std::string teacher, corpus, not_a_bundle, bad_corpus;

  std::string add(const fs::path& path) {
    const std::string digest = *wire::sha256_file(path.string());
    paths[digest] = path;
    return digest;
  }
};

Blobs& blobs() {
  static Blobs* b = [] {
    auto* b = new Blobs;
    const fs::path teacher = testing::tiny_teacher_dir();
    const fs::path bundle = work_dir() / "teacher.tar";
    REQUIRE(wire::pack_directory(teacher, bundle));
    b->teacher = b->add(bundle);
    b->corpus = b->add(teacher / "corpus.txt");
    b->not_a_bundle = b->add(teacher / "config.json");
    std::ofstream(work_dir() / "bad_corpus.txt", std::ios::binary) << std::string("a\0b\n\nc\n", 7);
    b->bad_corpus = b->add(work_dir() / "bad_corpus.txt");
    return b;
  }();
  return *b;
}

worker::TrialSpec flash_spec(std::map<std::string, worker::ParamValue> params = {}) {
  worker::TrialSpec spec;
  spec.trial_id = 11;
  spec.attempt = 1;
  spec.study_id = 3;
  spec.kind = wire::TrialKind::Flash;
  spec.params = {{"num_blocks", 2.0},      {"hidden_size", 48.0},       {"bottleneck_size", 32.0},
                 {"num_heads", 4.0},       {"intermediate_size", 64.0}, {"num_stacked_ffn", 2.0},
                 {"unrelated_factor", 1.5}};
  for (auto& [k, v] : params) spec.params[k] = v;
  spec.objectives = {"accuracy"};
  spec.settings_json = kSettings;
  spec.teacher_digest = blobs().teacher;
  spec.corpus_digest = blobs().corpus;
  return spec;
}

Result<worker::TrialOutcome> run(DistillEvaluator& evaluator, worker::TrialSpec spec,
                                 const fs::path& scratch, bool cancel = false) {
  fs::create_directories(scratch);
  worker::TrialContext ctx(
      std::move(spec), scratch,
      [](const std::string& digest, const std::function<bool()>&) -> Result<fs::path> {
        auto it = blobs().paths.find(digest);
        if (it == blobs().paths.end()) return Status(Code::kNotFound, "no blob");
        return it->second;
      });
  if (cancel) ctx.cancel();
  return evaluator.evaluate(ctx);
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("distill settings: defaults, values, other workers' keys, errors by name") {
  auto defaults = parse_distill_settings("");
  REQUIRE(defaults);
  CHECK(defaults->knobs.flash_steps == 200);
  CHECK(defaults->knobs.regular_steps == 4000);
  CHECK(defaults->options.progressive_ratio == 0.48);
  CHECK(defaults->student.sizes.empty());
  CHECK(defaults->student.given_options.empty());
  CHECK_FALSE(defaults->probe);

  auto s = parse_distill_settings(kSettings);
  REQUIRE(s);
  CHECK(s->knobs.flash_steps == 24);
  CHECK(s->options.steps == 24);
  CHECK(s->options.batch_size == 8);
  CHECK(s->options.learning_rate == 0.03);
  CHECK(s->knobs.threads == 1);
  auto student = parse_distill_settings(R"({"student": {"vocab_size": 30522, "num_blocks": 4}})");
  REQUIRE(student);
  CHECK(student->student.sizes.at("num_blocks") == 4);

  auto field = [](const char* json) { return parse_distill_settings(json).status().field(); };
  CHECK(field(R"({"distill": {"batch_size": "8"}})") == "settings.distill.batch_size");
  CHECK(field(R"({"distill": {"seq_len": 4}})") == "settings.distill.seq_len");
  CHECK(field(R"({"distill": {"alpha": 1.5}})") == "settings.distill.alpha");
  CHECK(field(R"({"distill": {"seed": -1}})") == "settings.distill.seed");
  CHECK(field(R"({"distill": {"eval_fraction": 0}})") == "settings.distill.eval_fraction");
  CHECK(field(R"({"distill": {"flash_step": 10}})") == "settings.distill.flash_step");
  CHECK(field(R"({"distill": 3})") == "settings.distill");
  CHECK(field(R"({"student": {"hidden": 64}})") == "settings.student.hidden");
  CHECK(field(R"({"student": {"num_heads": 0}})") == "settings.student.num_heads");
  // Bounded JSON (issue #11): nesting and numbers beyond a double.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto nested = parse_distill_settings(R"({"distill": {"batch_size": )" + deep + "}}");
  CHECK(nested.status().field() == "settings");
  CHECK_THAT(nested.status().message(), Catch::Contains("deeper than 64"));
  CHECK(field(R"({"distill": {"batch_size": 1e999}})") == "settings");
  CHECK(parse_distill_settings("[1]").status().code() == Code::kMalformed);

  // Long trials: checkpoint cadence and gangs.
  CHECK(defaults->knobs.checkpoint_steps == 1000);
  CHECK(defaults->knobs.checkpoint_minutes == 10.0);
  CHECK_FALSE(defaults->knobs.checkpoint_flash);
  CHECK(defaults->knobs.gang_timeout_seconds == 300.0);
  CHECK(defaults->knobs.allreduce_bucket_mb == 4.0);
  auto long_trial = parse_distill_settings(
      R"({"distill": {"checkpoint_steps": 0, "checkpoint_minutes": 2.5, "checkpoint_flash": true,
                      "gang_timeout_seconds": 30, "allreduce_bucket_mb": 0.5}})");
  REQUIRE(long_trial);
  CHECK(long_trial->knobs.checkpoint_steps == 0);
  CHECK(long_trial->knobs.checkpoint_minutes == 2.5);
  CHECK(long_trial->knobs.checkpoint_flash);
  CHECK(long_trial->knobs.gang_timeout_seconds == 30.0);
  CHECK(long_trial->knobs.allreduce_bucket_mb == 0.5);
  CHECK(field(R"({"distill": {"checkpoint_steps": -1}})") == "settings.distill.checkpoint_steps");
  CHECK(field(R"({"distill": {"checkpoint_minutes": -1}})") ==
        "settings.distill.checkpoint_minutes");
  CHECK(field(R"({"distill": {"checkpoint_flash": 1}})") == "settings.distill.checkpoint_flash");
  CHECK(field(R"({"distill": {"gang_timeout_seconds": 0}})") ==
        "settings.distill.gang_timeout_seconds");
  CHECK(field(R"({"distill": {"allreduce_bucket_mb": 0}})") ==
        "settings.distill.allreduce_bucket_mb");
}

TEST_CASE("distill settings: refused as at submit with the daemon error", "[settings]") {
  // The one settings codec (study_settings.hpp): the worker used to take
  // student sizes of any size, leave the other sections unchecked and word
  // its errors its own way.
  const char* refused[] = {
      R"({"student": {"vocab_size": 4294967296}})",
      R"({"student": {"num_blocks": 2.0}})",
      R"({"distill": {"alpha": 1.5}})",
      R"({"distill": {"eval_fraction": 0}})",
      R"({"distill": {"learning_rate": -1}})",
      R"({"serving": {"batch_size": 4.0}})",
      R"({"probe": {"trial_id": -1}})",
      R"({"probe": {"objectives": {"latency_ms": "fast"}}})",
      R"({"glue": {"tasks": {}}})",
  };
  for (const char* settings : refused) {
    INFO(settings);
    auto daemon = parse_study_settings_text(settings, "settings");
    REQUIRE_FALSE(daemon);
    auto worker = parse_distill_settings(settings);
    REQUIRE_FALSE(worker);
    CHECK(worker.status().code() == Code::kInvalidArgument);
    CHECK(worker.status().field() == daemon.status().field());
    CHECK(worker.status().message() == daemon.status().message());
  }
}

TEST_CASE("a Flash trial: objectives, artifacts, manifest, exact reload") {
  at::set_num_threads(1);
  DistillEvaluator evaluator({.threads = 1});
  const fs::path scratch = work_dir() / "flash";
  auto outcome = run(evaluator, flash_spec(), scratch);
  REQUIRE(outcome);
  const double accuracy = outcome->objectives.at("accuracy");
  CHECK(accuracy == outcome->objectives.at("mlm_accuracy"));
  CHECK(accuracy > 0.05);
  CHECK(accuracy <= 1.0);
  CHECK(outcome->objectives.at("nsp_accuracy") > 0.3);
  StudentArch arch{2, 48, 32, 4, 64, 2, 0, 0, 0};
  const model::BertConfig teacher =
      *model::read_bert_config(testing::tiny_teacher_dir() / "config.json");
  arch.vocab_size = teacher.vocab_size;
  arch.max_positions = teacher.max_position_embeddings;
  arch.type_vocab_size = teacher.type_vocab_size;
  CHECK(outcome->metrics.at("params") == static_cast<double>(parameter_count(arch)));
  CHECK(outcome->metrics.at("steps") == 24);

  REQUIRE(outcome->artifacts.size() == 7);
  for (const auto& a : outcome->artifacts) CHECK(fs::exists(a.path));
  const fs::path dir = outcome->artifacts[0].path.parent_path();
  const auto manifest = nlohmann::json::parse(read(dir / "manifest.json"));
  CHECK(manifest["architecture"]["hidden_size"] == 48);
  CHECK(manifest["parameters"] == parameter_count(arch));
  CHECK(manifest["corpus"]["digest"] == blobs().corpus);
  CHECK(manifest["latency"].is_null());  // a Flash trial has no probe measurement
  // Every other file of the student, with its digest and size.
  std::set<std::string> listed;
  for (const auto& [name, entry] : manifest["files"].items()) {
    listed.insert(name);
    CHECK(entry["sha256"] == *wire::sha256_file((dir / name).string()));
    CHECK(entry["size"] == fs::file_size(dir / name));
  }
  CHECK(listed == std::set<std::string>{"model.safetensors", "config.json", "vocab.txt",
                                        "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json"});
  const auto config = nlohmann::json::parse(read(dir / "config.json"));
  CHECK(config["model_type"] == "mobilebert");
  CHECK(config["architectures"][0] == "MobileBertForPreTraining");
  CHECK(config["intra_bottleneck_size"] == 32);
  CHECK(config["num_feedforward_networks"] == 2);
  CHECK(manifest["teacher"]["digest"] == blobs().teacher);
  CHECK(manifest["accuracy"]["mlm_accuracy"] == accuracy);
  CHECK(manifest["distillation"]["kind"] == "flash");
  CHECK(manifest["trial_id"] == 11);
  // The manifest records every other file it ships with, as the daemon checks.
  REQUIRE(manifest["files"].size() == 6);
  for (const char* file : {"model.safetensors", "config.json", "vocab.txt", "tokenizer.json",
                           "tokenizer_config.json", "special_tokens_map.json"}) {
    INFO(file);
    CHECK(manifest["files"][file]["sha256"] == wire::sha256_file((dir / file).string()).value());
    CHECK(manifest["files"][file]["size"] == fs::file_size(dir / file));
  }
  CHECK(read(dir / "vocab.txt") == read(testing::tiny_teacher_dir() / "vocab.txt"));

  // The exported student, evaluated on the same held-out examples, scores
  // exactly what the trial reported.
  auto student = model::load_student(dir);
  REQUIRE(student);
  auto t = model::Teacher::load(testing::tiny_teacher_dir());
  auto vocab = model::Vocab::read(dir / "vocab.txt");
  REQUIRE((t && vocab));
  auto tokenizer = model::WordPieceTokenizer::create(std::move(vocab.value()));
  auto corpus = model::Corpus::open(testing::tiny_teacher_dir() / "corpus.txt");
  REQUIRE((tokenizer && corpus));
  DistillOptions options = parse_distill_settings(kSettings)->options;
  options.init_from_teacher = false;
  auto d = Distiller::create(*student, *t, *corpus, *tokenizer, options);
  REQUIRE(d);
  CHECK(d->evaluate().mlm_accuracy == accuracy);

  // A factor the design space leaves out comes from settings.student.
  auto partial = flash_spec();
  partial.params.erase("num_stacked_ffn");
  partial.settings_json = R"({"distill": {"flash_steps": 2, "batch_size": 8, "seq_len": 32,
      "eval_batches": 1}, "student": {"num_stacked_ffn": 3, "max_positions": 64}})";
  auto from_settings = run(evaluator, partial, work_dir() / "partial");
  REQUIRE(from_settings);
  StudentArch three = arch;
  three.num_stacked_ffn = 3;
  CHECK(from_settings->metrics.at("params") == static_cast<double>(parameter_count(three)));

  // Template options from settings.student reach the model and the manifest.
  auto options_spec = flash_spec();
  options_spec.settings_json = R"({"distill": {"flash_steps": 2, "batch_size": 8, "seq_len": 32,
      "eval_batches": 1}, "student": {"embedding_size": 16, "trigram_input": true,
      "normalization_type": "no_norm", "use_bottleneck_attention": false,
      "key_query_shared_bottleneck": true}})";
  auto with_options = run(evaluator, options_spec, work_dir() / "options");
  REQUIRE(with_options);
  StudentArch optioned = arch;
  optioned.embedding_size = 16;
  optioned.trigram_input = true;
  optioned.normalization = Normalization::kNoNorm;
  optioned.use_bottleneck_attention = false;
  optioned.key_query_shared_bottleneck = true;
  CHECK(with_options->metrics.at("params") == static_cast<double>(parameter_count(optioned)));
  const fs::path options_dir = with_options->artifacts[0].path.parent_path();
  const auto options_config = nlohmann::json::parse(read(options_dir / "config.json"));
  CHECK(options_config["embedding_size"] == 16);
  CHECK(options_config["trigram_input"] == true);
  CHECK(options_config["normalization_type"] == "no_norm");
  auto reloaded = model::load_student(options_dir);
  REQUIRE(reloaded);
  CHECK(reloaded->parameter_count() == parameter_count(optioned));

  // Regular trials run the regular step budget through the same code, and
  // write the probe measurement the daemon passes into the manifest.
  auto spec = flash_spec();
  spec.kind = wire::TrialKind::Regular;
  auto settings = nlohmann::json::parse(kSettings);
  settings["probe"] = {{"trial_id", 7},
                       {"hardware_fingerprint", "cpu:test"},
                       {"objectives", {{"latency_ms", 2.5}}},
                       {"metrics", {{"median_ci_low_ms", 2.4}, {"median_ci_high_ms", 2.7}}}};
  spec.settings_json = settings.dump();
  auto regular = run(evaluator, spec, work_dir() / "regular");
  REQUIRE(regular);
  CHECK(regular->metrics.at("steps") == 48);
  const auto regular_manifest =
      nlohmann::json::parse(read(regular->artifacts[0].path.parent_path() / "manifest.json"));
  CHECK(regular_manifest["latency"]["median_ms"] == 2.5);
  CHECK(regular_manifest["latency"]["median_ci_ms"] == nlohmann::json::array({2.4, 2.7}));
  CHECK(regular_manifest["latency"]["hardware_fingerprint"] == "cpu:test");
  CHECK(regular_manifest["latency"]["probe_trial_id"] == 7);
}

TEST_CASE("trials the worker cannot evaluate fail permanently with the field") {
  DistillEvaluator evaluator({.threads = 1});
  auto failure = [&](worker::TrialSpec spec) {
    auto r = run(evaluator, std::move(spec), work_dir() / "failing");
    REQUIRE_FALSE(r);
    return r.status();
  };
  auto probe = flash_spec();
  probe.kind = wire::TrialKind::Probe;
  CHECK(failure(probe).field() == "kind");
  CHECK_FALSE(worker::is_retryable(failure(probe)));

  Status heads = failure(flash_spec({{"num_heads", 5.0}}));
  CHECK(heads.field() == "params.num_heads");
  CHECK_FALSE(worker::is_retryable(heads));
  CHECK(failure(flash_spec({{"hidden_size", std::string("big")}})).field() == "params.hidden_size");

  auto settings = flash_spec();
  settings.settings_json = R"({"distill": {"batch_size": 0}})";
  CHECK(failure(settings).field() == "settings.distill.batch_size");
  auto too_long = flash_spec();
  too_long.settings_json = R"({"distill": {"seq_len": 1000}})";
  CHECK(failure(too_long).field() == "seq_len");
  auto bad_probe = flash_spec();
  bad_probe.kind = wire::TrialKind::Regular;
  bad_probe.settings_json = R"({"probe": {"objectives": {"latency_ms": "fast"}}})";
  Status probe_status = failure(bad_probe);
  CHECK(probe_status.field() == "settings.probe.objectives.latency_ms");
  CHECK_FALSE(worker::is_retryable(probe_status));
  auto other_vocab = flash_spec();
  other_vocab.settings_json = R"({"student": {"vocab_size": 30522}})";
  CHECK(failure(other_vocab).field() == "settings.student.vocab_size");

  auto not_bundle = flash_spec();
  not_bundle.teacher_digest = blobs().not_a_bundle;
  Status bundle = failure(not_bundle);
  CHECK(bundle.field() == "teacher_digest");
  CHECK_FALSE(worker::is_retryable(bundle));

  auto bad_corpus = flash_spec();
  bad_corpus.corpus_digest = blobs().bad_corpus;
  Status corpus = failure(bad_corpus);
  CHECK(corpus.field() == "corpus_digest");
  CHECK_THAT(corpus.message(), Catch::Contains("NUL"));

  auto no_teacher = flash_spec();
  no_teacher.teacher_digest.clear();
  CHECK(failure(no_teacher).field() == "teacher_digest");

  // A blob the daemon lacks is the fetcher's (retryable) error.
  auto missing = flash_spec();
  missing.corpus_digest = std::string(64, 'a');
  CHECK(worker::is_retryable(failure(missing)));
}

TEST_CASE("a cancelled trial stops before training") {
  DistillEvaluator evaluator({.threads = 1});
  auto r = run(evaluator, flash_spec(), work_dir() / "cancelled", /*cancel=*/true);
  CHECK(r.status().code() == Code::kCancelled);
}
