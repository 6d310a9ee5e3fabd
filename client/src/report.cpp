#include "autodistill/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autodistill/bounded_json.hpp"
#include "autodistill/student_arch.hpp"
#include "autodistill/student_settings.hpp"

namespace autodistill {

namespace {

std::optional<double> find_metric(const std::vector<Metric>& metrics, const std::string& name) {
  for (const Metric& m : metrics) {
    if (m.name == name && std::isfinite(m.value)) return m.value;
  }
  return std::nullopt;
}

std::optional<double> find_in_trial(const TrialInfo& t, const std::string& name) {
  if (auto v = find_metric(t.objectives, name)) return v;
  return find_metric(t.metrics, name);
}

bool same_params(std::vector<ParamValue> a, std::vector<ParamValue> b) {
  auto by_name = [](const ParamValue& x, const ParamValue& y) { return x.name < y.name; };
  std::sort(a.begin(), a.end(), by_name);
  std::sort(b.begin(), b.end(), by_name);
  return a == b;
}

// The parameter count of the candidate's architecture, sizes the space
// leaves out taken from settings.student; nullopt when it is not a valid
// student.
std::optional<double> analytic_parameters(const std::vector<ParamValue>& params,
                                          const std::string& settings_json) {
  std::map<std::string, double> factors;
  StudentArch base;
  auto parsed = parse_json(settings_json.empty() ? "{}" : settings_json, "settings");
  const nlohmann::json settings = parsed ? std::move(parsed.value()) : nlohmann::json();
  if (settings.is_object() && settings.contains("student") && settings["student"].is_object()) {
    for (const auto& [key, value] : settings["student"].items()) {
      if (value.is_number()) factors[key] = value.get<double>();
    }
    // Sizes beyond 2^40 are not students; the cast must stay defined.
    auto size = [&](const char* key, int64_t* out) {
      if (auto it = factors.find(key); it != factors.end() && std::abs(it->second) < 0x1p40) {
        *out = static_cast<int64_t>(it->second);
      }
    };
    size("vocab_size", &base.vocab_size);
    size("max_positions", &base.max_positions);
    size("type_vocab_size", &base.type_vocab_size);
    if (!apply_student_options(settings["student"], base)) return std::nullopt;
  }
  for (const ParamValue& p : params) {
    if (p.category.empty()) factors[p.name] = p.number;
  }
  const StudentArch arch = student_from_factors(factors, base);
  if (!validate(arch)) return std::nullopt;
  return static_cast<double>(parameter_count(arch));
}

// `a` dominates `b` on (maximize accuracy, minimize latency).
bool dominates(const CandidateReport& a, const CandidateReport& b) {
  if (!a.flash_accuracy || !a.latency_ms || !b.flash_accuracy || !b.latency_ms) return false;
  const bool no_worse = *a.flash_accuracy >= *b.flash_accuracy && *a.latency_ms <= *b.latency_ms;
  const bool better = *a.flash_accuracy > *b.flash_accuracy || *a.latency_ms < *b.latency_ms;
  return no_worse && better;
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string format_parameters(const std::optional<double>& p) {
  if (!p) return "-";
  if (*p >= 1e6) return format("%.2fM", *p / 1e6);
  if (*p >= 1e3) return format("%.1fK", *p / 1e3);
  return format("%.0f", *p);
}

std::string number_label(double v) {
  return v == std::floor(v) && std::abs(v) < 1e15 ? format("%.0f", v) : format("%g", v);
}

struct Cells {
  std::string candidate, architecture, parameters, latency, flash, regular, verdict;
};

// One row's cells; deltas against `base` unless the row is the baseline.
Cells cells_of(const CandidateReport& c, const CandidateReport* base) {
  Cells out;
  out.candidate = std::to_string(c.candidate) + (c.chosen ? "*" : "");
  out.architecture = architecture_label(c.params);
  out.parameters = format_parameters(c.parameters);
  if (c.parameters && base && !c.baseline && base->parameters && *base->parameters > 0) {
    out.parameters += format(" (%.2fx)", *c.parameters / *base->parameters);
  }
  out.latency = c.latency_ms ? format("%.3f", *c.latency_ms) : "-";
  if (c.latency_ms && base && !c.baseline && base->latency_ms && *base->latency_ms > 0) {
    out.latency += format(" (%+.1f%%)", 100.0 * (*c.latency_ms / *base->latency_ms - 1.0));
  }
  out.flash = c.flash_accuracy ? format("%.4f", *c.flash_accuracy) : "-";
  if (c.flash_accuracy && base && !c.baseline && base->flash_accuracy) {
    out.flash += format(" (%+.2f pt)", 100.0 * (*c.flash_accuracy - *base->flash_accuracy));
  }
  out.regular = c.regular_accuracy ? format("%.4f", *c.regular_accuracy) : "-";
  if (c.baseline) {
    out.verdict = "baseline";
  } else if (c.failed) {
    out.verdict = "failed";
  } else if (c.dominates_baseline) {
    out.verdict = "✓";
  }
  return out;
}

// Baseline first, then by latency (unmeasured last), then candidate.
std::vector<const CandidateReport*> table_order(const StudyReport& report) {
  std::vector<const CandidateReport*> rows;
  for (const CandidateReport& c : report.candidates) rows.push_back(&c);
  std::stable_sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) {
    if (a->baseline != b->baseline) return a->baseline;
    const double la = a->latency_ms.value_or(INFINITY), lb = b->latency_ms.value_or(INFINITY);
    if (la != lb) return la < lb;
    return a->candidate < b->candidate;
  });
  return rows;
}

const char* const kHeader[] = {"cand",      "architecture", "params",     "latency ms",
                               "flash acc", "regular acc",  "vs baseline"};

}  // namespace

