#pragma once
// Flash and regular distillation (AutoDistill Sec. 3.3; MobileBERT's
// progressive knowledge transfer): one code path, different step budgets.
//
//  0. The student's embeddings (word, position, token type, LayerNorm) are
//     the teacher's, linearly resampled from the teacher's hidden width to
//     the student's (Sec. 3.3.2); the pre-training heads (MLM transform and
//     its LayerNorm, pooler, NSP classifier) are resampled the same way, and
//     the MLM decoder bias is copied. With equal widths these are copies.
//  1. Progressive transfer: for block k = 1..K, stage k trains block k
//     (and, in stage 1, the embeddings) with every other student parameter
//     frozen, on
//        attention_weight * L_MHA^k + feature_weight * L_FM^k
//     against teacher layer m(k) = ceil(k L / K) (a uniform map of K
//     blocks onto L layers). When the widths differ, a trained dense layer
//     maps the block's output to the teacher's width for L_FM (initialized
//     to linear interpolation; not part of the exported student).
//  2. Pre-training distillation: every parameter trains on
//        alpha * L_MLM + (1 - alpha) * L_MD(temperature) + L_NSP.
//  Steps: progressive / pre-training = progressive_ratio (the paper's 0.48),
//  split evenly over the K stages. Each stage and the pre-training phase has
//  its own LAMB state and a linear warm-up + decay schedule; gradients are
//  clipped to clip_norm.
//
// Thread-safety: a Distiller is used by one thread; the teacher may be
// shared by several distillers (it is only read).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/distill/evaluation.hpp"
#include "autodistill/distill/gradient_sync.hpp"
#include "autodistill/distill/lamb.hpp"
#include "autodistill/model/batch.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/student.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"

namespace autodistill::distill {

struct DistillOptions {
  // Optimizer steps in all (progressive stages + pre-training distillation).
  // Flash distillation uses about 5 % of regular distillation's steps. Default 1000.
  int64_t steps = 1000;
  // Progressive steps / pre-training-distillation steps; 0 skips progressive
  // transfer. Default 0.48 (the paper's 12k / 25k).
  double progressive_ratio = 0.48;
  // Sequences per batch and tokens per sequence. Defaults 32 and 128.
  int64_t batch_size = 32;
  int64_t seq_len = 128;
  // Peak learning rate of every phase's schedule. Default 1e-3.
  double learning_rate = 1e-3;
  // Fraction of each phase spent warming up. Default 0.1.
  double warmup_fraction = 0.1;
  LambOptions lamb;
  // Global gradient-norm clip. Default 1.0.
  double clip_norm = 1.0;
  // Weight of the MLM loss against the MLM-distillation loss, and the
  // distillation temperature. Defaults 0.5 and 1.0.
  double alpha = 0.5;
  double temperature = 1.0;
  // Weights of the attention and feature-map losses. Defaults 1.0.
  double attention_weight = 1.0;
  double feature_weight = 1.0;
  // Training data order and projection initialization. Default 0.
  uint64_t seed = 0;
  // Evaluation set: eval_batches batches of batch_size held-out examples,
  // drawn with eval_seed (keep it fixed within a study so every trial is
  // measured on the same examples). Defaults 32 and 0: the standard error
  // of an accuracy must stay below the gaps between students (at batch 32
  // x seq 32, 8 batches give ~1,100 masked positions, SE ~0.012, close to
  // the gaps; 32 batches halve it; bench/flash_fidelity).
  int64_t eval_batches = 32;
  uint64_t eval_seed = 0;
  // Copy and resample the teacher's embeddings and heads into the student
  // first. Default true.
  bool init_from_teacher = true;
  // Where student, teacher and batches live. Default CPU.
  at::Device device = at::kCPU;
};

// kInvalidArgument naming the option for values out of range.
Status validate(const DistillOptions& options);

// Teacher layer (1-based) that block `k` (1-based) of `blocks` learns from:
// ceil(k * layers / blocks).
int64_t teacher_layer_for(int64_t k, int64_t blocks, int64_t layers);

// Steps of each progressive stage and of pre-training distillation.
struct StepPlan {
  int64_t per_stage = 0;
  int64_t pretraining = 0;
};
StepPlan plan_steps(int64_t steps, double progressive_ratio, int64_t blocks);

// Writes the teacher's embeddings and pre-training heads, resampled to the
// student's width (step 0 above), into the student. kInvalidArgument when
// vocabulary, positions or token types differ.
Status init_student_from_teacher(model::Student& student, const model::Teacher& teacher);

struct Progress {
  int64_t step = 0;   // steps done (all phases)
  int64_t total = 0;  // steps planned
  std::string phase;  // "progressive 2/4" or "pretraining"
  double loss = 0.0;  // mean training loss over the last steps of this phase
  double learning_rate = 0.0;
};
// Called after every step; returning false cancels (kCancelled).
using ProgressFn = std::function<bool(const Progress&)>;

struct PhaseReport {
  std::string phase;
  int64_t steps = 0;
  double first_loss = 0.0;  // mean over the first tenth of the phase
  double last_loss = 0.0;   // mean over the last tenth
};

struct DistillReport {
  EvalResult eval;
  std::vector<PhaseReport> phases;
  int64_t steps = 0;
  double train_seconds = 0.0;
  double tokens_per_second = 0.0;  // real tokens per training second
  std::vector<double> losses;      // every step's training loss (the global batch's)
};

// Everything a distillation's future depends on at a step boundary, as
// CPU copies (a checkpoint; checkpoint.hpp writes and reads it): a
// distiller that restores it continues bit for bit like the one that took
// it (same device kind and thread count on the CPU).
struct TrainingState {
  // What training this is (set by the caller: architecture, settings,
  // teacher and corpus digests); a resuming trial compares it with its own.
  std::string identity;
  int64_t phase = 0;       // index in the schedule: stages 0..K-1 (if any), then pre-training
  int64_t phase_step = 0;  // steps of that phase done
  int64_t done = 0;        // steps done in all
  int64_t total = 0;       // steps planned in all
  std::vector<PhaseReport> finished;        // the phases before `phase`
  std::vector<double> losses;               // every step's training loss so far
  std::vector<model::NamedTensor> student;  // every parameter, named_parameters() order
  std::vector<model::NamedTensor>
      projections;                       // the feature-map projections ("projection.K.weight")
  std::vector<Lamb::Moments> optimizer;  // the phase's LAMB state (empty at phase_step 0)
  std::string data_state;                // the training batches' position (BatchLoader::save_state)
};

class Distiller {
 public:
  // Checks that student and teacher fit (vocabulary, positions, token
  // types; seq_len <= max positions), moves both to options.device,
  // resamples the embeddings (init_from_teacher), builds the projections
  // and the held-out evaluation set, and starts the batch loader.
  // `student`, `teacher`, `corpus` and `tokenizer` must outlive it; the
  // teacher must not need gradients.
  static Result<Distiller> create(model::Student& student, const model::Teacher& teacher,
                                  const model::Corpus& corpus,
                                  const model::WordPieceTokenizer& tokenizer,
                                  DistillOptions options);
  Distiller(Distiller&&) noexcept;
  Distiller& operator=(Distiller&&) noexcept;
  ~Distiller();

