#include "autodistill/study_json.hpp"

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>

#include "autodistill/bounded_json.hpp"

namespace autodistill {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Status invalid(const std::string& field, const std::string& message) {
  return Status(Code::kInvalidArgument, message, field);
}

const char* type_word(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

Status wrong_type(const std::string& field, const char* want, const json& got) {
  return invalid(field, std::string("expected ") + want + ", got " + type_word(got));
}

// Rejects keys outside `allowed`, so a misspelt key is an error rather than
// a silent default.
Status check_keys(const json& object, const std::string& path,
                  std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) return invalid(join(path, key), "unknown key \"" + key + "\"");
  }
  return Status::ok();
}

// Readers for one member of an object: `required` members must exist; an
// absent optional member leaves `out` unchanged.
Status read_string(const json& object, const std::string& path, const char* key, bool required,
                   std::string& out) {
  auto it = object.find(key);
  if (it == object.end()) {
    return required ? invalid(join(path, key), "missing required key") : Status::ok();
  }
  if (!it->is_string()) return wrong_type(join(path, key), "a string", *it);
  out = it->get<std::string>();
  return Status::ok();
}

Status read_number(const json& value, const std::string& field, double& out) {
  if (!value.is_number()) return wrong_type(field, "a number", value);
  out = value.get<double>();
  return Status::ok();
}

Status read_integer(const json& value, const std::string& field, double& out) {
  if (!value.is_number_integer()) return wrong_type(field, "an integer", value);
  out = value.is_number_unsigned() ? static_cast<double>(value.get<uint64_t>())
                                   : static_cast<double>(value.get<int64_t>());
  return Status::ok();
}

template <class T>
Status read_unsigned(const json& object, const std::string& path, const char* key, T& out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  const std::string field = join(path, key);
  if (!it->is_number_integer()) return wrong_type(field, "a non-negative integer", *it);
  if (!it->is_number_unsigned()) return invalid(field, "must not be negative");
  uint64_t value = it->get<uint64_t>();
  if (value > std::numeric_limits<T>::max()) {
    return invalid(field, "must be at most " + std::to_string(std::numeric_limits<T>::max()));
  }
  out = static_cast<T>(value);
  return Status::ok();
}

template <class Fn>
Status read_array(const json& object, const std::string& path, const char* key, bool required,
                  Fn&& each) {
  auto it = object.find(key);
  const std::string field = join(path, key);
  if (it == object.end()) {
    return required ? invalid(field, "missing required key") : Status::ok();
  }
  if (!it->is_array()) return wrong_type(field, "an array", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    if (Status s = each((*it)[i], index(field, i)); !s) return s;
  }
  return Status::ok();
}

Status parse_factor(const json& value, const std::string& path, Factor& factor) {
  if (!value.is_object()) return wrong_type(path, "an object", value);
  if (Status s = read_string(value, path, "name", true, factor.name); !s) return s;
  std::string kind;
  if (Status s = read_string(value, path, "kind", true, kind); !s) return s;
  auto parsed = parse_factor_kind(kind);
  if (!parsed) {
    return invalid(join(path, "kind"), "unknown factor kind \"" + kind +
                                           "\" (want ordinal, categorical, integer or continuous)");
  }
  factor.kind = *parsed;
  switch (factor.kind) {
    case FactorKind::kOrdinal:
      if (Status s = check_keys(value, path, {"name", "kind", "values"}); !s) return s;
      return read_array(value, path, "values", true, [&](const json& v, const std::string& f) {
        double number = 0;
        if (Status s = read_number(v, f, number); !s) return s;
        factor.values.push_back(number);
        return Status::ok();
      });
    case FactorKind::kCategorical:
      if (Status s = check_keys(value, path, {"name", "kind", "categories"}); !s) return s;
      return read_array(value, path, "categories", true, [&](const json& v, const std::string& f) {
        if (!v.is_string()) return wrong_type(f, "a string", v);
        factor.categories.push_back(v.get<std::string>());
        return Status::ok();
      });
    case FactorKind::kInteger:
    case FactorKind::kContinuous: {
      if (Status s = check_keys(value, path, {"name", "kind", "low", "high"}); !s) return s;
      auto read = factor.kind == FactorKind::kInteger ? read_integer : read_number;
      for (auto [key, out] : {std::pair{"low", &factor.low}, std::pair{"high", &factor.high}}) {
        auto it = value.find(key);
        if (it == value.end()) return invalid(join(path, key), "missing required key");
        if (Status s = read(*it, join(path, key), *out); !s) return s;
      }
      return Status::ok();
    }
  }
  return Status::ok();
}

