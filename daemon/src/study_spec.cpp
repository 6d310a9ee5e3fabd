#include "autodistill/daemon/study_spec.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/config.hpp"
#include "autodistill/daemon/proposer.hpp"
#include "autodistill/study_settings.hpp"
#include "autodistill/wire/digest.hpp"
#include "autodistill/wire/hardware_tag.hpp"

namespace autodistill::daemon {

using wire::FactorKind;

const std::vector<std::string>& distill_factor_names() {
  static const std::vector<std::string> k = {"num_blocks", "hidden_size",       "bottleneck_size",
                                             "num_heads",  "intermediate_size", "num_stacked_ffn"};
  return k;
}

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string at(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

Status invalid(std::string message, std::string field) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}

Status too_large(const std::string& what, uint64_t limit, const char* key, std::string field) {
  return Status(Code::kResourceExhausted,
                what + " exceeds the daemon's " + key + " " + std::to_string(limit),
                std::move(field));
}

// Values of an ordinal factor, categories of a categorical one, 0 otherwise.
size_t listed_values(const wire::FactorT& f) {
  return f.kind == FactorKind::Ordinal       ? f.values.size()
         : f.kind == FactorKind::Categorical ? f.categories.size()
                                             : 0;
}

// The design space's size limits (issue #11): factors, values per factor and
// values in all, checked before anything looks at a value.
Status validate_space_size(const wire::StudySpecT& spec, const Config& config) {
  if (spec.factors.size() > config.max_factors) {
    return too_large(std::to_string(spec.factors.size()) + " factors", config.max_factors,
                     "max_factors", "spec.factors");
  }
  uint64_t total = 0;
  for (size_t i = 0; i < spec.factors.size(); ++i) {
    if (!spec.factors[i]) continue;
    const wire::FactorT& f = *spec.factors[i];
    const size_t n = listed_values(f);
    if (n > config.max_factor_values) {
      return too_large(
          std::to_string(n) + " values", config.max_factor_values, "max_factor_values",
          at("spec.factors", i) + (f.kind == FactorKind::Ordinal ? ".values" : ".categories"));
    }
    total += n;
  }
  if (total > config.max_design_values) {
    return too_large(std::to_string(total) + " values in all factors", config.max_design_values,
                     "max_design_values", "spec.factors");
  }
  return Status::ok();
}

Status validate_factor(const wire::FactorT& f, const std::string& field, bool distill) {
  if (f.name.empty() || f.name.size() > 128) {
    return invalid("factor name must be 1..128 characters", field + ".name");
  }
  if (distill && !contains(distill_factor_names(), f.name)) {
    return invalid("unknown factor \"" + f.name +
                       "\" for a distill study (num_blocks, hidden_size, bottleneck_size, "
                       "num_heads, intermediate_size, num_stacked_ffn)",
                   field + ".name");
  }
  if (distill && f.kind != FactorKind::Ordinal && f.kind != FactorKind::Integer) {
    return invalid("architecture factors must be ordinal or integer", field + ".kind");
  }
  switch (f.kind) {
    case FactorKind::Ordinal: {
      if (f.values.empty()) return invalid("ordinal factor has no values", field + ".values");
      std::set<double> seen;
      for (size_t i = 0; i < f.values.size(); ++i) {
        double v = f.values[i];
        if (!std::isfinite(v)) return invalid("value is not finite", at(field + ".values", i));
        if (distill && (v <= 0 || v != std::floor(v))) {
          return invalid("architecture sizes must be positive integers", at(field + ".values", i));
        }
        if (!seen.insert(v).second) {
          return invalid("duplicate value " + std::to_string(v), at(field + ".values", i));
        }
      }
      return Status::ok();
    }
    case FactorKind::Categorical: {
      if (f.categories.empty()) {
        return invalid("categorical factor has no categories", field + ".categories");
      }
      std::set<std::string> seen;
      for (size_t i = 0; i < f.categories.size(); ++i) {
        if (f.categories[i].empty()) {
          return invalid("empty category", at(field + ".categories", i));
        }
        if (!seen.insert(f.categories[i]).second) {
          return invalid("duplicate category \"" + f.categories[i] + "\"",
                         at(field + ".categories", i));
        }
      }
      return Status::ok();
    }
    case FactorKind::Integer:
    case FactorKind::Continuous: {
      if (!std::isfinite(f.low)) return invalid("low is not finite", field + ".low");
      if (!std::isfinite(f.high)) return invalid("high is not finite", field + ".high");
      if (f.kind == FactorKind::Integer &&
          (f.low != std::floor(f.low) || f.high != std::floor(f.high))) {
        return invalid("integer bounds must be integers", field + ".low");
      }
      // Integer factors enumerate their range: keep it within 32 bits.
      constexpr double kIntegerLimit = 2147483647.0;
      if (f.kind == FactorKind::Integer &&
          (std::abs(f.low) > kIntegerLimit || std::abs(f.high) > kIntegerLimit)) {
        return invalid("integer bounds must lie within +-2^31 (use a continuous factor)",
                       field + (std::abs(f.low) > kIntegerLimit ? ".low" : ".high"));
      }
      if (f.kind == FactorKind::Integer ? f.low > f.high : f.low >= f.high) {
        return invalid("low must be below high (the range is empty)", field + ".high");
      }
      if (distill && f.low <= 0) {
        return invalid("architecture sizes must be positive", field + ".low");
      }
      return Status::ok();
    }
  }
  return invalid("unknown factor kind", field + ".kind");
}

// Values a discrete factor can take (ordinal values or the integer range).
std::vector<double> discrete_values(const wire::FactorT& f) {
  if (f.kind == FactorKind::Ordinal) return f.values;
  std::vector<double> v;
  for (double x = f.low; x <= f.high && v.size() < 4096; x += 1) v.push_back(x);
  return v;
}

}  // namespace

