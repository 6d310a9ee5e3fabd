#pragma once
// The distillation settings a study passes to its distill trials (the
// study's "settings" object, wire settings_json; docs/distillation.md):
//
//   {"distill": {"flash_steps": 200, "batch_size": 32, ...},
//    "student": {"vocab_size": 30522, "max_positions": 512, "num_stacked_ffn": 2}}
//
// "distill" holds this worker's keys; "student" (shared with the probe
// worker and the BO engine, docs/probe.md) the teacher-derived sizes, any
// architecture factor the design space leaves out, and the template
// options (student_settings.hpp). Other top-level keys
// belong to other workers and are ignored; unknown keys inside these two
// objects are errors, so a misspelt key is reported.
//
// Thread-safety: plain values and a pure function.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill::distill {

struct DistillSettings {
  // Steps of a Flash trial and of a Regular trial (Regular: ~20x Flash, the
  // paper's 5 %). Defaults 200 and 4000.
  int64_t flash_steps = 200;
  int64_t regular_steps = 4000;
  // Everything else DistillOptions holds (steps is set from the trial kind;
  // device comes from the worker).
  DistillOptions options;
  // Intra-op threads for this trial; 0 keeps the worker's setting. Default 0.
  int64_t threads = 0;
  // Checkpoints (docs/distillation.md "Checkpoints"): one every
  // checkpoint_steps optimizer steps or checkpoint_minutes minutes,
  // whichever comes first (0 turns that trigger off; both 0: none), for
  // Regular trials, and Flash trials too when checkpoint_flash. Defaults
  // 1000, 10 and false.
  int64_t checkpoint_steps = 1000;
  double checkpoint_minutes = 10.0;
  bool checkpoint_flash = false;
  // Gangs (docs/distillation.md "Data parallelism"): the longest wait for
  // the rendezvous and for any collective (a silent peer fails the attempt
  // after this long), and the gradient bucket size. Defaults 300 s, 4 MiB.
  double gang_timeout_seconds = 300.0;
  double allreduce_bucket_mb = 4.0;
  // Fraction of the corpus's documents held out for evaluation, and the
  // seed choosing them. Defaults 0.05 and 0.
  double eval_fraction = 0.05;
  uint64_t split_seed = 0;
  // settings.student: architecture factors (num_blocks, hidden_size,
  // bottleneck_size, num_heads, intermediate_size, num_stacked_ffn) the
  // trial's params may override, and vocab_size, max_positions,
  // type_vocab_size, which must match the teacher. Empty by default.
  std::map<std::string, int64_t> student;
  // settings.student's template options (student_settings.hpp:
  // embedding_size, trigram_input, normalization_type,
  // use_bottleneck_attention, key_query_shared_bottleneck) on an otherwise
  // default architecture. Defaults: StudentArch's.
  StudentArch options_arch;
};

// Parses a settings_json object ("" means {}). Keys of "distill" (all
// optional): flash_steps, regular_steps, batch_size, seq_len,
// learning_rate, warmup_fraction, progressive_ratio, alpha, temperature,
// attention_weight, feature_weight, clip_norm, weight_decay, seed,
// eval_batches, eval_seed, eval_fraction, split_seed, threads,
// checkpoint_steps, checkpoint_minutes, checkpoint_flash,
// gang_timeout_seconds, allreduce_bucket_mb. Keys of
// "student": the six factors and vocab_size, max_positions,
// type_vocab_size, each a positive integer. kInvalidArgument with field
// "settings.distill.<key>" / "settings.student.<key>" for an unknown key, a
// wrong type or a value out of range; kMalformed when the text is not a
// JSON object.
Result<DistillSettings> parse_distill_settings(std::string_view settings_json);

}  // namespace autodistill::distill