Status parse_objective(const json& value, const std::string& path, Objective& objective) {
  if (!value.is_object()) return wrong_type(path, "an object", value);
  if (Status s = check_keys(value, path, {"name", "direction", "transform", "reference"}); !s)
    return s;
  if (Status s = read_string(value, path, "name", true, objective.name); !s) return s;
  std::string direction;
  if (Status s = read_string(value, path, "direction", true, direction); !s) return s;
  auto parsed = parse_direction(direction);
  if (!parsed) {
    return invalid(join(path, "direction"),
                   "unknown direction \"" + direction + "\" (want minimize or maximize)");
  }
  objective.direction = *parsed;
  if (value.contains("transform")) {
    std::string transform;
    if (Status s = read_string(value, path, "transform", false, transform); !s) return s;
    auto t = parse_objective_transform(transform);
    if (!t) {
      return invalid(join(path, "transform"),
                     "unknown transform \"" + transform + "\" (want none, log or auto)");
    }
    objective.transform = *t;
  }
  if (auto it = value.find("reference"); it != value.end()) {
    const std::string field = join(path, "reference");
    if (it->is_string()) {
      if (*it != "baseline") {
        return invalid(field,
                       "want a number or \"baseline\", got \"" + it->get<std::string>() + "\"");
      }
      objective.reference_baseline = true;
    } else {
      double reference = 0;
      if (!it->is_number()) return wrong_type(field, "a number or \"baseline\"", *it);
      if (Status s = read_number(*it, field, reference); !s) return s;
      objective.reference = reference;
    }
  }
  return Status::ok();
}

Status parse_constraint(const json& value, const std::string& path, Constraint& constraint) {
  if (!value.is_object()) return wrong_type(path, "an object", value);
  if (Status s = check_keys(value, path, {"metric", "le", "ge"}); !s) return s;
  if (Status s = read_string(value, path, "metric", true, constraint.metric); !s) return s;
  const bool le = value.contains("le");
  const bool ge = value.contains("ge");
  if (le == ge) return invalid(path, "needs exactly one bound: \"le\" or \"ge\"");
  constraint.comparison = le ? Comparison::kLessEqual : Comparison::kGreaterEqual;
  const char* key = le ? "le" : "ge";
  return read_number(value.at(key), join(path, key), constraint.bound);
}

// A digest member: absent or "" means none; otherwise 64 lower-case hex.
Status read_digest(const json& object, const char* key, std::string& out) {
  if (Status s = read_string(object, "", key, false, out); !s) return s;
  if (out.empty()) return Status::ok();
  if (out.size() != 64 || out.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return invalid(key, std::string("not a sha256 digest (64 lower-case hex digits); upload the "
                                    "file first, e.g. autodistill submit --") +
                            key + " PATH");
  }
  return Status::ok();
}

// The baseline architecture: an object of factor name -> number (or string,
// for a categorical factor). Parsed in key order, so the parsed baseline is
// sorted by name.
Status parse_baseline(const json& value, std::vector<ParamValue>& out) {
  if (!value.is_object()) return wrong_type("baseline", "an object", value);
  for (const auto& [name, v] : value.items()) {
    const std::string field = join("baseline", name);
    if (v.is_string()) {
      out.push_back({name, 0, v.get<std::string>()});
    } else if (v.is_number()) {
      out.push_back({name, v.get<double>(), ""});
    } else {
      return wrong_type(field, "a number or a string", v);
    }
  }
  return Status::ok();
}

Status parse_selection(const json& value, Selection& out) {
  const std::string path = "selection";
  if (!value.is_object()) return wrong_type(path, "an object", value);
  if (Status s = check_keys(value, path, {"rule", "k", "metric"}); !s) return s;
  std::string rule;
  if (Status s = read_string(value, path, "rule", true, rule); !s) return s;
  auto parsed = parse_selection_rule(rule);
  if (!parsed) {
    return invalid("selection.rule",
                   "unknown selection rule \"" + rule + "\" (want pareto or top_k)");
  }
  out.rule = *parsed;
  if (Status s = read_unsigned(value, path, "k", out.k); !s) return s;
  return read_string(value, path, "metric", false, out.metric);
}

