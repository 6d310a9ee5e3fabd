#include "autodistill/baseline.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "autodistill/bounded_json.hpp"

namespace autodistill {

namespace {

// MobileBERT's shape and the teacher width it was designed for.
constexpr double kReferenceTeacherHidden = 1024;
constexpr double kHidden = 512, kBottleneck = 128, kIntermediate = 512, kHeads = 4, kStacked = 4;

// The value of `factor` nearest `target`: log distance for ordinal values
// (ties go to the smaller value), clamping for ranges.
double snap(const Factor& factor, double target) {
  switch (factor.kind) {
    case FactorKind::kOrdinal: {
      double best = factor.values.front();
      double best_distance = INFINITY;
      for (double v : factor.values) {
        const double d =
            v > 0 && target > 0 ? std::abs(std::log(v / target)) : std::abs(v - target);
        if (d < best_distance || (d == best_distance && v < best)) {
          best = v;
          best_distance = d;
        }
      }
      return best;
    }
    case FactorKind::kInteger:
      return std::clamp(std::round(target), std::ceil(factor.low), std::floor(factor.high));
    case FactorKind::kContinuous:
      return std::clamp(target, factor.low, factor.high);
    case FactorKind::kCategorical:
      break;
  }
  return target;
}

// The candidate values of a factor, for the num_heads search.
std::vector<double> choices(const Factor& factor) {
  if (factor.kind == FactorKind::kOrdinal) return factor.values;
  std::vector<double> out;
  for (double v = std::ceil(factor.low); v <= std::floor(factor.high) && out.size() < 4096; ++v) {
    out.push_back(v);
  }
  return out;
}

ParamValue middle(const Factor& factor) {
  switch (factor.kind) {
    case FactorKind::kCategorical:
      return {factor.name, 0, factor.categories.front()};
    case FactorKind::kOrdinal: {
      std::vector<double> sorted = factor.values;
      std::sort(sorted.begin(), sorted.end());
      return {factor.name, sorted[(sorted.size() - 1) / 2], ""};
    }
    case FactorKind::kInteger:
      return {factor.name, std::floor((factor.low + factor.high) / 2), ""};
    case FactorKind::kContinuous:
      break;
  }
  return {factor.name, (factor.low + factor.high) / 2, ""};
}

}  // namespace

Result<TeacherShape> parse_teacher_shape(const std::string& config_json) {
  auto parsed = parse_json(config_json, "teacher");
  if (!parsed) {
    return Status(Code::kInvalidArgument, "the teacher's config.json: " + parsed.status().message(),
                  "teacher");
  }
  const nlohmann::json& config = parsed.value();
  if (!config.is_object()) {
    return Status(Code::kInvalidArgument, "the teacher's config.json is not a JSON object");
  }
  TeacherShape shape;
  for (auto [key, out] : {std::pair{"num_hidden_layers", &shape.num_hidden_layers},
                          std::pair{"hidden_size", &shape.hidden_size}}) {
    auto it = config.find(key);
    if (it == config.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) {
      return Status(Code::kInvalidArgument,
                    std::string("the teacher's config.json needs a positive integer ") + key, key);
    }
    *out = it->get<int64_t>();
  }
  return shape;
}

Result<std::vector<ParamValue>> default_baseline(const TeacherShape& teacher,
                                                 const std::vector<Factor>& factors) {
  const double r = static_cast<double>(teacher.hidden_size) / kReferenceTeacherHidden;
  const std::map<std::string, double> targets = {
      {"num_blocks", static_cast<double>(teacher.num_hidden_layers)},
      {"hidden_size", kHidden * r},
      {"bottleneck_size", kBottleneck * r},
      {"intermediate_size", kIntermediate * r},
      {"num_heads", kHeads},
      {"num_stacked_ffn", kStacked},
  };
  std::vector<ParamValue> out;
  const Factor* heads = nullptr;
  std::optional<double> bottleneck;
  for (size_t i = 0; i < factors.size(); ++i) {
    const Factor& f = factors[i];
    const bool empty = (f.kind == FactorKind::kOrdinal && f.values.empty()) ||
                       (f.kind == FactorKind::kCategorical && f.categories.empty()) ||
                       (f.kind != FactorKind::kOrdinal && f.kind != FactorKind::kCategorical &&
                        !(f.low <= f.high));
    if (empty) {
      return Status(Code::kInvalidArgument, "factor \"" + f.name + "\" has no values",
                    "factors[" + std::to_string(i) + "]");
    }
    auto target = targets.find(f.name);
    if (target == targets.end() || f.kind == FactorKind::kCategorical) {
      out.push_back(middle(f));
      continue;
    }
    const double value = snap(f, target->second);
    if (f.name == "num_heads") heads = &f;
    if (f.name == "bottleneck_size") bottleneck = value;
    out.push_back({f.name, value, ""});
  }
  if (heads != nullptr) {
    // The value nearest 4 that divides the bottleneck (a space without a
    // bottleneck factor fixes it in settings: then only the nearest counts).
    std::optional<double> best;
    for (double h : choices(*heads)) {
      if (h < 1) continue;
      if (bottleneck && std::fmod(*bottleneck, h) != 0) continue;
      if (!best || std::abs(h - kHeads) < std::abs(*best - kHeads) ||
          (std::abs(h - kHeads) == std::abs(*best - kHeads) && h < *best)) {
        best = h;
      }
    }
    if (!best) {
      return Status(Code::kInvalidArgument,
                    "no num_heads value of the design space divides the baseline's bottleneck",
                    "baseline.num_heads");
    }
    for (ParamValue& p : out) {
      if (p.name == "num_heads") p.number = *best;
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ParamValue& a, const ParamValue& b) { return a.name < b.name; });
  return out;
}

}  // namespace autodistill
