#pragma once
// Fine-tunes an encoder on a GLUE task and scores it on the dev set, the way
// BERT is fine-tuned for GLUE (Devlin et al. 2019, Sec. 4.1): a linear
// classification head (dropout before it) on the pooled [CLS] state
// (Pooling::kCls: the checkpoint's pooler, tanh(W h[CLS] + b)) or on the
// mean of the last hidden states over the real tokens (Pooling::kMean, the
// default: a distilled student's [CLS] state and pooler are trained by
// nothing but the weak NSP signal, and on the demo's students the pooler's
// tanh saturates on an almost constant [CLS] state, so no gradient reaches
// the encoder through it; docs/glue.md), every
// parameter trained with cross-entropy, AdamW (Loshchilov & Hutter 2019;
// bias-corrected moments, decoupled weight decay on weight matrices only,
// not on biases and LayerNorm parameters), linear warm-up then linear decay
// to 0, global gradient-norm clipping.
//
// Inputs are [CLS] A [SEP] (B [SEP]) with segment ids 0 for A, 1 for B,
// truncated longest-first to max_seq_len and padded per batch. The training
// order, the head's initialization and the dropout masks come from `seed`
// through a generator of their own, so a run is a pure function of the
// model, the task and the options (on the CPU, at a fixed thread count).
//
// Thread-safety: one call per encoder at a time (it trains the encoder in
// place); scores() is a pure function.

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "autodistill/finetune/encoder.hpp"
#include "autodistill/finetune/glue_task.hpp"
#include "autodistill/status.hpp"

namespace autodistill::finetune {

// What the classification head sits on.
enum class Pooling {
  kCls,   // the pooled [CLS] state (BERT's GLUE recipe)
  kMean,  // the mean of the last hidden states over the real tokens
};
// "cls" or "mean"; kInvalidArgument (field "pooling") otherwise.
Result<Pooling> parse_pooling(const std::string& name);
const char* to_string(Pooling pooling);

struct FinetuneOptions {
  int64_t epochs = 3;            // passes over the training set. Default 3.
  int64_t batch_size = 32;       // examples per step. Default 32.
  int64_t max_seq_len = 128;     // tokens per example, at most the model's positions. Default 128.
  double learning_rate = 1e-4;   // peak AdamW learning rate. Default 1e-4.
  double warmup_fraction = 0.1;  // share of the steps warming up. Default 0.1.
  double weight_decay = 0.01;    // AdamW decoupled decay of weight matrices. Default 0.01.
  double dropout = 0.1;          // on the pooled state before the head. Default 0.1.
  Pooling pooling = Pooling::kMean;  // what the head sits on. Default mean.
  double clip_norm = 1.0;            // global gradient-norm clip. Default 1.0.
  uint64_t seed = 0;                 // order, head initialization, dropout. Default 0.
  int64_t max_train_examples = 0;    // use only the first N training examples; 0: all. Default 0.
  at::Device device = at::kCPU;      // where to train (the encoder is moved there). Default CPU.
};

// Checks ranges (field: the option's name, e.g. "learning_rate").
Status validate(const FinetuneOptions& options);

// Classification scores of predictions against gold labels.
struct Scores {
  int64_t examples = 0;
  double accuracy = 0.0;
  // Binary tasks: F1 of the positive class (label index 1); other tasks:
  // the macro-F1.
  double f1 = 0.0;
  // The mean over labels of each label's F1 (0 for a label never predicted
  // nor present).
  double macro_f1 = 0.0;
  // confusion[gold][predicted].
  std::vector<std::vector<int64_t>> confusion;
};
Scores scores(const std::vector<int64_t>& gold, const std::vector<int64_t>& predicted,
              int64_t num_labels);
// {"examples", "accuracy", "f1", "macro_f1", "confusion"}: how finetune.json
// and `autodistill-finetune --json` write scores.
nlohmann::ordered_json scores_json(const Scores& s);
// {"epochs", "batch_size", "max_seq_len", "learning_rate", "warmup_fraction",
// "weight_decay", "dropout", "pooling", "seed"}: how finetune.json
// ("training") and `autodistill-finetune --json` ("options") write the
// recipe; each adds what it ran with (device, threads, results).
nlohmann::ordered_json options_json(const FinetuneOptions& options);

struct FinetuneReport {
  Scores dev;                  // the fine-tuned model on dev
  Scores majority;             // always answering majority_label, on dev
  int64_t majority_label = 0;  // the training set's most frequent label (lowest index on ties)
  int64_t steps = 0;
  int64_t train_examples = 0;
  int64_t truncated_examples = 0;  // train + dev examples cut to max_seq_len
  double unk_rate = 0.0;           // share of [UNK] among the training tokens
  double first_loss = 0.0;         // mean loss of the first tenth of the steps
  double last_loss = 0.0;          // ... and of the last tenth
  double train_seconds = 0.0;
};

struct FinetuneProgress {
  int64_t step = 0;
  int64_t total = 0;
  double loss = 0.0;  // mean of the last 20 steps
  double learning_rate = 0.0;
};
// Called after every step; returning false cancels (kCancelled).
using FinetuneProgressFn = std::function<bool(const FinetuneProgress&)>;

// Fine-tunes `encoder` in place on task.train and scores it on task.dev.
// kInvalidArgument for bad options (max_seq_len beyond the model's positions,
// a pair task on a model with one segment type); kCancelled; kTrialError when
// the loss stops being finite.
Result<FinetuneReport> fine_tune(Encoder& encoder, const GlueTask& task,
                                 const FinetuneOptions& options,
                                 const FinetuneProgressFn& progress = {});

}  // namespace autodistill::finetune