Status parse_spec(const json& root, StudySpec& spec) {
  if (!root.is_object()) return wrong_type("", "a JSON object", root);
  if (Status s = check_keys(root, "",
                            {"name",
                             "kind",
                             "factors",
                             "objectives",
                             "constraints",
                             "teacher",
                             "corpus",
                             "hardware_tag",
                             "max_trials",
                             "parallelism",
                             "max_attempts",
                             "algorithm",
                             "seed",
                             "settings",
                             "warm_start_study",
                             "baseline",
                             "selection",
                             "max_wall_seconds",
                             "skip_dominated_flash",
                             "regular_ranks"});
      !s) {
    return s;
  }
  if (Status s = read_string(root, "", "name", false, spec.name); !s) return s;
  if (root.contains("kind")) {
    std::string kind;
    if (Status s = read_string(root, "", "kind", false, kind); !s) return s;
    auto parsed = parse_study_kind(kind);
    if (!parsed)
      return invalid("kind", "unknown study kind \"" + kind + "\" (want distill or external)");
    spec.kind = *parsed;
  }
  Status s = read_array(root, "", "factors", false, [&](const json& v, const std::string& f) {
    return parse_factor(v, f, spec.factors.emplace_back());
  });
  if (!s) return s;
  s = read_array(root, "", "objectives", false, [&](const json& v, const std::string& f) {
    return parse_objective(v, f, spec.objectives.emplace_back());
  });
  if (!s) return s;
  s = read_array(root, "", "constraints", false, [&](const json& v, const std::string& f) {
    return parse_constraint(v, f, spec.constraints.emplace_back());
  });
  if (!s) return s;
  if (s = read_digest(root, "teacher", spec.teacher_digest); !s) return s;
  if (s = read_digest(root, "corpus", spec.corpus_digest); !s) return s;
  if (s = read_string(root, "", "hardware_tag", false, spec.hardware_tag); !s) return s;
  if (s = read_unsigned(root, "", "max_trials", spec.max_trials); !s) return s;
  if (s = read_unsigned(root, "", "parallelism", spec.parallelism); !s) return s;
  if (s = read_unsigned(root, "", "max_attempts", spec.max_attempts); !s) return s;
  if (s = read_unsigned(root, "", "regular_ranks", spec.regular_ranks); !s) return s;
  if (s = read_string(root, "", "algorithm", false, spec.algorithm); !s) return s;
  if (s = read_unsigned(root, "", "seed", spec.seed); !s) return s;
  if (auto it = root.find("settings"); it != root.end()) {
    if (!it->is_object()) return wrong_type("settings", "an object", *it);
    spec.settings_json = it->dump();
  }
  if (s = read_unsigned(root, "", "warm_start_study", spec.warm_start_study); !s) return s;
  if (auto it = root.find("baseline"); it != root.end()) {
    if (s = parse_baseline(*it, spec.baseline); !s) return s;
  }
  if (auto it = root.find("selection"); it != root.end()) {
    if (s = parse_selection(*it, spec.selection.emplace()); !s) return s;
  }
  if (s = read_unsigned(root, "", "max_wall_seconds", spec.max_wall_seconds); !s) return s;
  if (auto it = root.find("skip_dominated_flash"); it != root.end()) {
    if (!it->is_boolean()) return wrong_type("skip_dominated_flash", "a boolean", *it);
    spec.skip_dominated_flash = it->get<bool>();
  }
  return Status::ok();
}

// A float as the shortest decimal that reads back as the same float, so
// 0.3f renders as 0.3 rather than 0.30000001192092896.
double tidy(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.7g", static_cast<double>(value));
  return std::strtod(text, nullptr);
}

ojson metrics_json(const std::vector<Metric>& metrics) {
  ojson out = ojson::object();
  for (const Metric& m : metrics) out[m.name] = m.value;
  return out;
}

