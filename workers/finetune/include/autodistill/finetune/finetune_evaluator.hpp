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
// Other top-level keys belong to other evaluators and are ignored; an
// unknown key inside "finetune" is an error.
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
#include "autodistill/study_settings.hpp"
#include "autodistill/worker/evaluator.hpp"

namespace autodistill::finetune {

// settings.finetune as the one settings codec reads it (study_settings.hpp:
// the model's source and digests, the task digest, the options as
// knobs.*, knobs.threads: intra-op threads, 0 keeps the worker's setting),
// and the options mapped onto FinetuneOptions (device comes from the worker).
struct FinetuneSettings : FinetuneSection {
  FinetuneOptions options;
};

// Parses a settings_json object through the codec (docs/distillation.md
// "Finetune trials"): settings.finetune must be there; every section is
// checked as the daemon checks it at submit. kInvalidArgument with field
// "settings.finetune" (missing) or "settings.finetune.<key>" for a missing,
// unknown, mistyped or out-of-range key (the codec's ranges; a digest must
// be 64 lower-case hex digits, a file name a plain name); kMalformed when
// the text is not a JSON object.
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
