#pragma once
// Pre-trains a BERT teacher with the project's own code: MLM + NSP losses
// (Devlin et al. 2019) on the corpus's training split, LAMB with warm-up
// and linear decay, then an evaluation on the held-out split. Used by the
// tiny-teacher maker (tools/) for tests, the demo and benchmarks, since no
// real teacher can be downloaded here.
//
// Thread-safety: one call per teacher at a time.

#include <cstdint>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/distill/evaluation.hpp"
#include "autodistill/distill/lamb.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"

namespace autodistill::distill {

struct PretrainOptions {
  int64_t steps = 1000;           // optimizer steps. Default 1000.
  int64_t batch_size = 32;        // sequences per batch. Default 32.
  int64_t seq_len = 64;           // tokens per sequence. Default 64.
  double learning_rate = 2e-3;    // LAMB peak learning rate. Default 2e-3.
  double warmup_fraction = 0.05;  // of the steps. Default 0.05.
  LambOptions lamb;
  double clip_norm = 1.0;    // global gradient-norm clip. Default 1.0.
  uint64_t seed = 0;         // data order. Default 0.
  int64_t eval_batches = 8;  // held-out batches evaluated at the end. Default 8.
  uint64_t eval_seed = 0;    // chooses the held-out examples. Default 0.
};

struct PretrainReport {
  PhaseReport phase;
  EvalResult eval;
  double train_seconds = 0.0;
};

// Trains `teacher` in place (it must be trainable, e.g. from
// Teacher::create, and on the CPU). kInvalidArgument for bad options or a
// vocabulary larger than the teacher's; kCancelled when `progress` says so.
Result<PretrainReport> pretrain_teacher(model::Teacher& teacher, const model::Corpus& corpus,
                                        const model::WordPieceTokenizer& tokenizer,
                                        const PretrainOptions& options,
                                        const ProgressFn& progress = {});

}  // namespace autodistill::distill