ojson spec_json(const StudySpec& spec) {
  ojson out;
  out["name"] = spec.name;
  out["kind"] = to_string(spec.kind);
  out["factors"] = ojson::array();
  for (const Factor& f : spec.factors) {
    ojson factor;
    factor["name"] = f.name;
    factor["kind"] = to_string(f.kind);
    switch (f.kind) {
      case FactorKind::kOrdinal:
        factor["values"] = f.values;
        break;
      case FactorKind::kCategorical:
        factor["categories"] = f.categories;
        break;
      case FactorKind::kInteger:
        factor["low"] = static_cast<int64_t>(f.low);
        factor["high"] = static_cast<int64_t>(f.high);
        break;
      case FactorKind::kContinuous:
        factor["low"] = f.low;
        factor["high"] = f.high;
        break;
    }
    out["factors"].push_back(std::move(factor));
  }
  out["objectives"] = ojson::array();
  for (const Objective& o : spec.objectives) {
    ojson objective{{"name", o.name}, {"direction", to_string(o.direction)}};
    // Present only when set, so older specs render (and key) as before.
    if (o.transform != ObjectiveTransform::kAuto) objective["transform"] = to_string(o.transform);
    if (o.reference) objective["reference"] = *o.reference;
    if (o.reference_baseline) objective["reference"] = "baseline";
    out["objectives"].push_back(std::move(objective));
  }
  out["constraints"] = ojson::array();
  for (const Constraint& c : spec.constraints) {
    const char* key = c.comparison == Comparison::kLessEqual ? "le" : "ge";
    out["constraints"].push_back({{"metric", c.metric}, {key, c.bound}});
  }
  if (!spec.teacher_digest.empty()) out["teacher"] = spec.teacher_digest;
  if (!spec.corpus_digest.empty()) out["corpus"] = spec.corpus_digest;
  out["hardware_tag"] = spec.hardware_tag;
  out["max_trials"] = spec.max_trials;
  out["parallelism"] = spec.parallelism;
  out["max_attempts"] = spec.max_attempts;
  if (spec.regular_ranks != 0) out["regular_ranks"] = spec.regular_ranks;
  out["algorithm"] = spec.algorithm;
  out["seed"] = spec.seed;
  if (!spec.settings_json.empty()) {
    // Settings that are not bounded JSON (possible from a daemon, not from a
    // spec file) are shown as the string they are.
    auto settings = parse_json<ojson>(spec.settings_json, "settings");
    out["settings"] = settings ? std::move(settings.value()) : ojson(spec.settings_json);
  }
  // The fields added with warm start and baselines appear only when set, so
  // a spec that does not use them renders exactly as before (and keeps the
  // idempotency key `submit` derives from it).
  if (spec.warm_start_study != 0) out["warm_start_study"] = spec.warm_start_study;
  if (!spec.baseline.empty()) {
    ojson baseline = ojson::object();
    for (const ParamValue& p : spec.baseline) {
      baseline[p.name] = p.category.empty() ? ojson(p.number) : ojson(p.category);
    }
    out["baseline"] = std::move(baseline);
  }
  if (spec.selection) {
    ojson selection{{"rule", to_string(spec.selection->rule)}};
    if (spec.selection->k != 0) selection["k"] = spec.selection->k;
    if (!spec.selection->metric.empty()) selection["metric"] = spec.selection->metric;
    out["selection"] = std::move(selection);
  }
  if (spec.max_wall_seconds != 0) out["max_wall_seconds"] = spec.max_wall_seconds;
  if (spec.skip_dominated_flash) out["skip_dominated_flash"] = true;
  return out;
}

ojson study_json(const StudyInfo& study) {
  ojson out;
  out["study_id"] = study.study_id;
  out["idempotency_key"] = study.idempotency_key;
  out["spec"] = spec_json(study.spec);
  out["state"] = to_string(study.state);
  out["message"] = study.message;
  out["created_ms"] = study.created_ms;
  out["updated_ms"] = study.updated_ms;
  out["trials_total"] = study.trials_total;
  out["trials_completed"] = study.trials_completed;
  out["trials_failed"] = study.trials_failed;
  out["trials_running"] = study.trials_running;
  out["pareto"] = study.pareto;
  return out;
}

