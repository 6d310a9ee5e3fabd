#pragma once
// A study's settings object (wire settings_json), typed: the one codec that
// reads and writes it, used by the daemon (checks at submit, the serving
// cache key, the probe handoff), the client and the workers (distill, probe,
// finetune), so that every reader sees the same keys, types, ranges and
// defaults (issue #15 item 4; docs/distillation.md "Settings",
// docs/study-spec.md "Settings"):
//
//   {"student":  {...},  the fixed sizes, factors and template options
//    "serving":  {...},  how students run in production (the probe)
//    "distill":  {...},  distillation knobs (the distillation worker)
//    "glue":     {...},  GLUE tasks and their Finetune options (the daemon)
//    "probe":    {...},  written by the daemon into a Regular trial's settings
//    "finetune": {...}}  written by the daemon into a Finetune trial's settings
//
// Every other top-level key is kept as it is and written back (other
// evaluators' settings: External studies pass settings to their own
// evaluators verbatim). Inside a section an unknown key, a wrong type or a
// value out of range is kInvalidArgument naming `prefix.<section>.<key>`
// (e.g. "spec.settings_json.distill.flash_steps" at submit,
// "settings.distill.flash_steps" in a worker). No LibTorch: the workers map
// these plain structs onto their own options.
//
// Thread-safety: plain values and pure functions.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/glue_settings.hpp"
#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill {

// settings.student: the sizes (vocab_size, max_positions, type_vocab_size)
// and architecture factors (num_blocks, ...) it fixes, and the template
// options (student_settings.hpp) on an otherwise default StudentArch.
struct StudentSettings {
  std::map<std::string, int64_t> sizes;  // given sizes and factors, by key
  StudentArch options;                   // the template options (the rest: defaults)
  std::set<std::string> given_options;   // which options were given
  // `arch` with the given sizes, factors and options set on it.
  void apply(StudentArch& arch) const;
};

// settings.serving (docs/probe.md): how the student runs in production.
struct ServingSettings {
  int64_t batch_size = 1;      // sequences per forward pass. Default 1.
  int64_t seq_len = 128;       // tokens per sequence. Default 128.
  int64_t threads = 1;         // intra-op threads of the forward pass. Default 1.
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N". Default "cpu".
  // Batch sizes whose throughput is measured too, ascending, no duplicates.
  std::vector<int64_t> throughput_batch_sizes;
  std::set<std::string> given;
};

// settings.distill (docs/distillation.md "Settings"): the distillation
// worker's knobs, defaults identical to its DistillOptions.
struct DistillKnobs {
  int64_t flash_steps = 200;
  int64_t regular_steps = 4000;
  int64_t batch_size = 32;
  int64_t seq_len = 128;
  double learning_rate = 1e-3;
  double warmup_fraction = 0.1;
  double progressive_ratio = 0.48;
  double alpha = 0.5;
  double temperature = 1.0;
  double attention_weight = 1.0;
  double feature_weight = 1.0;
  double clip_norm = 1.0;
  double weight_decay = 0.01;
  uint64_t seed = 0;
  int64_t eval_batches = 32;
  uint64_t eval_seed = 0;
  double eval_fraction = 0.05;
  uint64_t split_seed = 0;
  int64_t threads = 0;
  int64_t checkpoint_steps = 1000;
  double checkpoint_minutes = 10.0;
  bool checkpoint_flash = false;
  double gang_timeout_seconds = 300.0;
  double allreduce_bucket_mb = 4.0;
  std::set<std::string> given;
};

// The Finetune options (settings.glue's options, settings.finetune's besides
// model and task), defaults identical to the fine-tuner's FinetuneOptions.
struct FinetuneKnobs {
  int64_t epochs = 3;
  int64_t batch_size = 32;
  int64_t max_seq_len = 128;
  double learning_rate = 1e-4;
  double warmup_fraction = 0.1;
  double weight_decay = 0.01;
  double dropout = 0.1;
  std::string pooling = "mean";
  double clip_norm = 1.0;
  uint64_t seed = 0;
  int64_t max_train_examples = 0;
  int64_t threads = 0;
  std::set<std::string> given;
};

