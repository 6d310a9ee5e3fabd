#pragma once
// Finetune trials (wire TrialKind Finetune, role Distill): fine-tune a model
// on a GLUE task and report dev accuracy and F1 (docs/glue.md,
// docs/distillation.md). The trial's settings name both, as blob digests:
//
//   {"finetune": {"model": "teacher", "task": "<sha256 of a task bundle>",
//                 "epochs": 3, "batch_size": 32, "max_seq_len": 128, "learning_rate": 1e-4,
//                 "seed": 0}}
//
// "model" is "teacher" (the Assign's teacher_digest: a bundle of the teacher's
// checkpoint directory), the digest of a bundle (tar) of a model directory,
// or an object naming each file of a model directory by its digest (a
// delivered student's artifacts: {"config.json": "<sha256>",
// "model.safetensors": "<sha256>", "vocab.txt": "<sha256>"}). "task" is the
// digest of a bundle of a task directory (train.tsv, dev.tsv, task.json).
// Other top-level keys belong to other workers and are ignored; an unknown
// key inside "finetune" is an error.
//
// Objectives: "accuracy", "f1" (binary: the positive class's; otherwise the
// macro-F1), "macro_f1"; metrics: the majority baseline's accuracy, f1 and
// macro_f1 ("majority_accuracy", ...), steps, examples, seconds, the
// model's parameters, the last loss, the [UNK] rate. Artifact: finetune.json
// (the whole report, with the confusion matrix).
//
// Thread-safety: evaluate() may run on several slots at once.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "autodistill/finetune/finetuner.hpp"
#include "autodistill/status.hpp"
#include "autodistill/worker/evaluator.hpp"

namespace autodistill::finetune {

struct FinetuneSettings {
  // Which model: the study's teacher, a bundle digest, or files by digest.
  enum class Source { kTeacher, kBundle, kFiles };
  Source source = Source::kTeacher;
  std::string bundle_digest;                 // kBundle
  std::map<std::string, std::string> files;  // kFiles: file name -> digest
  std::string task_digest;                   // required
  FinetuneOptions options;                   // device comes from the worker
  // Intra-op threads for this trial; 0 keeps the worker's setting. Default 0.
  int64_t threads = 0;
};

// Parses a settings_json object. Keys of "finetune": model and task (both
// required), epochs, batch_size, max_seq_len, learning_rate,
// warmup_fraction, weight_decay, dropout, clip_norm, seed,
// max_train_examples, threads, pooling ("cls" or "mean"). kInvalidArgument with field
// "settings.finetune.<key>" for a missing, unknown, mistyped or out-of-range
// key (a digest must be 64 lower-case hex digits; a file name a plain name);
// kMalformed when the text is not a JSON object.
Result<FinetuneSettings> parse_finetune_settings(std::string_view settings_json);

struct FinetuneWorkerOptions {
  // Intra-op threads when a trial's settings do not say; 0: one per
  // hardware thread divided by the slots. Default 0.
  int64_t threads = 0;
  // Trials evaluated at once (for the default thread count). Default 1.
  uint32_t slots = 1;
  // "cpu" or "cuda" (already resolved). Default "cpu".
  std::string device = "cpu";
};

class FinetuneEvaluator : public worker::Evaluator {
 public:
  explicit FinetuneEvaluator(FinetuneWorkerOptions options);
  Result<worker::TrialOutcome> evaluate(worker::TrialContext& ctx) override;

 private:
  FinetuneWorkerOptions options_;
};

}  // namespace autodistill::finetune
