#pragma once
// The distillation worker's trial evaluator (role Distill, trial kinds
// Flash and Regular): it fetches the teacher (a bundle of a Hugging Face
// checkpoint directory) and the corpus by digest, builds the student from
// the trial's factors, distills it (steps from the kind), evaluates it on
// the held-out split and uploads it as artifacts. Long trials checkpoint in
// the background and resume from Assign.resume; a gang trial trains
// data-parallel with its peers (docs/distillation.md "Checkpoints", "Data
// parallelism"). Objectives: "accuracy"
// (= MLM accuracy), "mlm_accuracy", "nsp_accuracy"; metrics include the
// parameter count, the evaluation losses, steps and throughput. Progress
// (phase, loss, learning rate) goes out with every heartbeat.
//
// Thread-safety: evaluate() may run on several slots at once; loaded
// teachers and corpus indexes are cached by digest and shared read-only
// (the first trial that needs one loads it while the others wait).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "autodistill/finetune/finetune_evaluator.hpp"
#include "autodistill/worker/evaluator.hpp"

namespace autodistill::distill {

struct DistillWorkerOptions {
  // Intra-op threads when a trial's settings do not say; 0: one per
  // hardware thread divided by the slots. Default 0. (LibTorch's intra-op
  // pool is process-wide: concurrent trials share the latest setting.)
  int64_t threads = 0;
  // "auto" (CUDA when LibTorch sees a GPU, else CPU), "cpu" or "cuda". Default "auto".
  std::string device = "auto";
  // Trials evaluated at once (for the default thread count). Default 1.
  uint32_t slots = 1;
  // Loaded teachers kept in memory (least recently used dropped). Default 2.
  size_t teacher_cache = 2;
  // This worker's address for the other ranks of a gang (docs/distillation.md
  // "Data parallelism"): rank 0's rendezvous store listens on it, every
  // rank's gloo connections bind to it. Default "127.0.0.1" (one host).
  std::string gang_host = "127.0.0.1";
};

// Resolves DistillWorkerOptions::device: kInvalidArgument for an unknown
// name, kFailedPrecondition for "cuda" without a GPU. Returns "cpu" or "cuda".
Result<std::string> resolve_device(const std::string& name);

class DistillEvaluator : public worker::Evaluator {
 public:
  explicit DistillEvaluator(DistillWorkerOptions options);
  ~DistillEvaluator() override;
  Result<worker::TrialOutcome> evaluate(worker::TrialContext& ctx) override;

 private:
  struct Cache;
  DistillWorkerOptions options_;
  std::unique_ptr<Cache> cache_;
  finetune::FinetuneEvaluator finetune_;
};

}  // namespace autodistill::distill