// settings.finetune of a Finetune trial (docs/distillation.md "Finetune
// trials"): the model ("teacher", a bundle digest, or file name -> digest),
// the task bundle digest, and the options.
struct FinetuneSection {
  enum class Source { kTeacher, kBundle, kFiles };
  Source source = Source::kTeacher;
  std::string bundle_digest;                 // kBundle
  std::map<std::string, std::string> files;  // kFiles
  std::string task_digest;
  FinetuneKnobs knobs;
};

// settings.probe of a Regular trial (daemon probe_handoff.hpp): the
// candidate's completed probe measurement.
struct ProbeHandoff {
  uint64_t trial_id = 0;
  std::string hardware_fingerprint;
  std::map<std::string, double> objectives;
  std::map<std::string, double> metrics;
};

struct StudySettings {
  std::optional<StudentSettings> student;
  std::optional<ServingSettings> serving;
  nlohmann::json serving_json;  // settings.serving as given (null: none)
  std::optional<DistillKnobs> distill;
  std::optional<GlueSettings> glue;
  std::optional<ProbeHandoff> probe;
  std::optional<FinetuneSection> finetune;
  nlohmann::json others = nlohmann::json::object();  // other top-level keys, kept

  // The serving setting's canonical JSON (sorted keys, as given), the probe
  // cache key's part; "{}" when there is none.
  std::string serving_key() const;
};

// Parses `json` (an object). `prefix` names the settings in errors
// ("spec.settings_json" -> "spec.settings_json.distill.flash_steps").
Result<StudySettings> parse_study_settings(const nlohmann::json& json,
                                           const std::string& prefix = "settings");
// Parses settings_json text ("" = {}): kMalformed (field `prefix`) when it
// is not a JSON object (bounded_json.hpp's limits), else as above.
Result<StudySettings> parse_study_settings_text(std::string_view text,
                                                const std::string& prefix = "settings");

// Writes settings back: the given keys of each present section, and the
// other top-level keys, so parse(to_json(s)) == s and a re-written settings
// object says what the original said.
nlohmann::json to_json(const StudySettings& settings);
nlohmann::json to_json(const StudentSettings& student);
nlohmann::json to_json(const ServingSettings& serving);
nlohmann::json to_json(const DistillKnobs& knobs);
nlohmann::json to_json(const FinetuneKnobs& knobs);
nlohmann::json to_json(const FinetuneSection& finetune);
nlohmann::json to_json(const ProbeHandoff& probe);
nlohmann::json to_json(const GlueSettings& glue);

// Section readers (`field` is the section's field, e.g. "settings.distill").
Result<StudentSettings> read_student_section(const nlohmann::json& json, const std::string& field);
Result<ServingSettings> read_serving_section(const nlohmann::json& json, const std::string& field);
Result<DistillKnobs> read_distill_section(const nlohmann::json& json, const std::string& field);
Result<FinetuneSection> read_finetune_section(const nlohmann::json& json, const std::string& field);
Result<ProbeHandoff> read_probe_section(const nlohmann::json& json, const std::string& field);
// Reads one Finetune option `key` into `knobs`; kInvalidArgument naming
// `field_prefix + key` for an unknown key, a wrong type or a value out of range.
Status read_finetune_knob(FinetuneKnobs& knobs, const std::string& key, const nlohmann::json& value,
                          const std::string& field_prefix);

// The reference of every section's keys (docs/distillation.md,
// docs/probe.md, docs/glue.md): one Markdown table per section with key,
// type, range and default, generated from the codec's tables; a test keeps
// the docs equal to it.
std::string settings_reference_markdown(const std::string& section);

}  // namespace autodistill
