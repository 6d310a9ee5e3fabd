#include "autodistill/distill/distill_evaluator.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <fstream>
#include <list>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "autodistill/bounded_json.hpp"
#include "autodistill/distill/distiller.hpp"
#include "autodistill/distill/settings.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/pretraining_examples.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/student_arch.hpp"
#include "autodistill/student_settings.hpp"
#include "autodistill/wire/bundle.hpp"
#include "autodistill/wire/digest.hpp"

namespace autodistill::distill {

namespace fs = std::filesystem;
using worker::TrialContext;
using worker::TrialOutcome;

namespace {

const char* const kArchFactors[] = {"num_blocks", "hidden_size",       "bottleneck_size",
                                    "num_heads",  "intermediate_size", "num_stacked_ffn"};

// A failure that retrying will not fix, keeping the message and field.
Status permanent(const Status& s) {
  return Status(Code::kInvalidArgument, s.message(), s.field());
}

struct LoadedTeacher {
  model::Teacher teacher;
  model::WordPieceTokenizer tokenizer;
};

std::string kind_name(wire::TrialKind kind) {
  return kind == wire::TrialKind::Flash     ? "flash"
         : kind == wire::TrialKind::Regular ? "regular"
                                            : "other";
}

// The manifest's "latency" from settings.probe, the candidate's completed
// probe measurement, which the daemon adds to a Regular trial's settings
// (daemon/.../probe_handoff.hpp): the median and its confidence interval,
// the probe's hardware fingerprint and trial, and the whole measurement.
// null when the settings carry none (a Flash trial, a trial built by other
// means).
nlohmann::ordered_json latency_from_settings(const std::string& settings_json) {
  auto parsed = parse_json<nlohmann::ordered_json>(settings_json.empty() ? "{}" : settings_json,
                                                   "settings_json");
  if (!parsed || !parsed->is_object()) return nullptr;
  const nlohmann::ordered_json& settings = parsed.value();
  auto it = settings.find("probe");
  if (it == settings.end() || !it->is_object()) return nullptr;
  const nlohmann::ordered_json& probe = *it;
  auto number = [](const nlohmann::ordered_json& object, const char* key) {
    if (!object.is_object()) return nlohmann::ordered_json(nullptr);
    auto v = object.find(key);
    return v != object.end() && v->is_number() ? *v : nlohmann::ordered_json(nullptr);
  };
  const auto objectives = probe.value("objectives", nlohmann::ordered_json::object());
  const auto metrics = probe.value("metrics", nlohmann::ordered_json::object());
  nlohmann::ordered_json latency;
  latency["median_ms"] = number(objectives, "latency_ms");
  latency["median_ci_ms"] = {number(metrics, "median_ci_low_ms"),
                             number(metrics, "median_ci_high_ms")};
  latency["hardware_fingerprint"] = probe.value("hardware_fingerprint", nlohmann::ordered_json());
  latency["probe_trial_id"] = probe.value("trial_id", nlohmann::ordered_json());
  latency["measurement"] = probe;
  return latency;
}

nlohmann::ordered_json student_manifest(const worker::TrialSpec& spec, const StudentArch& arch,
                                        const model::Student& student,
                                        const DistillOptions& options, const DistillReport& report,
                                        const std::string& device, int64_t threads,
                                        const model::Teacher& teacher,
                                        nlohmann::ordered_json latency) {
  const model::BertConfig& tc = teacher.config();
  nlohmann::ordered_json manifest;
  manifest["format"] = "autodistill-student";
  manifest["version"] = 2;
  manifest["model_format"] = "huggingface-mobilebert";
  manifest["architecture"] = {{"num_blocks", arch.num_blocks},
                              {"hidden_size", arch.hidden_size},
                              {"bottleneck_size", arch.bottleneck_size},
                              {"num_heads", arch.num_heads},
                              {"intermediate_size", arch.intermediate_size},
                              {"num_stacked_ffn", arch.num_stacked_ffn},
                              {"vocab_size", arch.vocab_size},
                              {"max_positions", arch.max_positions},
                              {"type_vocab_size", arch.type_vocab_size},
                              {"embedding_size", embedding_width(arch)},
                              {"trigram_input", arch.trigram_input},
                              {"normalization_type", normalization_name(arch.normalization)},
                              {"use_bottleneck_attention", arch.use_bottleneck_attention},
                              {"key_query_shared_bottleneck", arch.key_query_shared_bottleneck}};
  manifest["parameters"] = student.parameter_count();
  manifest["flops_per_sequence"] = forward_flops(arch, options.seq_len);
  manifest["accuracy"] = {{"mlm_accuracy", report.eval.mlm_accuracy},
                          {"nsp_accuracy", report.eval.nsp_accuracy},
                          {"mlm_loss", report.eval.mlm_loss},
                          {"nsp_loss", report.eval.nsp_loss},
                          {"mlm_predictions", report.eval.mlm_predictions},
                          {"nsp_predictions", report.eval.nsp_predictions}};
  manifest["latency"] = std::move(latency);
  manifest["teacher"] = {{"digest", spec.teacher_digest},
                         {"num_hidden_layers", tc.num_hidden_layers},
                         {"hidden_size", tc.hidden_size},
                         {"num_attention_heads", tc.num_attention_heads},
                         {"parameters", teacher.parameter_count()}};
  manifest["corpus"] = {{"digest", spec.corpus_digest}};
  nlohmann::ordered_json phases = nlohmann::ordered_json::array();
  for (const PhaseReport& p : report.phases) {
    phases.push_back({{"phase", p.phase},
                      {"steps", p.steps},
                      {"first_loss", p.first_loss},
                      {"last_loss", p.last_loss}});
  }
  manifest["distillation"] = {{"kind", kind_name(spec.kind)},
                              {"steps", report.steps},
                              {"batch_size", options.batch_size},
                              {"seq_len", options.seq_len},
                              {"learning_rate", options.learning_rate},
                              {"progressive_ratio", options.progressive_ratio},
                              {"alpha", options.alpha},
                              {"temperature", options.temperature},
                              {"seed", options.seed},
                              {"eval_seed", options.eval_seed},
                              {"phases", phases},
                              {"train_seconds", report.train_seconds},
                              {"tokens_per_second", report.tokens_per_second},
                              {"device", device},
                              {"threads", threads}};
  manifest["study_id"] = spec.study_id;
  manifest["trial_id"] = spec.trial_id;
  manifest["attempt"] = spec.attempt;
  return manifest;
}

}  // namespace

Result<std::string> resolve_device(const std::string& name) {
  if (name == "cpu") return std::string("cpu");
  if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      return Status(Code::kFailedPrecondition, "--device cuda, but LibTorch sees no CUDA device",
                    "device");
    }
    return std::string("cuda");
  }
  if (name == "auto") return std::string(torch::cuda::is_available() ? "cuda" : "cpu");
  return Status(Code::kInvalidArgument, "device must be auto, cpu or cuda, not \"" + name + "\"",
                "device");
}