StudyReport build_report(const StudyInfo& study, const std::vector<TrialInfo>& trials) {
  StudyReport report;
  report.study = study;
  std::map<uint32_t, CandidateReport> by_candidate;
  for (const TrialInfo& t : trials) {
    // A Finetune trial measures a delivered model on a task, not the candidate's search
    // objectives (its "params" may be the teacher's).
    if (t.kind == TrialKind::kFinetune) continue;
    CandidateReport& c = by_candidate[t.candidate];
    c.candidate = t.candidate;
    if (c.params.empty()) c.params = t.params;
    if (t.state == TrialState::kFailed) c.failed = true;
    if (!c.parameters) c.parameters = find_in_trial(t, "params");
    if (t.state != TrialState::kCompleted) continue;
    switch (t.kind) {
      case TrialKind::kProbe:
        c.latency_ms = find_in_trial(t, "latency_ms");
        break;
      case TrialKind::kFlash:
        c.flash_accuracy = find_in_trial(t, "accuracy");
        break;
      case TrialKind::kRegular:
        c.regular_accuracy = find_in_trial(t, "accuracy");
        c.artifacts = t.artifacts;
        break;
      case TrialKind::kExternal:
      case TrialKind::kFinetune:
        break;
    }
  }
  for (const TrialInfo& t : trials) {
    if (t.kind == TrialKind::kRegular) by_candidate[t.candidate].chosen = true;
  }
  for (auto& [index, c] : by_candidate) {
    if (!c.parameters) c.parameters = analytic_parameters(c.params, study.spec.settings_json);
    if (!study.spec.baseline.empty() && !report.baseline &&
        same_params(c.params, study.spec.baseline)) {
      c.baseline = true;
      report.baseline = report.candidates.size();
    }
    report.candidates.push_back(std::move(c));
  }
  for (CandidateReport& c : report.candidates) {
    c.on_front = c.flash_accuracy && c.latency_ms;
    for (const CandidateReport& other : report.candidates) {
      if (c.on_front && dominates(other, c)) c.on_front = false;
    }
    if (const CandidateReport* base = report.baseline_row(); base && !c.baseline) {
      c.dominates_baseline = dominates(c, *base);
    }
  }
  return report;
}

std::string architecture_label(const std::vector<ParamValue>& params) {
  static const std::pair<const char*, const char*> kOrder[] = {
      {"num_blocks", "K"}, {"hidden_size", "H"},       {"bottleneck_size", "B"},
      {"num_heads", "A"},  {"intermediate_size", "I"}, {"num_stacked_ffn", "F"}};
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  for (auto [name, letter] : kOrder) {
    for (const ParamValue& p : params) {
      if (p.name == name) add(letter + number_label(p.number));
    }
  }
  for (const ParamValue& p : params) {
    bool known = false;
    for (auto [name, letter] : kOrder) known = known || p.name == name;
    if (!known) add(p.name + "=" + (p.category.empty() ? number_label(p.number) : p.category));
  }
  return out;
}