namespace {

// warm_start_study: an existing study the submitter may see, of the same
// kind, with the same factors (names and kinds; ranges may differ) and the
// same objectives (names and directions).
Status validate_warm_start(const wire::StudySpecT& spec, const FindStudy& find_study) {
  const std::string field = "spec.warm_start_study";
  const std::string name = "study " + std::to_string(spec.warm_start_study);
  if (!find_study) return Status(Code::kNotFound, "no " + name, field);
  auto found = find_study(spec.warm_start_study);
  if (!found) return found.status();
  if (!found.value()) return Status(Code::kNotFound, "no " + name, field);
  const wire::StudySpecT& earlier = *found.value();
  if (earlier.kind != spec.kind) {
    return invalid(name + " is " + wire::EnumNameStudyKind(earlier.kind) + ", this study " +
                       wire::EnumNameStudyKind(spec.kind),
                   field);
  }
  auto factor_list = [](const wire::StudySpecT& s) {
    std::map<std::string, wire::FactorKind> out;
    for (const auto& f : s.factors) {
      if (f) out[f->name] = f->kind;
    }
    return out;
  };
  if (factor_list(earlier) != factor_list(spec)) {
    return invalid(name + " has other factors (names and kinds must match)", field);
  }
  auto objective_list = [](const wire::StudySpecT& s) {
    std::map<std::string, wire::Direction> out;
    for (const auto& o : s.objectives) {
      if (o) out[o->name] = o->direction;
    }
    return out;
  };
  if (objective_list(earlier) != objective_list(spec)) {
    return invalid(name + " has other objectives (names and directions must match)", field);
  }
  return Status::ok();
}

// selection: Distill studies; TopK needs k >= 1 and an objective as metric.
Status validate_selection(const wire::StudySpecT& spec, const std::set<std::string>& objectives) {
  if (!spec.selection) return Status::ok();
  const wire::SelectionT& sel = *spec.selection;
  if (sel.rule < wire::SelectionRule::MIN || sel.rule > wire::SelectionRule::MAX) {
    return invalid("unknown selection rule (Pareto or TopK)", "spec.selection.rule");
  }
  const bool is_default =
      sel.rule == wire::SelectionRule::Pareto && sel.k == 0 && sel.metric.empty();
  if (spec.kind != wire::StudyKind::Distill && !is_default) {
    return invalid("a selection rule needs a distill study (only it distills regularly)",
                   "spec.selection");
  }
  if (sel.rule == wire::SelectionRule::TopK) {
    if (sel.k == 0) return invalid("TopK needs k >= 1", "spec.selection.k");
    if (!objectives.count(sel.metric)) {
      return invalid("metric \"" + sel.metric + "\" is not an objective of the study",
                     "spec.selection.metric");
    }
  } else if (!sel.metric.empty()) {
    return invalid("metric applies to TopK only (Pareto ranks by every objective)",
                   "spec.selection.metric");
  }
  return Status::ok();
}

// A Distill study's settings (docs/study-spec.md "Settings"): every section
// through the one codec (autodistill/study_settings.hpp), each bad key named
// (spec.settings_json.distill.flash_steps). "probe" and "finetune" are the
// daemon's to write into a trial's settings (the probe handoff, a Finetune
// trial's model and task), so a study may not give them; the Finetune
// options go in settings.glue. The GLUE task blobs must be held at submit.
// Other top-level keys are kept and passed to the workers as they are.
Status validate_distill_settings(const nlohmann::json& settings, bool stored,
                                 const HasBlob& has_blob) {
  const std::string base = "spec.settings_json";
  for (const char* daemon_written : {"probe", "finetune"}) {
    if (settings.contains(daemon_written)) {
      return invalid(
          std::string("settings.") + daemon_written +
              " is written by the daemon into a trial's settings, not given by a "
              "study" +
              (std::string(daemon_written) == "finetune" ? " (Finetune options go in settings.glue)"
                                                         : ""),
          base + "." + daemon_written);
    }
  }
  auto typed = parse_study_settings(settings, base);
  if (!typed) return typed.status();
  if (stored || !typed->glue) return Status::ok();
  for (const auto& [name, digest] : typed->glue->tasks) {
    if (!has_blob(digest)) {
      return Status(Code::kNotFound, "task blob " + digest + " of \"" + name + "\" is not uploaded",
                    base + ".glue.tasks." + name);
    }
  }
  return Status::ok();
}

}  // namespace

