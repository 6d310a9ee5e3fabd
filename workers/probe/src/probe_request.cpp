#include "autodistill/probe/probe_request.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/student_settings.hpp"

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

constexpr int64_t kMaxSize = int64_t{1} << 40;

Status read_student(const json& student, StudentArch& arch, std::set<std::string>& fixed) {
  if (!student.is_object()) return invalid("must be an object", "settings.student");
  std::map<std::string, int64_t*> fields = {{"vocab_size", &arch.vocab_size},
                                            {"max_positions", &arch.max_positions},
                                            {"type_vocab_size", &arch.type_vocab_size},
                                            {"num_blocks", &arch.num_blocks},
                                            {"hidden_size", &arch.hidden_size},
                                            {"bottleneck_size", &arch.bottleneck_size},
                                            {"num_heads", &arch.num_heads},
                                            {"intermediate_size", &arch.intermediate_size},
                                            {"num_stacked_ffn", &arch.num_stacked_ffn}};
  for (const auto& [key, value] : student.items()) {
    const std::string field = "settings.student." + key;
    if (is_student_option(key)) {
      if (Status s = set_student_option(arch, key, value); !s) return s;
      continue;
    }
    auto it = fields.find(key);
    if (it == fields.end()) return invalid("unknown key \"" + key + "\"", field);
    auto n = whole(value, 0, kMaxSize, field);
    if (!n) return n.status();
    *it->second = n.value();
    fixed.insert(key);
  }
  return Status::ok();
}

Status read_serving(const json& serving, ServingSetting& s) {
  if (!serving.is_object()) return invalid("must be an object", "settings.serving");
  for (const auto& [key, value] : serving.items()) {
    const std::string field = "settings.serving." + key;
    if (key == "batch_size" || key == "seq_len" || key == "threads") {
      auto n = whole(value, 1, key == "threads" ? 4096 : kMaxSize, field);
      if (!n) return n.status();
      if (key == "batch_size") s.batch_size = n.value();
      if (key == "seq_len") s.seq_len = n.value();
      if (key == "threads") s.threads = static_cast<int>(n.value());
    } else if (key == "device") {
      if (!value.is_string()) return invalid("must be a string", field);
      s.device = value.get<std::string>();
      const bool cuda_index = s.device.rfind("cuda:", 0) == 0 && s.device.size() > 5 &&
                              s.device.find_first_not_of("0123456789", 5) == std::string::npos;
      if (s.device != "cpu" && s.device != "cuda" && !cuda_index) {
        return invalid("unknown device \"" + s.device + "\" (want cpu, cuda or cuda:N)", field);
      }
    } else if (key == "throughput_batch_sizes") {
      if (!value.is_array()) return invalid("must be an array of batch sizes", field);
      for (size_t i = 0; i < value.size(); ++i) {
        auto n = whole(value[i], 1, kMaxSize, field + "[" + std::to_string(i) + "]");
        if (!n) return n.status();
        s.throughput_batch_sizes.push_back(n.value());
      }
      std::sort(s.throughput_batch_sizes.begin(), s.throughput_batch_sizes.end());
      s.throughput_batch_sizes.erase(
          std::unique(s.throughput_batch_sizes.begin(), s.throughput_batch_sizes.end()),
          s.throughput_batch_sizes.end());
    } else {
      return invalid("unknown key \"" + key + "\"", field);
    }
  }
  return Status::ok();
}

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
  if (!settings_json.empty()) {
    auto parsed = parse_json(settings_json, "settings_json");
    if (!parsed) return parsed.status();
    const json& settings = parsed.value();
    if (!settings.is_object()) {
      return invalid("the study settings are not a JSON object", "settings_json");
    }
    if (auto it = settings.find("student"); it != settings.end()) {
      if (Status s = read_student(*it, request.arch, fixed); !s) return s;
    }
    if (auto it = settings.find("serving"); it != settings.end()) {
      if (Status s = read_serving(*it, request.serving); !s) return s;
    }
  }

  for (const auto& [name, value] : factors) {
    const std::string field = "params." + name;
    if (!is_architecture_factor(name)) {
      return invalid("unknown factor \"" + name +
                         "\" (a student has num_blocks, hidden_size, bottleneck_size, "
                         "num_heads, intermediate_size, num_stacked_ffn)",
                     field);
    }
    if (auto n = whole(json(value), 0, kMaxSize, field); !n) {
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
