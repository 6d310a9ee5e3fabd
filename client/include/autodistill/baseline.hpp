#pragma once
// The default baseline of a Distill study: a MobileBERT-like student
// (Sun et al. 2020, MobileBERT-TINY's shape: hidden 512, bottleneck 128, 4
// heads, intermediate 512, 4 stacked FFNs, 24 blocks, designed for a
// BERT-large-sized teacher: hidden 1024, 24 layers) scaled to the teacher at
// hand and placed in the study's design space, so that found students can be
// compared with a well-known hand design (paper Table 2).
//
// Scaling rule, with r = teacher hidden_size / 1024:
//   num_blocks        = teacher num_hidden_layers   (24 for a 24-layer teacher)
//   hidden_size       = 512 * r                     (half the teacher's width)
//   bottleneck_size   = 128 * r                     (a quarter of hidden)
//   intermediate_size = 512 * r                     (4x the bottleneck)
//   num_heads         = 4,  num_stacked_ffn = 4     (MobileBERT's, width-free)
// then each value is snapped to the design space: an ordinal factor takes
// its value nearest in log scale (sizes scale multiplicatively; ties go to
// the smaller), an integer or continuous factor is clamped (and rounded).
// num_heads is then the value nearest 4 among those dividing the snapped
// bottleneck_size. A factor of the space that is not an architecture factor
// takes its middle value (ordinal: the middle of the sorted values,
// categorical: the first category, ranges: the midpoint). Architecture
// factors absent from the space are left out: the study's settings fix them.
//
// Thread-safety: pure functions, thread-safe.

#include <string>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill/study.hpp"

namespace autodistill {

// The teacher sizes the rule reads (transformers' BertConfig names).
struct TeacherShape {
  int64_t num_hidden_layers = 24;
  int64_t hidden_size = 1024;
};

// Reads num_hidden_layers and hidden_size from the text of a teacher's
// config.json. kInvalidArgument (field: the key) when either is missing or
// not a positive integer, or the text is not a JSON object.
Result<TeacherShape> parse_teacher_shape(const std::string& config_json);

// The MobileBERT-like baseline for `teacher` in the design space `factors`,
// sorted by factor name (the order parse_study_spec gives). kInvalidArgument
// (field: "factors[i]") when a factor has no values to choose from, or
// "baseline.num_heads" when no num_heads value divides the bottleneck.
Result<std::vector<ParamValue>> default_baseline(const TeacherShape& teacher,
                                                 const std::vector<Factor>& factors);

}  // namespace autodistill
