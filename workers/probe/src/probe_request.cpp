#include "autodistill/probe/probe_request.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "autodistill/study_settings.hpp"

namespace autodistill::probe {

namespace {

using nlohmann::json;

Status invalid(std::string message, std::string field) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}

bool is_architecture_factor(const std::string& name) {
  const auto& names = architecture_factor_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A whole number in [min, max] from a JSON value.
Result<int64_t> whole(const json& value, int64_t min, int64_t max, const std::string& field) {
  if (!value.is_number()) return invalid("must be a number", field);
  const double v = value.get<double>();
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(min) ||
      v > static_cast<double>(max)) {
    return invalid("must be a whole number in [" + std::to_string(min) + ", " +
                       std::to_string(max) + "], not " + value.dump(),
                   field);
  }
  return static_cast<int64_t>(v);
}

// The largest factor value read from a trial's params (validate() bounds
// the architecture further).
constexpr int64_t kMaxFactor = int64_t{1} << 40;

}  // namespace

const std::vector<std::string>& architecture_factor_names() {
  static const std::vector<std::string> names = {"num_blocks",        "hidden_size",
                                                 "bottleneck_size",   "num_heads",
                                                 "intermediate_size", "num_stacked_ffn"};
  return names;
}

Result<ProbeRequest> parse_probe_request(const std::map<std::string, double>& factors,
                                         const std::string& settings_json) {
  ProbeRequest request;
  std::set<std::string> fixed;  // set by settings.student
  auto settings = parse_study_settings_text(settings_json, "settings");
  if (!settings) {
    // Text that is not a JSON object is blamed on the whole settings, as before.
    if (settings.status().code() != Code::kMalformed) return settings.status();
    return invalid(settings.status().message(), "settings_json");
  }
  if (settings->student) {
    settings->student->apply(request.arch);
    for (const auto& [key, value] : settings->student->sizes) fixed.insert(key);
  }
  if (settings->serving) {
    const ServingSettings& v = *settings->serving;
    request.serving.batch_size = v.batch_size;
    request.serving.seq_len = v.seq_len;
    request.serving.threads = static_cast<int>(v.threads);
    request.serving.device = v.device;
    request.serving.throughput_batch_sizes = v.throughput_batch_sizes;
  }

  for (const auto& [name, value] : factors) {
    const std::string field = "params." + name;
    if (!is_architecture_factor(name)) {
      return invalid("unknown factor \"" + name +
                         "\" (a student has num_blocks, hidden_size, bottleneck_size, "
                         "num_heads, intermediate_size, num_stacked_ffn)",
                     field);
    }
    if (auto n = whole(json(value), 0, kMaxFactor, field); !n) {
      return invalid("factor " + name + " " + n.status().message(), field);
    }
  }
  request.arch = student_from_factors(factors, request.arch);
  for (const std::string& name : architecture_factor_names()) {
    if (factors.count(name) == 0 && fixed.count(name) == 0) {
      return invalid("the architecture lacks factor \"" + name +
                         "\" (give it in the design space or in settings.student)",
                     "params");
    }
  }
  if (Status s = validate(request.arch); !s) {
    const std::string field =
        factors.count(s.field()) ? "params." + s.field() : "settings.student." + s.field();
    return invalid("invalid architecture: " + s.message(), field);
  }
  if (request.serving.seq_len > request.arch.max_positions) {
    return invalid("seq_len (" + std::to_string(request.serving.seq_len) +
                       ") exceeds the student's max_positions (" +
                       std::to_string(request.arch.max_positions) + ")",
                   "settings.serving.seq_len");
  }
  return request;
}

}  // namespace autodistill::probe