  // Stage k (0-based block) of progressive transfer for `steps` steps.
  Result<PhaseReport> progressive_stage(int64_t k, int64_t steps, const ProgressFn& progress = {});
  // Pre-training distillation for `steps` steps.
  Result<PhaseReport> pretraining(int64_t steps, const ProgressFn& progress = {});
  // The student on the held-out evaluation set.
  EvalResult evaluate() const;
  // The whole schedule (plan_steps), then evaluate(). After restore() it
  // continues where the state left off.
  Result<DistillReport> run(const ProgressFn& progress = {});
  // The schedule without the final evaluation (report.eval stays empty):
  // what a gang's ranks > 0 run.
  Result<DistillReport> train(const ProgressFn& progress = {});

  // The training state now: call it from the progress callback of run() or
  // train() (a step boundary), or before them. The data position costs a
  // brief pause of the batch loader. The batch loader's error when it failed.
  Result<TrainingState> snapshot() const;
  // Makes the next run() / train() continue from `state`, a snapshot of a
  // distiller of the same architecture, teacher, corpus, tokenizer and
  // options (identity is not checked here). kInvalidArgument, naming what
  // does not fit (a tensor, "phase", "optimizer", "data_state"), leaves
  // this distiller unchanged.
  Status restore(const TrainingState& state);

  // Data parallelism: every batch is the global batch; this rank trains on
  // its shard and `sync` sums the gradients over the ranks. nullptr (the
  // default) trains alone. `sync` must outlive the runs.
  void set_gradient_sync(GradientSync* sync);
  // The student's parameters, then the projections: what the ranks of a
  // gang must hold alike.
  std::vector<at::Tensor> trained_tensors() const;

 private:
  struct Impl;
  explicit Distiller(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::distill