ojson trial_json(const TrialInfo& trial) {
  ojson out;
  out["trial_id"] = trial.trial_id;
  out["study_id"] = trial.study_id;
  out["candidate"] = trial.candidate;
  out["kind"] = to_string(trial.kind);
  out["state"] = to_string(trial.state);
  out["attempt"] = trial.attempt;
  ojson params = ojson::object();
  for (const ParamValue& p : trial.params) {
    params[p.name] = p.category.empty() ? ojson(p.number) : ojson(p.category);
  }
  out["params"] = std::move(params);
  out["objectives"] = metrics_json(trial.objectives);
  out["metrics"] = metrics_json(trial.metrics);
  out["artifacts"] = ojson::array();
  for (const Artifact& a : trial.artifacts) {
    out["artifacts"].push_back({{"name", a.name}, {"digest", a.digest}, {"size", a.size}});
  }
  out["worker_id"] = trial.worker_id;
  if (trial.error.is_ok()) {
    out["error"] = nullptr;
  } else {
    out["error"] = {{"code", code_name(trial.error.code())},
                    {"message", trial.error.message()},
                    {"field", trial.error.field()}};
  }
  out["progress"] = tidy(trial.progress);
  out["hardware_fingerprint"] = trial.hardware_fingerprint;
  out["created_ms"] = trial.created_ms;
  out["started_ms"] = trial.started_ms;
  out["finished_ms"] = trial.finished_ms;
  return out;
}

ojson event_json(const Event& event) {
  ojson out;
  out["study_id"] = event.study_id;
  out["seq"] = event.seq;
  out["time_ms"] = event.time_ms;
  out["kind"] = event.kind;
  out["trial_id"] = event.trial_id;
  out["attempt"] = event.attempt;
  out["message"] = event.message;
  out["fraction"] = tidy(event.fraction);
  if (event.trial_id != 0) {
    out["candidate"] = event.candidate;
    out["trial_kind"] = to_string(event.trial_kind);
  }
  out["values"] = metrics_json(event.values);
  out["duration_ms"] = event.duration_ms;
  return out;
}

ojson worker_json(const WorkerInfo& worker) {
  ojson out;
  out["worker_id"] = worker.worker_id;
  out["role"] = to_string(worker.role);
  const Hardware& hw = worker.hardware;
  out["hardware"] = {{"tag", hw.tag},
                     {"cpu_model", hw.cpu_model},
                     {"cores", hw.cores},
                     {"threads", hw.threads},
                     {"memory_bytes", hw.memory_bytes},
                     {"accelerator", hw.accelerator},
                     {"driver", hw.driver},
                     {"torch_version", hw.torch_version},
                     {"fingerprint", hw.fingerprint}};
  out["slots"] = worker.slots;
  out["connected"] = worker.connected;
  out["last_seen_ms"] = worker.last_seen_ms;
  out["running"] = ojson::array();
  for (const TrialRef& r : worker.running) {
    out["running"].push_back({{"trial_id", r.trial_id}, {"attempt", r.attempt}});
  }
  out["studies"] = worker.studies;
  return out;
}

}  // namespace

Result<StudySpec> parse_study_spec(const std::string& json_text) {
  // Bounded (issue #11): nesting, size and numbers beyond a double
  // ("1e999") are errors, not a crash.
  auto root = parse_json(json_text, "");
  if (!root) return root.status();
  StudySpec spec;
  if (Status s = parse_spec(root.value(), spec); !s) return s;
  return spec;
}

namespace {

// Strings from a daemon may hold bytes that are not UTF-8 (names, messages,
// settings): rendered with U+FFFD instead of throwing.
std::string dump(const ojson& value, int indent = -1) {
  return value.dump(indent, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace

std::string study_spec_to_json(const StudySpec& spec, int indent) {
  return dump(spec_json(spec), indent);
}

std::string to_json(const StudyInfo& study) {
  return dump(study_json(study));
}
std::string to_json(const TrialInfo& trial) {
  return dump(trial_json(trial));
}
std::string to_json(const Event& event) {
  return dump(event_json(event));
}
std::string to_json(const WorkerInfo& worker) {
  return dump(worker_json(worker));
}

std::string to_json(const StudyInfo& study, const std::vector<TrialInfo>& trials) {
  ojson out;
  out["study"] = study_json(study);
  out["trials"] = ojson::array();
  for (const TrialInfo& t : trials) out["trials"].push_back(trial_json(t));
  return dump(out);
}

}  // namespace autodistill