struct DistillEvaluator::Cache {
  std::mutex mu;
  // Most recently used first.
  std::list<std::pair<std::string, std::shared_ptr<const LoadedTeacher>>> teachers;
  std::map<std::string, std::shared_ptr<const model::Corpus>> corpora;
};

namespace {

finetune::FinetuneWorkerOptions finetune_options(const DistillWorkerOptions& options) {
  auto device = resolve_device(options.device);
  return {.threads = options.threads,
          .slots = options.slots,
          .device = device ? *device : std::string("cpu")};
}

}  // namespace

DistillEvaluator::DistillEvaluator(DistillWorkerOptions options)
    : options_(std::move(options)),
      cache_(std::make_unique<Cache>()),
      finetune_(finetune_options(options_)) {}

DistillEvaluator::~DistillEvaluator() = default;

namespace {

Result<std::shared_ptr<const LoadedTeacher>> load_teacher(TrialContext& ctx, const fs::path& blob,
                                                          const at::Device& device) {
  const fs::path dir = ctx.scratch_dir() / "teacher";
  if (!wire::is_bundle(blob)) {
    return permanent(Status(Code::kInvalidArgument,
                            "the teacher blob is not a checkpoint bundle (a tar of the Hugging "
                            "Face directory: config.json, model.safetensors, vocab.txt)",
                            "teacher_digest"));
  }
  if (Status s = wire::unpack_bundle(blob, dir); !s) {
    return s.code() == Code::kInternal ? s : permanent(s);
  }
  auto teacher = model::Teacher::load(dir);
  if (!teacher) return permanent(teacher.status());
  auto vocab = model::Vocab::read(dir / "vocab.txt");
  if (!vocab) return permanent(vocab.status());
  if (Status s = model::validate_vocab(*vocab, teacher->config().vocab_size); !s) {
    return permanent(Status(s.code(), "teacher: " + s.message(), s.field()));
  }
  auto tokenizer = model::WordPieceTokenizer::create(std::move(vocab.value()),
                                                     model::read_tokenizer_options(dir));
  if (!tokenizer) return permanent(tokenizer.status());
  teacher->to(device);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return std::make_shared<const LoadedTeacher>(
      LoadedTeacher{std::move(teacher.value()), std::move(tokenizer.value())});
}

}  // namespace

