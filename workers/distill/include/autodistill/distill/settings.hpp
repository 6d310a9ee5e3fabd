#pragma once
// The distillation settings a study passes to its distill trials (the
// study's "settings" object, wire settings_json; docs/distillation.md
// "Settings"), read through the one settings codec
// (autodistill/study_settings.hpp) and mapped onto this worker's options:
//
//   {"distill": {"flash_steps": 200, "batch_size": 32, ...},
//    "student": {"vocab_size": 30522, "max_positions": 512, "num_stacked_ffn": 2},
//    "probe":   {...}}  (Regular trials: the candidate's probe measurement)
//
// "distill" holds this worker's knobs; "student" (shared with the probe
// worker and the BO engine, docs/probe.md) the teacher-derived sizes, any
// architecture factor the design space leaves out, and the template
// options. Every section the codec knows is checked as the daemon checks it
// at submit, so a trial refuses exactly what a submit refuses; other
// top-level keys belong to other evaluators and are ignored.
//
// Thread-safety: plain values and a pure function.

#include <optional>
#include <string_view>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/status.hpp"
#include "autodistill/study_settings.hpp"

namespace autodistill::distill {

struct DistillSettings {
  // settings.distill as read (defaults: the codec's, equal to DistillOptions').
  DistillKnobs knobs;
  // The knobs mapped onto DistillOptions (steps: Flash's; the evaluator sets
  // the trial kind's steps and the device).
  DistillOptions options;
  // settings.student: sizes and factors by key, and the template options.
  StudentSettings student;
  // settings.probe: the candidate's completed probe measurement (Regular
  // trials the daemon built); none otherwise.
  std::optional<ProbeHandoff> probe;
};

// Parses a settings_json object ("" means {}). kInvalidArgument naming the
// key ("settings.distill.<key>", "settings.student.<key>", ...) for an
// unknown key, a wrong type or a value out of range (the codec's ranges,
// docs/distillation.md "Settings"); kMalformed (field "settings") when the
// text is not a bounded JSON object.
Result<DistillSettings> parse_distill_settings(std::string_view settings_json);

}  // namespace autodistill::distill
