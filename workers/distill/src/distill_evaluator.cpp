#include "autodistill/distill/distill_evaluator.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <list>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "autodistill/distill/checkpoint.hpp"
#include "autodistill/distill/data_parallel.hpp"
#include "autodistill/distill/distiller.hpp"
#include "autodistill/distill/settings.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/pretraining_examples.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/torch_trial.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/student_arch.hpp"
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
nlohmann::ordered_json latency_of(const std::optional<ProbeHandoff>& probe) {
  if (!probe) return nullptr;
  auto number = [](const std::map<std::string, double>& values, const char* key) {
    auto v = values.find(key);
    return v != values.end() ? nlohmann::ordered_json(v->second) : nlohmann::ordered_json();
  };
  nlohmann::ordered_json latency;
  latency["median_ms"] = number(probe->objectives, "latency_ms");
  latency["median_ci_ms"] = {number(probe->metrics, "median_ci_low_ms"),
                             number(probe->metrics, "median_ci_high_ms")};
  latency["hardware_fingerprint"] = probe->hardware_fingerprint;
  latency["probe_trial_id"] = probe->trial_id;
  latency["measurement"] = nlohmann::ordered_json::parse(to_json(*probe).dump());
  return latency;
}

nlohmann::ordered_json architecture_json(const StudentArch& arch) {
  return {{"num_blocks", arch.num_blocks},
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
}

// What a checkpoint must have been taken of to continue this trial: every
// input of the training's arithmetic (not the thread count, the cadence of
// checkpoints or the evaluation set).
std::string training_identity(const worker::TrialSpec& spec, const StudentArch& arch,
                              const DistillOptions& o, const DistillSettings& settings) {
  nlohmann::ordered_json id;
  id["architecture"] = architecture_json(arch);
  id["teacher"] = spec.teacher_digest;
  id["corpus"] = spec.corpus_digest;
  id["eval_fraction"] = settings.knobs.eval_fraction;
  id["split_seed"] = settings.knobs.split_seed;
  id["steps"] = o.steps;
  id["progressive_ratio"] = o.progressive_ratio;
  id["batch_size"] = o.batch_size;
  id["seq_len"] = o.seq_len;
  id["learning_rate"] = o.learning_rate;
  id["warmup_fraction"] = o.warmup_fraction;
  id["lamb"] = {o.lamb.beta1, o.lamb.beta2, o.lamb.eps, o.lamb.weight_decay};
  id["clip_norm"] = o.clip_norm;
  id["alpha"] = o.alpha;
  id["temperature"] = o.temperature;
  id["attention_weight"] = o.attention_weight;
  id["feature_weight"] = o.feature_weight;
  id["seed"] = o.seed;
  id["init_from_teacher"] = o.init_from_teacher;
  return id.dump();
}

// The training loss for the manifest: at most 200 points, each the mean of
// an equal run of steps (every step for runs up to 200 steps).
nlohmann::ordered_json loss_curve(const std::vector<double>& losses) {
  const size_t every = std::max<size_t>(1, (losses.size() + 199) / 200);
  nlohmann::ordered_json points = nlohmann::ordered_json::array();
  for (size_t begin = 0; begin < losses.size(); begin += every) {
    const size_t end = std::min(losses.size(), begin + every);
    double sum = 0;
    for (size_t i = begin; i < end; ++i) sum += losses[i];
    points.push_back(sum / static_cast<double>(end - begin));
  }
  return {{"every_steps", every}, {"mean_loss", points}};
}

// How the trial's training went beyond the report (manifest, metrics).
struct RunNotes {
  int64_t resumed_from_step = 0;
  std::string checkpoint_refused;  // why Assign.resume was not used; "" = it was, or none
  uint32_t ranks = 1;
  uint64_t checkpoints = 0;  // published by this attempt
};

nlohmann::ordered_json student_manifest(const worker::TrialSpec& spec, const StudentArch& arch,
                                        const model::Student& student,
                                        const DistillOptions& options, const DistillReport& report,
                                        const std::string& device, int64_t threads,
                                        const model::Teacher& teacher,
                                        nlohmann::ordered_json latency, const RunNotes& notes) {
  const model::BertConfig& tc = teacher.config();
  nlohmann::ordered_json manifest;
  manifest["format"] = "autodistill-student";
  manifest["version"] = 2;
  manifest["model_format"] = "huggingface-mobilebert";
  manifest["architecture"] = architecture_json(arch);
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
  manifest["distillation"] = {
      {"kind", kind_name(spec.kind)},
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
      {"threads", threads},
      {"ranks", notes.ranks},
      {"resumed_from_step", notes.resumed_from_step},
      {"checkpoint_refused", notes.checkpoint_refused.empty()
                                 ? nlohmann::ordered_json(nullptr)
                                 : nlohmann::ordered_json(notes.checkpoint_refused)},
      {"loss_curve", loss_curve(report.losses)}};
  manifest["study_id"] = spec.study_id;
  manifest["trial_id"] = spec.trial_id;
  manifest["attempt"] = spec.attempt;
  return manifest;
}

// The checkpoint Assign.resume names, fetched (digest-verified, cached by
// digest) and read. kUnavailable / kCancelled: try again later; any other
// error: this checkpoint cannot be used (foreign format, missing or
// corrupt blob, another training).
Result<TrainingState> load_resume(TrialContext& ctx, const worker::CheckpointRef& ref,
                                  const std::string& identity) {
  if (ref.format != kCheckpointFormat) {
    return Status(Code::kInvalidArgument,
                  "checkpoint format \"" + ref.format + "\" is not " + kCheckpointFormat,
                  "resume.format");
  }
  const worker::BlobRef* blob = nullptr;
  for (const worker::BlobRef& b : ref.blobs) {
    if (b.name == kCheckpointBlobName) blob = &b;
  }
  if (blob == nullptr) {
    return Status(Code::kInvalidArgument,
                  std::string("the checkpoint has no blob named ") + kCheckpointBlobName,
                  "resume.blobs");
  }
  auto path = ctx.fetch_blob(blob->digest);
  if (!path) return path.status();
  auto state = read_checkpoint(*path);
  if (!state) return state.status();
  if (state->identity != identity) {
    return Status(Code::kInvalidArgument,
                  "the checkpoint is of another training (architecture, settings, teacher or "
                  "corpus differ)",
                  "resume");
  }
  if (static_cast<uint64_t>(state->done) != ref.step) {
    return Status(Code::kInvalidArgument,
                  "the checkpoint holds step " + std::to_string(state->done) + ", not " +
                      std::to_string(ref.step),
                  "resume.step");
  }
  return state;
}

uint64_t fnv(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
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
      if (auto it = settings->student.sizes.find(name); it != settings->student.sizes.end()) {
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
      const std::string key = spec.corpus_digest + "/" +
                              std::to_string(settings->knobs.eval_fraction) + "/" +
                              std::to_string(settings->knobs.split_seed);
      std::lock_guard<std::mutex> lock(cache_->mu);
      if (auto it = cache_->corpora.find(key); it != cache_->corpora.end()) {
        corpus = it->second;
      } else {
        auto blob = ctx.fetch_blob(spec.corpus_digest);
        if (!blob) return blob.status();
        auto opened = model::Corpus::open(*blob, {.eval_fraction = settings->knobs.eval_fraction,
                                                  .split_seed = settings->knobs.split_seed});
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
      auto it = settings->student.sizes.find(key);
      if (it != settings->student.sizes.end() && it->second != value) {
        return worker::permanent_failure(std::string("settings.student.") + key + " is " +
                                             std::to_string(it->second) + " but the teacher's is " +
                                             std::to_string(value),
                                         std::string("settings.student.") + key);
      }
    }
    StudentArch base;
    settings->student.apply(base);
    base.vocab_size = tc.vocab_size;
    base.max_positions = tc.max_position_embeddings;
    base.type_vocab_size = tc.type_vocab_size;
    const StudentArch arch = student_from_factors(factors, base);
    if (Status valid = validate(arch); !valid) {
      return worker::permanent_failure("student architecture: " + valid.message(),
                                       "params." + valid.field());
    }

    const int64_t threads =
        model::trial_threads(settings->knobs.threads, options_.threads, options_.slots);

    auto student = model::Student::create(arch, settings->options.seed);
    if (!student) return permanent(student.status());
    DistillOptions options = settings->options;
    options.steps = spec.kind == wire::TrialKind::Flash ? settings->knobs.flash_steps
                                                        : settings->knobs.regular_steps;
    options.device = device;
    const uint32_t ranks = spec.gang ? spec.gang->world_size : 1;
    const uint32_t rank = spec.gang ? spec.gang->rank : 0;
    if (spec.gang && (ranks < 2 || rank >= ranks)) {
      return worker::permanent_failure("gang rank " + std::to_string(rank) + " of " +
                                           std::to_string(ranks) + " is not a valid place",
                                       "gang.rank");
    }
    if (options.batch_size < static_cast<int64_t>(ranks)) {
      return worker::permanent_failure("batch_size " + std::to_string(options.batch_size) +
                                           " is smaller than the gang's " + std::to_string(ranks) +
                                           " ranks",
                                       "settings.distill.batch_size");
    }
    auto distiller =
        Distiller::create(*student, teacher->teacher, *corpus, teacher->tokenizer, options);
    if (!distiller) {
      return distiller.status().code() == Code::kInvalidArgument ? permanent(distiller.status())
                                                                 : distiller.status();
    }
    const std::string identity = training_identity(spec, arch, options, *settings);
    RunNotes notes;
    notes.ranks = ranks;

    // Resume from the checkpoint the daemon names. One that cannot be used
    // is refused and the trial starts from step 0 (docs/distillation.md).
    if (spec.resume) {
      ctx.report_progress(0.0, "fetching checkpoint step " + std::to_string(spec.resume->step));
      auto state = load_resume(ctx, *spec.resume, identity);
      Status restored = state ? distiller->restore(*state) : state.status();
      if (restored) {
        notes.resumed_from_step = state->done;
      } else if (restored.code() == Code::kUnavailable || restored.code() == Code::kCancelled) {
        return restored;
      } else {
        notes.checkpoint_refused = "checkpoint step " + std::to_string(spec.resume->step) +
                                   " of attempt " + std::to_string(spec.resume->attempt) +
                                   " refused: " + restored.to_string();
        ctx.report_progress(0.0, notes.checkpoint_refused + "; starting from step 0");
      }
    }

    // A gang: rendezvous, agree on the starting point, rank 0's weights.
    const auto gang_timeout = std::chrono::milliseconds(
        static_cast<int64_t>(std::ceil(settings->knobs.gang_timeout_seconds * 1000.0)));
    std::unique_ptr<Gang> gang;
    std::unique_ptr<GradientSync> sync;
    if (spec.gang) {
      GangOptions g;
      g.rank = rank;
      g.world_size = ranks;
      g.host = options_.gang_host;
      g.timeout = gang_timeout;
      g.key_prefix = std::to_string(spec.trial_id) + "/" + std::to_string(spec.attempt);
      Result<std::unique_ptr<Gang>> made = Status(Code::kInternal, "no gang");
      if (rank == 0) {
        made = Gang::host(g);
        if (made) ctx.announce_gang_address((*made)->address());
      } else {
        ctx.report_progress(0.0, "waiting for rank 0's rendezvous address");
        auto address = ctx.wait_gang_address(gang_timeout);
        if (ctx.cancelled()) return Status(Code::kCancelled, "cancelled");
        if (!address) {
          return Status(Code::kUnavailable, "no rendezvous address from rank 0 within " +
                                                std::to_string(gang_timeout.count()) + " ms");
        }
        made = Gang::join(g, *address);
      }
      if (!made) {
        return made.status().code() == Code::kInvalidArgument ? permanent(made.status())
                                                              : made.status();
      }
      gang = std::move(made.value());
      ctx.report_progress(0.0, "forming the gang (" + std::to_string(ranks) + " ranks)");
      if (Status s = gang->form(); !s) return s;
      if (Status s = gang->check_same(fnv(identity + "@" + std::to_string(notes.resumed_from_step)),
                                      "the training and the step it starts from");
          !s) {
        return s;
      }
      if (Status s = gang->broadcast(distiller->trained_tensors()); !s) return s;
      sync = gang->gradient_sync(
          static_cast<size_t>(settings->knobs.allreduce_bucket_mb * 1024.0 * 1024.0));
      distiller->set_gradient_sync(sync.get());
    }

    // Checkpoints, by rank 0, in the background.
    const bool checkpointing =
        rank == 0 && (spec.kind == wire::TrialKind::Regular || settings->knobs.checkpoint_flash) &&
        (settings->knobs.checkpoint_steps > 0 || settings->knobs.checkpoint_minutes > 0.0);
    const fs::path checkpoint_dir = ctx.scratch_dir() / "checkpoints";
    if (checkpointing) fs::create_directories(checkpoint_dir);
    int64_t last_checkpoint = notes.resumed_from_step;
    auto last_checkpoint_time = std::chrono::steady_clock::now();
    Distiller& d = *distiller;
    auto on_step = [&](const Progress& p) {
      ctx.report_progress(
          static_cast<double>(p.step) / static_cast<double>(std::max<int64_t>(1, p.total)), p.phase,
          {{"loss", p.loss},
           {"learning_rate", p.learning_rate},
           {"step", static_cast<double>(p.step)}});
      if (checkpointing && p.step < p.total) {
        const auto now = std::chrono::steady_clock::now();
        const bool due = (settings->knobs.checkpoint_steps > 0 &&
                          p.step - last_checkpoint >= settings->knobs.checkpoint_steps) ||
                         (settings->knobs.checkpoint_minutes > 0.0 &&
                          std::chrono::duration<double>(now - last_checkpoint_time).count() >=
                              60.0 * settings->knobs.checkpoint_minutes);
        if (due && ctx.checkpoints_enabled() && !ctx.checkpoint_busy()) {
          auto state = d.snapshot();
          if (state) {
            state->identity = identity;
            auto held = std::make_shared<const TrainingState>(std::move(state.value()));
            const fs::path file =
                checkpoint_dir / ("checkpoint-" + std::to_string(p.step) + ".safetensors");
            const bool started = ctx.publish_checkpoint(
                static_cast<uint64_t>(p.step), static_cast<uint64_t>(p.total), kCheckpointFormat,
                [held, file]() -> Result<std::vector<worker::CheckpointFile>> {
                  if (Status s = write_checkpoint(file, *held); !s) return s;
                  return std::vector<worker::CheckpointFile>{{kCheckpointBlobName, file}};
                });
            if (started) {
              last_checkpoint = p.step;
              last_checkpoint_time = now;
            }
          }
        }
      }
      return !ctx.cancelled();
    };
    auto report = d.train(on_step);
    notes.checkpoints = ctx.checkpoints_published();
    ctx.stop_checkpoints();  // the Result supersedes a checkpoint still uploading
    if (!report) return report.status();
    const uint64_t weights = fingerprint(d.trained_tensors());
    if (gang) {
      d.set_gradient_sync(nullptr);
      if (Status s = gang->check_same(weights, "the final weights"); !s) return s;
      sync.reset();
      gang.reset();
    }
    // 53 bits: exactly representable as a metric.
    const double weights_metric = static_cast<double>(weights >> 11);
    if (rank > 0) {
      TrialOutcome outcome;
      outcome.metrics["steps"] = static_cast<double>(report->steps);
      outcome.metrics["train_seconds"] = report->train_seconds;
      outcome.metrics["weights_fingerprint"] = weights_metric;
      outcome.metrics["resumed_from_step"] = static_cast<double>(notes.resumed_from_step);
      if (!report->phases.empty()) outcome.metrics["final_loss"] = report->phases.back().last_loss;
      return outcome;
    }
    ctx.report_progress(1.0, "evaluating");
    report->eval = d.evaluate();
    ctx.report_progress(
        1.0, "exporting",
        {{"mlm_accuracy", report->eval.mlm_accuracy}, {"nsp_accuracy", report->eval.nsp_accuracy}});

    const fs::path out = ctx.scratch_dir() / "student";
    auto manifest = student_manifest(spec, arch, *student, options, *report, *device_name, threads,
                                     teacher->teacher, latency_of(settings->probe), notes);
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
    outcome.metrics["weights_fingerprint"] = weights_metric;
    outcome.metrics["resumed_from_step"] = static_cast<double>(notes.resumed_from_step);
    outcome.metrics["checkpoint_refused"] = notes.checkpoint_refused.empty() ? 0.0 : 1.0;
    outcome.metrics["checkpoints"] = static_cast<double>(notes.checkpoints);
    outcome.metrics["ranks"] = static_cast<double>(ranks);
    for (const std::string& file : model::student_files()) {
      outcome.artifacts.push_back({file, out / file});
    }
    outcome.artifacts.push_back({"manifest.json", out / "manifest.json"});
    return outcome;
  } catch (...) {
    return model::trial_failure("distillation");
  }
}

}  // namespace autodistill::distill
