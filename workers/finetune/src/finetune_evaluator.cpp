#include "autodistill/finetune/finetune_evaluator.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "autodistill/model/torch_trial.hpp"
#include "autodistill/wire/bundle.hpp"

namespace autodistill::finetune {

namespace fs = std::filesystem;
using worker::TrialContext;
using worker::TrialOutcome;

namespace {

// A failure that retrying will not fix, keeping the message and field.
Status permanent(const Status& s) {
  return Status(Code::kInvalidArgument, s.message(), s.field());
}

Status permanent(const Status& s, const std::string& field) {
  return Status(Code::kInvalidArgument, s.message(), field);
}

}  // namespace

Result<FinetuneSettings> parse_finetune_settings(std::string_view settings_json) {
  auto parsed = parse_study_settings_text(settings_json, "settings");
  if (!parsed) return parsed.status();
  if (!parsed->finetune) {
    return Status(Code::kInvalidArgument,
                  "a Finetune trial needs settings.finetune with a model and a task",
                  "settings.finetune");
  }
  FinetuneSettings s;
  static_cast<FinetuneSection&>(s) = std::move(*parsed->finetune);
  const FinetuneKnobs& k = s.knobs;
  FinetuneOptions& o = s.options;
  o.epochs = k.epochs;
  o.batch_size = k.batch_size;
  o.max_seq_len = k.max_seq_len;
  o.learning_rate = k.learning_rate;
  o.warmup_fraction = k.warmup_fraction;
  o.weight_decay = k.weight_decay;
  o.dropout = k.dropout;
  o.pooling = parse_pooling(k.pooling).value();  // the codec allows "mean" and "cls"
  o.clip_norm = k.clip_norm;
  o.seed = k.seed;
  o.max_train_examples = k.max_train_examples;
  return s;
}

FinetuneEvaluator::FinetuneEvaluator(FinetuneWorkerOptions options)
    : options_(std::move(options)) {}

Result<TrialOutcome> FinetuneEvaluator::evaluate(TrialContext& ctx) {
  try {
    const worker::TrialSpec& spec = ctx.spec();
    if (spec.kind != wire::TrialKind::Finetune) {
      return worker::permanent_failure(
          std::string("not a Finetune trial: ") + wire::EnumNameTrialKind(spec.kind), "kind");
    }
    auto settings = parse_finetune_settings(spec.settings_json);
    if (!settings) return permanent(settings.status());

    // The task.
    ctx.report_progress(0.0, "fetching the task");
    auto task_blob = ctx.fetch_blob(settings->task_digest);
    if (!task_blob) return task_blob.status();
    if (!wire::is_bundle(*task_blob)) {
      return worker::permanent_failure(
          "the task blob is not a bundle (a tar of train.tsv, dev.tsv, task.json)",
          "settings.finetune.task");
    }
    const fs::path task_dir = ctx.scratch_dir() / "task";
    if (Status s = wire::unpack_bundle(*task_blob, task_dir); !s) {
      return s.code() == Code::kInternal ? s : permanent(s, "settings.finetune.task");
    }
    auto task = read_glue_task(task_dir);
    if (!task) {
      return permanent(Status(task.status().code(), "task: " + task.status().message()),
                       "settings.finetune.task");
    }

    // The model.
    ctx.report_progress(0.0, "fetching the model");
    const fs::path model_dir = ctx.scratch_dir() / "model";
    if (settings->source == FinetuneSettings::Source::kFiles) {
      fs::create_directories(model_dir);
      for (const auto& [name, digest] : settings->files) {
        auto blob = ctx.fetch_blob(digest);
        if (!blob) return blob.status();
        std::error_code ec;
        fs::copy_file(*blob, model_dir / name, fs::copy_options::overwrite_existing, ec);
        if (ec) return Status(Code::kInternal, "cannot copy " + name + ": " + ec.message());
      }
    } else {
      const std::string digest = settings->source == FinetuneSettings::Source::kTeacher
                                     ? spec.teacher_digest
                                     : settings->bundle_digest;
      const std::string field = settings->source == FinetuneSettings::Source::kTeacher
                                    ? "teacher_digest"
                                    : "settings.finetune.model";
      if (digest.empty()) {
        return worker::permanent_failure(
            "settings.finetune.model is \"teacher\" but the trial "
            "names no teacher",
            field);
      }
      auto blob = ctx.fetch_blob(digest);
      if (!blob) return blob.status();
      if (!wire::is_bundle(*blob)) {
        return worker::permanent_failure(
            "the model blob is not a bundle (a tar of the model directory)", field);
      }
      if (Status s = wire::unpack_bundle(*blob, model_dir); !s) {
        return s.code() == Code::kInternal ? s : permanent(s, field);
      }
    }
    auto encoder = Encoder::load(model_dir);
    if (!encoder) {
      return permanent(Status(encoder.status().code(), "model: " + encoder.status().message()),
                       "settings.finetune.model");
    }
    if (ctx.cancelled()) return Status(Code::kCancelled, "cancelled");

    const int64_t threads =
        model::trial_threads(settings->knobs.threads, options_.threads, options_.slots);
    FinetuneOptions options = settings->options;
    options.device = at::Device(options_.device == "cuda" ? at::kCUDA : at::kCPU);
    if (options.max_seq_len > encoder->max_positions()) {
      return worker::permanent_failure("max_seq_len " + std::to_string(options.max_seq_len) +
                                           " is beyond the model's " +
                                           std::to_string(encoder->max_positions()) + " positions",
                                       "settings.finetune.max_seq_len");
    }

    auto report = fine_tune(*encoder, *task, options, [&ctx](const FinetuneProgress& p) {
      ctx.report_progress(
          static_cast<double>(p.step) / static_cast<double>(std::max<int64_t>(1, p.total)),
          "fine-tuning",
          {{"loss", p.loss},
           {"learning_rate", p.learning_rate},
           {"step", static_cast<double>(p.step)}});
      return !ctx.cancelled();
    });
    if (!report) {
      return report.status().code() == Code::kInvalidArgument ? permanent(report.status())
                                                              : report.status();
    }

    nlohmann::ordered_json json;
    json["format"] = "autodistill-finetune";
    json["version"] = 1;
    json["task"] = {{"name", task->name},
                    {"digest", settings->task_digest},
                    {"labels", task->labels},
                    {"pair", task->pair},
                    {"train_examples", report->train_examples},
                    {"dev_examples", report->dev.examples}};
    json["model"] = {{"type", encoder->model_type()},
                     {"parameters", encoder->parameter_count()},
                     {"source", settings->source == FinetuneSettings::Source::kTeacher  ? "teacher"
                                : settings->source == FinetuneSettings::Source::kBundle ? "bundle"
                                                                                        : "files"}};
    json["dev"] = scores_json(report->dev);
    json["majority"] = scores_json(report->majority);
    json["majority"]["label"] = task->labels[static_cast<size_t>(report->majority_label)];
    json["training"] = options_json(options);
    json["training"].update({{"steps", report->steps},
                             {"first_loss", report->first_loss},
                             {"last_loss", report->last_loss},
                             {"train_seconds", report->train_seconds},
                             {"unk_rate", report->unk_rate},
                             {"truncated_examples", report->truncated_examples},
                             {"device", options_.device},
                             {"threads", threads}});
    json["study_id"] = spec.study_id;
    json["trial_id"] = spec.trial_id;
    json["attempt"] = spec.attempt;
    const fs::path out = ctx.scratch_dir() / "finetune.json";
    std::ofstream(out, std::ios::trunc) << json.dump(2) << "\n";

    TrialOutcome outcome;
    outcome.objectives["accuracy"] = report->dev.accuracy;
    outcome.objectives["f1"] = report->dev.f1;
    outcome.objectives["macro_f1"] = report->dev.macro_f1;
    outcome.metrics["majority_accuracy"] = report->majority.accuracy;
    outcome.metrics["majority_f1"] = report->majority.f1;
    outcome.metrics["majority_macro_f1"] = report->majority.macro_f1;
    outcome.metrics["steps"] = static_cast<double>(report->steps);
    outcome.metrics["train_examples"] = static_cast<double>(report->train_examples);
    outcome.metrics["dev_examples"] = static_cast<double>(report->dev.examples);
    outcome.metrics["train_seconds"] = report->train_seconds;
    outcome.metrics["params"] = static_cast<double>(encoder->parameter_count());
    outcome.metrics["final_loss"] = report->last_loss;
    outcome.metrics["unk_rate"] = report->unk_rate;
    outcome.artifacts.push_back({"finetune.json", out});
    return outcome;
  } catch (...) {
    return model::trial_failure("fine-tuning");
  }
}

}  // namespace autodistill::finetune
