#include "autodistill/distill/settings.hpp"

#include "autodistill/student_settings.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "autodistill/bounded_json.hpp"

namespace autodistill::distill {

namespace {

Status bad(const std::string& key, const std::string& why) {
  return Status(Code::kInvalidArgument, "settings." + key + " " + why, "settings." + key);
}

const std::set<std::string>& distill_keys() {
  static const std::set<std::string> keys = {"flash_steps",
                                             "regular_steps",
                                             "batch_size",
                                             "seq_len",
                                             "learning_rate",
                                             "warmup_fraction",
                                             "progressive_ratio",
                                             "alpha",
                                             "temperature",
                                             "attention_weight",
                                             "feature_weight",
                                             "clip_norm",
                                             "weight_decay",
                                             "seed",
                                             "eval_batches",
                                             "eval_seed",
                                             "eval_fraction",
                                             "split_seed",
                                             "threads",
                                             "checkpoint_steps",
                                             "checkpoint_minutes",
                                             "checkpoint_flash",
                                             "gang_timeout_seconds",
                                             "allreduce_bucket_mb"};
  return keys;
}

const std::set<std::string>& student_keys() {
  static const std::set<std::string> keys = {"num_blocks", "hidden_size",       "bottleneck_size",
                                             "num_heads",  "intermediate_size", "num_stacked_ffn",
                                             "vocab_size", "max_positions",     "type_vocab_size"};
  return keys;
}

Status parse_distill(const nlohmann::json& json, DistillSettings& s) {
  for (const auto& [key, value] : json.items()) {
    if (!distill_keys().count(key)) return bad("distill." + key, "is not a distill setting");
  }
  auto integer = [&](const char* key, int64_t* out, int64_t min) -> Status {
    auto it = json.find(key);
    if (it == json.end()) return Status::ok();
    if (!it->is_number_integer() || it->get<int64_t>() < min) {
      return bad(std::string("distill.") + key, "must be an integer >= " + std::to_string(min));
    }
    *out = it->get<int64_t>();
    return Status::ok();
  };
  auto unsigned_integer = [&](const char* key, uint64_t* out) -> Status {
    auto it = json.find(key);
    if (it == json.end()) return Status::ok();
    if (!it->is_number_unsigned()) {
      return bad(std::string("distill.") + key, "must be a non-negative integer");
    }
    *out = it->get<uint64_t>();
    return Status::ok();
  };
  auto number = [&](const char* key, double* out) -> Status {
    auto it = json.find(key);
    if (it == json.end()) return Status::ok();
    if (!it->is_number() || !std::isfinite(it->get<double>())) {
      return bad(std::string("distill.") + key, "must be a number");
    }
    *out = it->get<double>();
    return Status::ok();
  };
  auto boolean = [&](const char* key, bool* out) -> Status {
    auto it = json.find(key);
    if (it == json.end()) return Status::ok();
    if (!it->is_boolean()) return bad(std::string("distill.") + key, "must be true or false");
    *out = it->get<bool>();
    return Status::ok();
  };
  DistillOptions& o = s.options;
  for (Status st : {integer("flash_steps", &s.flash_steps, 1),
                    integer("regular_steps", &s.regular_steps, 1),
                    integer("batch_size", &o.batch_size, 1),
                    integer("seq_len", &o.seq_len, 8),
                    integer("eval_batches", &o.eval_batches, 1),
                    integer("threads", &s.threads, 0),
                    number("learning_rate", &o.learning_rate),
                    number("warmup_fraction", &o.warmup_fraction),
                    number("progressive_ratio", &o.progressive_ratio),
                    number("alpha", &o.alpha),
                    number("temperature", &o.temperature),
                    number("attention_weight", &o.attention_weight),
                    number("feature_weight", &o.feature_weight),
                    number("clip_norm", &o.clip_norm),
                    number("weight_decay", &o.lamb.weight_decay),
                    number("eval_fraction", &s.eval_fraction),
                    unsigned_integer("seed", &o.seed),
                    unsigned_integer("eval_seed", &o.eval_seed),
                    unsigned_integer("split_seed", &s.split_seed),
                    integer("checkpoint_steps", &s.checkpoint_steps, 0),
                    number("checkpoint_minutes", &s.checkpoint_minutes),
                    boolean("checkpoint_flash", &s.checkpoint_flash),
                    number("gang_timeout_seconds", &s.gang_timeout_seconds),
                    number("allreduce_bucket_mb", &s.allreduce_bucket_mb)}) {
    if (!st) return st;
  }
  if (!(s.checkpoint_minutes >= 0.0)) {
    return bad("distill.checkpoint_minutes", "must not be negative");
  }
  if (!(s.gang_timeout_seconds > 0.0)) {
    return bad("distill.gang_timeout_seconds", "must be positive");
  }
  if (!(s.allreduce_bucket_mb > 0.0)) return bad("distill.allreduce_bucket_mb", "must be positive");
  // Ranges, reported with the settings' names.
  DistillOptions checked = o;
  checked.steps = s.flash_steps;
  if (Status v = validate(checked); !v) {
    return bad("distill." + v.field(), v.message().substr(v.field().size() + 1));
  }
  if (!(s.eval_fraction > 0.0 && s.eval_fraction < 1.0)) {
    return bad("distill.eval_fraction", "must be in (0, 1)");
  }
  if (!(o.lamb.weight_decay >= 0.0)) return bad("distill.weight_decay", "must not be negative");
  return Status::ok();
}

Status parse_student(const nlohmann::json& json, DistillSettings& s) {
  for (const auto& [key, value] : json.items()) {
    if (is_student_option(key)) {
      if (Status set = set_student_option(s.options_arch, key, value); !set) return set;
      continue;
    }
    if (!student_keys().count(key)) {
      return bad("student." + key, "is not a student size or template option");
    }
    if (!value.is_number_integer() || value.get<int64_t>() < 1) {
      return bad("student." + key, "must be a positive integer");
    }
    s.student[key] = value.get<int64_t>();
  }
  return Status::ok();
}

}  // namespace

Result<DistillSettings> parse_distill_settings(std::string_view settings_json) {
  DistillSettings s;
  if (settings_json.empty()) return s;
  auto parsed = parse_json(settings_json, "settings");
  if (!parsed) return Status(Code::kMalformed, parsed.status().message(), "settings");
  const nlohmann::json& json = parsed.value();
  if (!json.is_object()) {
    return Status(Code::kMalformed, "settings are not a JSON object", "settings");
  }
  for (const char* section : {"distill", "student"}) {
    auto it = json.find(section);
    if (it == json.end()) continue;
    if (!it->is_object()) return bad(section, "must be an object");
    Status parsed =
        std::string(section) == "distill" ? parse_distill(*it, s) : parse_student(*it, s);
    if (!parsed) return parsed;
  }
  return s;
}

}  // namespace autodistill::distill
