#pragma once
// The search space of a study, as the daemon receives it: named factors and
// validity rules. Plain data; `Space` (space.hpp) is the validated, compiled
// form the engine works on.
//
// A candidate is a `Point`: one double per factor, in factor order. Ordinal,
// integer and continuous factors hold the value itself (e.g. 512 for a hidden
// size); a categorical factor holds the index of its category.

#include <string>
#include <vector>

namespace autodistill::bo {

using Point = std::vector<double>;

enum class FactorKind {
  kOrdinal,      // ordered discrete numbers: `values`
  kCategorical,  // unordered labels: `categories`; the point holds an index
  kInteger,      // every integer in [low, high]
  kContinuous,   // every real number in [low, high]
};

// How a numeric factor is mapped onto [0, 1] for the GP kernel.
enum class Scale {
  kLinear,  // (v - min) / (max - min)
  kLog,     // (log v - log min) / (log max - log min); values must be > 0
};

struct Factor {
  std::string name;                        // unique within the space; required
  FactorKind kind = FactorKind::kOrdinal;  // default: ordered discrete
  std::vector<double> values;              // kOrdinal: distinct numbers, any order
  std::vector<std::string> categories;     // kCategorical: distinct labels
  double low = 0.0;                        // kInteger / kContinuous: low < high
  double high = 0.0;
  Scale scale = Scale::kLinear;  // encoding for the kernel; default linear
};

// `dividend`'s value must be a multiple of `divisor`'s value, e.g.
// {divisor = "num_heads", dividend = "bottleneck_size"}: the attention heads
// split the bottleneck width evenly. Both factors must be ordinal or integer
// with positive integral values.
struct DivisibilityRule {
  std::string divisor;
  std::string dividend;
};

struct DesignSpace {
  std::vector<Factor> factors;                 // at least one
  std::vector<DivisibilityRule> divisibility;  // default: none
};

// Factor names of the student template (paper Table 1, plus the block count).
// Factors with these names are sizes or counts: their values must be positive.
inline constexpr const char* kStudentFactorNames[] = {
    "num_blocks", "hidden_size",       "bottleneck_size",
    "num_heads",  "intermediate_size", "num_stacked_ffn",
};

// The paper's Table 1 space (hidden size 256 where the paper prints the typo
// 246) with `num_blocks` fixed to `blocks`, and the rule that heads divide the
// bottleneck width: 4 * 4 * 4 * 3 * 3 = 576 points.
DesignSpace table1_space(int blocks = 24);

}  // namespace autodistill::bo