Result<TrialOutcome> DistillEvaluator::evaluate(TrialContext& ctx) {
  try {
    const worker::TrialSpec& spec = ctx.spec();
    if (spec.kind == wire::TrialKind::Finetune) return finetune_.evaluate(ctx);
    if (spec.kind != wire::TrialKind::Flash && spec.kind != wire::TrialKind::Regular) {
      return worker::permanent_failure(
          std::string("the distill worker evaluates Flash, Regular and Finetune trials, not ") +
              wire::EnumNameTrialKind(spec.kind),
          "kind");
    }
    auto settings = parse_distill_settings(spec.settings_json);
    if (!settings) return permanent(settings.status());
    // Factors: settings.student fills what the design space leaves out.
    std::map<std::string, double> factors;
    for (const char* name : kArchFactors) {
      if (auto it = settings->student.find(name); it != settings->student.end()) {
        factors[name] = static_cast<double>(it->second);
      }
    }
    for (const auto& [name, value] : spec.params) {
      if (const double* number = std::get_if<double>(&value)) {
        factors[name] = *number;
      } else if (std::find(std::begin(kArchFactors), std::end(kArchFactors), name) !=
                 std::end(kArchFactors)) {
        return worker::permanent_failure("factor " + name + " must be a number", "params." + name);
      }
    }
    if (spec.teacher_digest.empty() || spec.corpus_digest.empty()) {
      return worker::permanent_failure(
          "a distill trial needs a teacher and a corpus",
          spec.teacher_digest.empty() ? "teacher_digest" : "corpus_digest");
    }
    auto device_name = resolve_device(options_.device);
    if (!device_name) return device_name.status();
    const at::Device device(*device_name == "cuda" ? at::kCUDA : at::kCPU);

    // Teacher and corpus, cached by digest.
    ctx.report_progress(0.0, "fetching the teacher");
    std::shared_ptr<const LoadedTeacher> teacher;
    {
      std::lock_guard<std::mutex> lock(cache_->mu);
      auto& list = cache_->teachers;
      for (auto it = list.begin(); it != list.end(); ++it) {
        if (it->first == spec.teacher_digest) {
          list.splice(list.begin(), list, it);
          teacher = it->second;
          break;
        }
      }
      if (!teacher) {
        auto blob = ctx.fetch_blob(spec.teacher_digest);
        if (!blob) return blob.status();
        auto loaded = load_teacher(ctx, *blob, device);
        if (!loaded) return loaded.status();
        teacher = *loaded;
        list.emplace_front(spec.teacher_digest, teacher);
        while (list.size() > std::max<size_t>(1, options_.teacher_cache)) list.pop_back();
      }
    }
    ctx.report_progress(0.0, "indexing the corpus");
    std::shared_ptr<const model::Corpus> corpus;
    {
      const std::string key = spec.corpus_digest + "/" + std::to_string(settings->eval_fraction) +
                              "/" + std::to_string(settings->split_seed);
      std::lock_guard<std::mutex> lock(cache_->mu);
      if (auto it = cache_->corpora.find(key); it != cache_->corpora.end()) {
        corpus = it->second;
      } else {
        auto blob = ctx.fetch_blob(spec.corpus_digest);
        if (!blob) return blob.status();
        auto opened = model::Corpus::open(
            *blob, {.eval_fraction = settings->eval_fraction, .split_seed = settings->split_seed});
        if (!opened) {
          return permanent(Status(Code::kInvalidArgument, "corpus: " + opened.status().message(),
                                  "corpus_digest"));
        }
        corpus = std::make_shared<const model::Corpus>(std::move(opened.value()));
        cache_->corpora[key] = corpus;
      }
    }
    if (ctx.cancelled()) return Status(Code::kCancelled, "cancelled");

    const model::BertConfig& tc = teacher->teacher.config();
    // The sizes other workers assume (settings.student) must be the teacher's.
    for (auto [key, value] : {std::pair{"vocab_size", tc.vocab_size},
                              std::pair{"max_positions", tc.max_position_embeddings},
                              std::pair{"type_vocab_size", tc.type_vocab_size}}) {
      auto it = settings->student.find(key);
      if (it != settings->student.end() && it->second != value) {
        return worker::permanent_failure(std::string("settings.student.") + key + " is " +
                                             std::to_string(it->second) + " but the teacher's is " +
                                             std::to_string(value),
                                         std::string("settings.student.") + key);
      }
    }
    StudentArch base;
    copy_student_options(settings->options_arch, base);
    base.vocab_size = tc.vocab_size;
    base.max_positions = tc.max_position_embeddings;
    base.type_vocab_size = tc.type_vocab_size;
    const StudentArch arch = student_from_factors(factors, base);
    if (Status valid = validate(arch); !valid) {
      return worker::permanent_failure("student architecture: " + valid.message(),
                                       "params." + valid.field());
    }

    const int64_t hardware = std::max<int64_t>(1, std::thread::hardware_concurrency());
    const int64_t threads =
        settings->threads > 0 ? settings->threads
        : options_.threads > 0
            ? options_.threads
            : std::max<int64_t>(1, hardware / std::max<uint32_t>(1, options_.slots));
    at::set_num_threads(static_cast<int>(threads));

    auto student = model::Student::create(arch, settings->options.seed);
    if (!student) return permanent(student.status());
    DistillOptions options = settings->options;
    options.steps =
        spec.kind == wire::TrialKind::Flash ? settings->flash_steps : settings->regular_steps;
    options.device = device;
    auto distiller =
        Distiller::create(*student, teacher->teacher, *corpus, teacher->tokenizer, options);
    if (!distiller) {
      return distiller.status().code() == Code::kInvalidArgument ? permanent(distiller.status())
                                                                 : distiller.status();
    }
    auto report = distiller->run([&ctx](const Progress& p) {
      ctx.report_progress(
          static_cast<double>(p.step) / static_cast<double>(std::max<int64_t>(1, p.total)), p.phase,
          {{"loss", p.loss},
           {"learning_rate", p.learning_rate},
           {"step", static_cast<double>(p.step)}});
      return !ctx.cancelled();
    });
    if (!report) return report.status();
    ctx.report_progress(
        1.0, "exporting",
        {{"mlm_accuracy", report->eval.mlm_accuracy}, {"nsp_accuracy", report->eval.nsp_accuracy}});

    const fs::path out = ctx.scratch_dir() / "student";
    auto manifest = student_manifest(spec, arch, *student, options, *report, *device_name, threads,
                                     teacher->teacher, latency_from_settings(spec.settings_json));
    if (Status s = model::save_student(*student, out, teacher->tokenizer, manifest.dump()); !s) {
      return s;
    }

    TrialOutcome outcome;
    outcome.objectives["accuracy"] = report->eval.mlm_accuracy;
    outcome.objectives["mlm_accuracy"] = report->eval.mlm_accuracy;
    outcome.objectives["nsp_accuracy"] = report->eval.nsp_accuracy;
    outcome.metrics["params"] = static_cast<double>(student->parameter_count());
    outcome.metrics["eval_mlm_loss"] = report->eval.mlm_loss;
    outcome.metrics["eval_nsp_loss"] = report->eval.nsp_loss;
    outcome.metrics["steps"] = static_cast<double>(report->steps);
    outcome.metrics["train_seconds"] = report->train_seconds;
    outcome.metrics["tokens_per_second"] = report->tokens_per_second;
    if (!report->phases.empty()) outcome.metrics["final_loss"] = report->phases.back().last_loss;
    for (const std::string& file : model::student_files()) {
      outcome.artifacts.push_back({file, out / file});
    }
    outcome.artifacts.push_back({"manifest.json", out / "manifest.json"});
    return outcome;
  } catch (const c10::Error& e) {
    return worker::retryable_failure(std::string("distillation failed in LibTorch: ") +
                                     e.what_without_backtrace());
  } catch (const std::exception& e) {
    return worker::retryable_failure(std::string("distillation failed: ") + e.what());
  }
}

}  // namespace autodistill::distill