std::string report_table(const StudyReport& report) {
  const CandidateReport* base = report.baseline_row();
  std::vector<Cells> rows;
  for (const CandidateReport* c : table_order(report)) rows.push_back(cells_of(*c, base));
  size_t width[7];
  for (size_t i = 0; i < 7; ++i) width[i] = std::string(kHeader[i]).size();
  for (const Cells& r : rows) {
    const std::string* cols[] = {&r.candidate, &r.architecture, &r.parameters,
                                 &r.latency,   &r.flash,        &r.regular};
    for (size_t i = 0; i < 6; ++i) width[i] = std::max(width[i], cols[i]->size());
  }
  std::ostringstream out;
  auto line = [&](const std::string* cols) {
    for (size_t i = 0; i < 6; ++i) {
      out << cols[i] << std::string(width[i] - cols[i].size() + 2, ' ');
    }
    out << cols[6] << "\n";
  };
  const std::string header[] = {kHeader[0], kHeader[1], kHeader[2], kHeader[3],
                                kHeader[4], kHeader[5], kHeader[6]};
  line(header);
  for (const Cells& r : rows) {
    const std::string cols[] = {r.candidate, r.architecture, r.parameters, r.latency,
                                r.flash,     r.regular,      r.verdict};
    line(cols);
  }
  size_t dominating = 0;
  for (const CandidateReport& c : report.candidates) dominating += c.dominates_baseline;
  out << "* chosen for regular distillation; deltas relative to the baseline\n";
  if (base) {
    out << dominating << " of " << report.candidates.size() - 1
        << " candidates dominate the baseline (flash accuracy and measured latency)\n";
  } else if (!report.study.spec.baseline.empty()) {
    out << "the baseline (" << architecture_label(report.study.spec.baseline)
        << ") was not evaluated\n";
  }
  return out.str();
}

std::string report_markdown(const StudyReport& report) {
  const StudyInfo& s = report.study;
  const CandidateReport* base = report.baseline_row();
  std::ostringstream out;
  out << "# Study " << s.study_id << (s.spec.name.empty() ? "" : ": " + s.spec.name) << "\n\n";
  out << "State: " << to_string(s.state) << (s.message.empty() ? "" : " (" + s.message + ")")
      << ". " << report.candidates.size() << " candidates evaluated";
  if (!s.spec.teacher_digest.empty()) out << "; teacher `" << s.spec.teacher_digest << "`";
  out << ".\n\n";
  out << "Baseline: "
      << (base ? architecture_label(base->params) + " (candidate " +
                     std::to_string(base->candidate) + ")"
          : s.spec.baseline.empty() ? std::string("none")
                                    : architecture_label(s.spec.baseline) + " (not evaluated)")
      << ".\n\n";
  out << "| ";
  for (const char* h : kHeader) out << h << " | ";
  out << "\n|";
  for (size_t i = 0; i < 7; ++i) out << (i >= 2 && i <= 5 ? "---:|" : "---|");
  out << "\n";
  for (const CandidateReport* c : table_order(report)) {
    Cells r = cells_of(*c, base);
    out << "| " << r.candidate << " | " << r.architecture << " | " << r.parameters << " | "
        << r.latency << " | " << r.flash << " | " << r.regular << " | " << r.verdict << " |\n";
  }
  out << "\n`*` chosen for regular distillation. Latency: median forward latency measured by "
         "the probe worker. Accuracy: held-out MLM accuracy. A candidate dominates the baseline "
         "(✓) when its flash accuracy is at least the baseline's and its latency at most, one "
         "strictly.\n\n";
  out << "![accuracy vs latency](pareto.svg)\n\n## Students\n\n";
  bool any = false;
  for (const CandidateReport& c : report.candidates) {
    if (c.artifacts.empty()) continue;
    any = true;
    out << "- `student-" << c.candidate << "/`: " << architecture_label(c.params)
        << (c.regular_accuracy ? format(", accuracy %.4f", *c.regular_accuracy) : "")
        << (c.latency_ms ? format(", %.3f ms", *c.latency_ms) : "") << "\n";
  }
  if (!any) out << "None delivered.\n";
  return out.str();
}

}  // namespace autodistill
