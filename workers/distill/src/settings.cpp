#include "autodistill/distill/settings.hpp"

namespace autodistill::distill {

Result<DistillSettings> parse_distill_settings(std::string_view settings_json) {
  auto parsed = parse_study_settings_text(settings_json, "settings");
  if (!parsed) return parsed.status();
  DistillSettings s;
  if (parsed->distill) s.knobs = *parsed->distill;
  if (parsed->student) s.student = *parsed->student;
  s.probe = parsed->probe;
  const DistillKnobs& k = s.knobs;
  DistillOptions& o = s.options;
  o.steps = k.flash_steps;
  o.progressive_ratio = k.progressive_ratio;
  o.batch_size = k.batch_size;
  o.seq_len = k.seq_len;
  o.learning_rate = k.learning_rate;
  o.warmup_fraction = k.warmup_fraction;
  o.lamb.weight_decay = k.weight_decay;
  o.clip_norm = k.clip_norm;
  o.alpha = k.alpha;
  o.temperature = k.temperature;
  o.attention_weight = k.attention_weight;
  o.feature_weight = k.feature_weight;
  o.seed = k.seed;
  o.eval_batches = k.eval_batches;
  o.eval_seed = k.eval_seed;
  return s;
}

}  // namespace autodistill::distill