namespace {

// validate_spec(); `stored`: a spec read back from the store at recovery,
// where blobs, the warm-start study and the operator's budgets are not
// checked again (they held at submit; a study must not fail because an
// operator lowered max_trials_limit).
Status validate(const wire::StudySpecT& spec, const Config& config, const HasBlob& has_blob,
                const FindStudy& find_study, bool stored) {
  const bool distill = spec.kind == wire::StudyKind::Distill;
  if (spec.kind != wire::StudyKind::Distill && spec.kind != wire::StudyKind::External) {
    return invalid("unknown study kind", "spec.kind");
  }
  if (spec.name.size() > 256) return invalid("name is longer than 256 characters", "spec.name");
  if (spec.factors.empty()) return invalid("the design space is empty", "spec.factors");
  if (Status s = validate_space_size(spec, config); !s) return s;
  std::set<std::string> names;
  for (size_t i = 0; i < spec.factors.size(); ++i) {
    const std::string field = at("spec.factors", i);
    if (!spec.factors[i]) return invalid("missing factor", field);
    if (Status s = validate_factor(*spec.factors[i], field, distill); !s) return s;
    if (!names.insert(spec.factors[i]->name).second) {
      return invalid("duplicate factor \"" + spec.factors[i]->name + "\"", field + ".name");
    }
  }
  if (distill) {
    // The rule "heads divide the bottleneck" must leave at least one point.
    const wire::FactorT* heads = nullptr;
    const wire::FactorT* bottleneck = nullptr;
    size_t heads_index = 0;
    for (size_t i = 0; i < spec.factors.size(); ++i) {
      if (spec.factors[i]->name == "num_heads") heads = spec.factors[i].get(), heads_index = i;
      if (spec.factors[i]->name == "bottleneck_size") bottleneck = spec.factors[i].get();
    }
    if (heads && bottleneck) {
      bool any = false;
      for (double h : discrete_values(*heads)) {
        for (double b : discrete_values(*bottleneck)) {
          any = any || std::fmod(b, h) == 0;
        }
      }
      if (!any) {
        return invalid("no num_heads value divides any bottleneck_size value",
                       at("spec.factors", heads_index));
      }
    }
  }

  if (spec.objectives.empty()) return invalid("no objectives", "spec.objectives");
  std::set<std::string> objectives;
  for (size_t i = 0; i < spec.objectives.size(); ++i) {
    const std::string field = at("spec.objectives", i);
    if (!spec.objectives[i] || spec.objectives[i]->name.empty()) {
      return invalid("objective name is empty", field + ".name");
    }
    const std::string& name = spec.objectives[i]->name;
    if (distill && !contains(distill_probe_metrics(), name) &&
        !contains(distill_accuracy_metrics(), name)) {
      return invalid("unknown objective \"" + name +
                         "\" for a distill study (accuracy, mlm_accuracy, nsp_accuracy, "
                         "latency_ms, params, flops)",
                     field + ".name");
    }
    if (!objectives.insert(name).second) {
      return invalid("duplicate objective \"" + name + "\"", field + ".name");
    }
  }

  // Constraints: known metric, finite bound, and the bounds on one metric
  // must leave a non-empty interval.
  std::map<std::string, std::pair<double, double>> bounds;  // metric -> [lo, hi]
  for (size_t i = 0; i < spec.constraints.size(); ++i) {
    const std::string field = at("spec.constraints", i);
    if (!spec.constraints[i]) return invalid("missing constraint", field);
    const wire::ConstraintT& c = *spec.constraints[i];
    bool known = objectives.count(c.metric) > 0 ||
                 (distill && (contains(distill_probe_metrics(), c.metric) ||
                              contains(distill_accuracy_metrics(), c.metric)));
    if (!known) {
      return invalid("constraint on unknown metric \"" + c.metric + "\"", field + ".metric");
    }
    if (!std::isfinite(c.bound)) return invalid("bound is not finite", field + ".bound");
    auto [it, fresh] = bounds.try_emplace(c.metric, -INFINITY, INFINITY);
    (void)fresh;
    auto& [lo, hi] = it->second;
    if (c.comparison == wire::Comparison::LessEqual)
      hi = std::min(hi, c.bound);
    else
      lo = std::max(lo, c.bound);
    bool positive_metric = distill && !is_distill_accuracy_metric(c.metric);
    if (lo > hi) {
      return invalid("contradicts an earlier constraint on \"" + c.metric + "\" (no value is >= " +
                         std::to_string(lo) + " and <= " + std::to_string(hi) + ")",
                     field);
    }
    if (positive_metric && hi <= 0) {
      return invalid("\"" + c.metric + "\" is always positive, so <= " + std::to_string(hi) +
                         " can never hold",
                     field + ".bound");
    }
  }

  if (Status s = wire::check_hardware_tag(spec.hardware_tag, "spec.hardware_tag"); !s) return s;
  if (!spec.settings_json.empty()) {
    if (spec.settings_json.size() > config.max_settings_bytes) {
      return too_large(std::to_string(spec.settings_json.size()) + " bytes of settings",
                       config.max_settings_bytes, "max_settings_bytes", "spec.settings_json");
    }
    auto parsed = parse_json(spec.settings_json, "spec.settings_json");
    if (!parsed) return parsed.status();
    if (!parsed->is_object())
      return invalid("settings must be a JSON object", "spec.settings_json");
    // An External study's settings belong to its evaluator (passed verbatim);
    // only a Distill study fine-tunes.
    if (distill) {
      if (Status s = validate_distill_settings(parsed.value(), stored, has_blob); !s) return s;
    } else if (parsed->contains("glue")) {
      return invalid("GLUE tasks need a distill study", "spec.settings_json.glue");
    }
  }
  if (distill) {
    if (!wire::is_valid_digest(spec.teacher_digest)) {
      return invalid("a distill study needs a teacher blob (sha256 digest)", "spec.teacher_digest");
    }
    if (!stored && !has_blob(spec.teacher_digest)) {
      return Status(Code::kNotFound, "teacher blob " + spec.teacher_digest + " is not uploaded",
                    "spec.teacher_digest");
    }
    if (!wire::is_valid_digest(spec.corpus_digest)) {
      return invalid("a distill study needs a corpus blob (sha256 digest)", "spec.corpus_digest");
    }
    if (!stored && !has_blob(spec.corpus_digest)) {
      return Status(Code::kNotFound, "corpus blob " + spec.corpus_digest + " is not uploaded",
                    "spec.corpus_digest");
    }
  }
  if (spec.max_trials == 0) return invalid("must be at least 1", "spec.max_trials");
  if (!stored && spec.max_trials > config.max_trials_limit) {
    return Status(
        Code::kResourceExhausted,
        "exceeds the daemon's max_trials_limit " + std::to_string(config.max_trials_limit),
        "spec.max_trials");
  }
  if (spec.parallelism > 4096) return invalid("must be at most 4096", "spec.parallelism");
  if (spec.max_attempts > 100) return invalid("must be at most 100", "spec.max_attempts");
  // Gangs (docs/protocol.md "Gangs"): Regular trials on this many Distill
  // workers at once.
  if (spec.regular_ranks > kMaxRegularRanks) {
    return invalid("must be at most " + std::to_string(kMaxRegularRanks) + " (0 or 1: one worker)",
                   "spec.regular_ranks");
  }
  if (spec.regular_ranks > 1 && spec.kind != wire::StudyKind::Distill) {
    return invalid(
        std::string("only a Distill study has Regular trials to run as gangs; this is ") +
            (spec.kind == wire::StudyKind::External ? "an External" : "another kind of") +
            " study (leave regular_ranks 0)",
        "spec.regular_ranks");
  }
  if (!spec.algorithm.empty() && spec.algorithm != "bo" && spec.algorithm != "random" &&
      spec.algorithm != "firefly" && spec.algorithm != "nsga2") {
    return invalid(
        "unknown algorithm \"" + spec.algorithm + "\" (available: bo, random, firefly, nsga2)",
        "spec.algorithm");
  }
  if (Status s = validate_baseline(spec); !s) return s;
  if (Status s = validate_selection(spec, objectives); !s) return s;
  if (spec.skip_dominated_flash) {
    if (!distill || !study_uses_probe_and_flash(spec)) {
      return invalid(
          "skipping flash trials needs a distill study that measures a probe metric (latency_ms, "
          "params, flops) and an accuracy metric (objectives or constraints)",
          "spec.skip_dominated_flash");
    }
  }
  if (!stored && spec.warm_start_study != 0) {
    if (Status s = validate_warm_start(spec, find_study); !s) return s;
  }
  return validate_search(spec);
}

}  // namespace

Status validate_spec(const wire::StudySpecT& spec, const Config& config, const HasBlob& has_blob,
                     const FindStudy& find_study) {
  return validate(spec, config, has_blob, find_study, /*stored=*/false);
}

Status validate_stored_spec(const wire::StudySpecT& spec, const Config& config) {
  return validate(spec, config, {}, {}, /*stored=*/true);
}

bool study_uses_probe_and_flash(const wire::StudySpecT& spec) {
  bool probe = false, flash = false;
  auto note = [&](const std::string& name) {
    probe = probe || contains(distill_probe_metrics(), name);
    flash = flash || contains(distill_accuracy_metrics(), name);
  };
  for (const auto& o : spec.objectives) {
    if (o) note(o->name);
  }
  for (const auto& c : spec.constraints) {
    if (c) note(c->metric);
  }
  return probe && flash;
}

bool is_valid_candidate(const wire::StudySpecT& spec, const Params& params) {
  if (spec.kind != wire::StudyKind::Distill) return true;
  double heads = 0, bottleneck = 0;
  for (const auto& p : params) {
    if (p.number <= 0) return false;
    if (p.name == "num_heads") heads = p.number;
    if (p.name == "bottleneck_size") bottleneck = p.number;
  }
  return heads == 0 || bottleneck == 0 || std::fmod(bottleneck, heads) == 0;
}

std::string pack_spec(const wire::StudySpecT& spec) {
  flatbuffers::FlatBufferBuilder builder;
  builder.ForceDefaults(false);
  builder.Finish(wire::StudySpec::Pack(builder, &spec));
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

Result<wire::StudySpecT> unpack_spec(const std::string& bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!verifier.VerifyBuffer<wire::StudySpec>(nullptr)) {
    return Status(Code::kInternal, "stored study spec failed verification");
  }
  wire::StudySpecT spec;
  flatbuffers::GetRoot<wire::StudySpec>(bytes.data())->UnPackTo(&spec);
  return spec;
}

}  // namespace autodistill::daemon
