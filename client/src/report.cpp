#include "autodistill/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "autodistill/distill.hpp"
#include "autodistill/glue_settings.hpp"
#include "autodistill/pareto.hpp"
#include "autodistill/probe_choice.hpp"
#include "autodistill/student_arch.hpp"
#include "autodistill/study_settings.hpp"
#include "wire_convert.hpp"

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
  auto settings = parse_study_settings_text(settings_json, "settings");
  if (!settings) return std::nullopt;
  if (settings->student) settings->student->apply(base);
  for (const ParamValue& p : params) {
    if (p.category.empty()) factors[p.name] = p.number;
  }
  const StudentArch arch = student_from_factors(factors, base);
  if (!validate(arch)) return std::nullopt;
  return static_cast<double>(parameter_count(arch));
}

// The report's objectives (maximize flash accuracy, minimize latency) as a
// maximized vector; nullopt when either is unmeasured.
std::optional<ObjectiveVector> objectives_of(const CandidateReport& c) {
  if (!c.flash_accuracy || !c.latency_ms) return std::nullopt;
  return ObjectiveVector{*c.flash_accuracy, -*c.latency_ms};
}

// `a` dominates `b` on (maximize accuracy, minimize latency).
bool dominates(const CandidateReport& a, const CandidateReport& b) {
  const auto ya = objectives_of(a), yb = objectives_of(b);
  return ya && yb && autodistill::dominates(*ya, *yb);
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
  if (c.latency_ms && c.latency_provisional) {
    out.latency += " ~";
  } else if (c.latency_ms && !c.latency_converged) {
    out.latency += " !";
  }
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

// The candidates' latency: of their completed probes the one that counts
// (probe_choice.hpp), its CI and convergence; whether a re-probe is pending.
// Returns the probe trial that counts, by candidate.
std::map<uint32_t, const TrialInfo*> fill_latency(
    const std::vector<TrialInfo>& trials, std::map<uint32_t, CandidateReport>& by_candidate) {
  std::map<uint32_t, const TrialInfo*> counted;
  std::map<uint32_t, std::vector<const TrialInfo*>> probes;  // completed, by trial id
  std::map<uint32_t, bool> pending;
  for (const TrialInfo& t : trials) {
    if (t.kind != TrialKind::kProbe) continue;
    if (t.state == TrialState::kCompleted) probes[t.candidate].push_back(&t);
    if (t.state == TrialState::kQueued || t.state == TrialState::kLeased)
      pending[t.candidate] = true;
  }
  for (auto& [candidate, list] : probes) {
    std::stable_sort(list.begin(), list.end(), [](const TrialInfo* a, const TrialInfo* b) {
      return a->trial_id < b->trial_id;
    });
    std::vector<bool> converged;
    bool marked = false;
    for (const TrialInfo* t : list) {
      std::map<std::string, double> metrics;
      for (const Metric& m : t->metrics) metrics[m.name] = m.value;
      converged.push_back(probe_converged(metrics));
      marked = marked || find_metric(t->metrics, kLatencyUnconvergedMetric).value_or(0) != 0;
    }
    const size_t i = *counted_measurement(converged);
    counted[candidate] = list[i];
    CandidateReport& c = by_candidate[candidate];
    c.latency_ms = find_in_trial(*list[i], "latency_ms");
    c.latency_ci_low_ms = find_metric(list[i]->metrics, "median_ci_low_ms");
    c.latency_ci_high_ms = find_metric(list[i]->metrics, "median_ci_high_ms");
    c.latency_probes = static_cast<uint32_t>(list.size());
    c.latency_probe = static_cast<uint32_t>(i + 1);
    c.latency_converged = converged[i];
    c.latency_provisional = !converged[i] && pending[candidate];
    c.latency_unconverged = marked;
  }
  return counted;
}

// The candidates' values for the study's front, as the daemon merges them
// (daemon/pareto.hpp): the objectives and metrics of the exploration trials
// (the probe that counts, flash, external); nullopt for a candidate one of
// whose exploration trials has not completed.
std::map<uint32_t, std::optional<std::map<std::string, double>>> exploration_values(
    const std::vector<TrialInfo>& trials, const std::map<uint32_t, const TrialInfo*>& counted) {
  std::map<uint32_t, std::optional<std::map<std::string, double>>> out;
  for (const TrialInfo& t : trials) {
    if (t.kind == TrialKind::kRegular || t.kind == TrialKind::kFinetune) continue;
    auto probe = counted.find(t.candidate);
    if (t.kind == TrialKind::kProbe && probe != counted.end() && probe->second != &t) continue;
    auto [it, added] = out.try_emplace(t.candidate, std::map<std::string, double>());
    if (t.state != TrialState::kCompleted) it->second.reset();
    if (!it->second) continue;
    for (const Metric& m : t.metrics) (*it->second)[m.name] = m.value;
    for (const Metric& m : t.objectives) (*it->second)[m.name] = m.value;
  }
  return out;
}

std::string latency_with_ci(const CandidateReport& c) {
  std::string out = format("%.3f ms", c.latency_ms.value_or(NAN));
  if (c.latency_ci_low_ms && c.latency_ci_high_ms) {
    out += format(" (95%% CI %.3f", *c.latency_ci_low_ms) + format("-%.3f)", *c.latency_ci_high_ms);
  }
  return out;
}

}  // namespace

namespace {

std::string task_of(const TrialInfo& t) {
  for (const ParamValue& p : t.params) {
    if (p.name == kGlueTaskParam) return p.category;
  }
  return "";
}

// The GLUE rows from the Finetune trials (glue_settings.hpp: the teacher's
// carry kTeacherCandidate, a Finetune trial's one param names its task).
void add_glue(StudyReport& report, const std::vector<TrialInfo>& trials) {
  std::set<std::string> tasks;
  auto settings = parse_study_settings_text(report.study.spec.settings_json, "settings");
  if (settings && settings->glue) {
    for (const auto& [name, digest] : settings->glue->tasks) tasks.insert(name);
  }
  std::map<uint32_t, GlueRow> models;  // kTeacherCandidate sorts last
  GlueRow majority{"majority class", std::nullopt, std::nullopt, {}};
  for (const TrialInfo& t : trials) {
    if (t.kind != TrialKind::kFinetune) continue;
    const std::string task = task_of(t);
    if (task.empty()) continue;
    tasks.insert(task);
    GlueRow& row = models[t.candidate];
    if (!row.candidate && t.candidate != kTeacherCandidate) row.candidate = t.candidate;
    if (!row.parameters) row.parameters = find_in_trial(t, "params");
    GlueScore& score = row.scores[task];
    if (t.state == TrialState::kCompleted) {
      score.accuracy = find_in_trial(t, "accuracy");
      score.f1 = find_in_trial(t, "f1");
      GlueScore& base = majority.scores[task];
      if (!base.accuracy) {
        base.accuracy = find_in_trial(t, "majority_accuracy");
        base.f1 = find_in_trial(t, "majority_f1");
      }
    } else if (t.state == TrialState::kFailed) {
      score.failed = true;
      score.error = t.error.message();
    } else if (t.state != TrialState::kCancelled) {
      score.pending = true;
    }
  }
  if (models.empty()) return;
  report.glue_tasks.assign(tasks.begin(), tasks.end());
  const CandidateReport* base = report.baseline_row();
  auto add = [&](GlueRow row, std::string label) {
    row.label = std::move(label);
    report.glue.push_back(std::move(row));
  };
  if (auto teacher = models.find(kTeacherCandidate); teacher != models.end()) {
    add(teacher->second, "teacher");
    models.erase(teacher);
  }
  if (base) {
    if (auto it = models.find(base->candidate); it != models.end()) {
      add(it->second, "baseline (" + architecture_label(base->params) + ")");
      models.erase(it);
    }
  }
  for (auto& [candidate, row] : models) {
    std::string label = "student-" + std::to_string(candidate);
    for (const CandidateReport& c : report.candidates) {
      if (c.candidate == candidate) label += " (" + architecture_label(c.params) + ")";
    }
    add(std::move(row), std::move(label));
  }
  report.glue.push_back(std::move(majority));
}

}  // namespace

StudyReport build_report(const StudyInfo& study, const std::vector<TrialInfo>& trials) {
  StudyReport report;
  report.study = study;
  std::map<uint32_t, CandidateReport> by_candidate;
  // A failed re-probe leaves the candidate its earlier measurement.
  std::map<uint32_t, bool> probed;
  for (const TrialInfo& t : trials) {
    if (t.kind == TrialKind::kProbe && t.state == TrialState::kCompleted)
      probed[t.candidate] = true;
  }
  for (const TrialInfo& t : trials) {
    // A Finetune trial measures a delivered model on a task, not the candidate's search
    // objectives (its "params" may be the teacher's).
    if (t.kind == TrialKind::kFinetune) continue;
    CandidateReport& c = by_candidate[t.candidate];
    c.candidate = t.candidate;
    if (c.params.empty()) c.params = t.params;
    if (t.state == TrialState::kFailed && !(t.kind == TrialKind::kProbe && probed[t.candidate])) {
      c.failed = true;
    }
    if (!c.parameters) c.parameters = find_in_trial(t, "params");
    if (t.state != TrialState::kCompleted) continue;
    switch (t.kind) {
      case TrialKind::kProbe:
        break;  // fill_latency(): the one that counts
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
  const auto counted_probes = fill_latency(trials, by_candidate);
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
  // The study's front, as the daemon computes it (autodistill/pareto.hpp).
  StudySpec spec = study.spec;
  if (spec.objectives.empty()) spec.objectives = distill_default_objectives();
  const wire::StudySpecT wire_spec = client_wire::to_wire(spec);
  const auto values = exploration_values(trials, counted_probes);
  std::vector<size_t> feasible;
  std::vector<ObjectiveVector> points;
  for (size_t i = 0; i < report.candidates.size(); ++i) {
    auto it = values.find(report.candidates[i].candidate);
    if (it == values.end() || !it->second) continue;
    if (auto y = feasible_objectives(wire_spec, *it->second)) {
      feasible.push_back(i);
      points.push_back(std::move(*y));
    }
  }
  for (size_t i : pareto_front(points)) report.candidates[feasible[i]].on_front = true;
  for (CandidateReport& c : report.candidates) {
    if (const CandidateReport* base = report.baseline_row(); base && !c.baseline) {
      c.dominates_baseline = dominates(c, *base);
    }
  }
  add_glue(report, trials);
  return report;
}

std::optional<ObjectiveVector> feasible_objectives(const StudySpec& spec,
                                                   const std::map<std::string, double>& values,
                                                   bool missing_violates) {
  return feasible_objectives(client_wire::to_wire(spec), values, missing_violates);
}

size_t explored_candidates(const StudyReport& report) {
  return report.candidates.size() - (report.baseline ? 1 : 0);
}

namespace {
// "4 candidates and the baseline evaluated" / "4 candidates evaluated".
std::string evaluated_text(const StudyReport& report) {
  return std::to_string(explored_candidates(report)) + " candidates" +
         (report.baseline ? " and the baseline" : "") + " evaluated";
}
}  // namespace

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

std::vector<std::string> latency_notes(const StudyReport& report) {
  std::vector<std::string> out;
  for (const CandidateReport& c : report.candidates) {
    if (!c.latency_ms) continue;
    const std::string what =
        "candidate " + std::to_string(c.candidate) + ": latency " + latency_with_ci(c);
    const std::string probes =
        std::to_string(c.latency_probes) + (c.latency_probes == 1 ? " probe" : " probes");
    if (c.latency_provisional) {
      out.push_back(what + " is provisional: it did not converge and a re-probe is pending");
    } else if (!c.latency_converged) {
      out.push_back(what + " did not converge in " + probes +
                    (c.latency_unconverged   ? ""
                     : c.latency_probes == 1 ? " and was not re-probed"
                                             : " and its re-probes did not finish") +
                    "; the latest measurement is used");
    } else if (c.latency_probes > 1) {
      out.push_back(what + " from probe " + std::to_string(c.latency_probe) + " of " +
                    std::to_string(c.latency_probes) + ", the converged one");
    }
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
  out << evaluated_text(report) << "\n";
  const std::vector<std::string> notes = latency_notes(report);
  if (!notes.empty()) {
    out << "latency: ! did not converge, ~ provisional (a re-probe is pending)\n";
    for (const std::string& note : notes) out << "  " << note << "\n";
  }
  if (base) {
    out << dominating << " of " << explored_candidates(report)
        << " candidates dominate the baseline (flash accuracy and measured latency)\n";
  } else if (!report.study.spec.baseline.empty()) {
    out << "the baseline (" << architecture_label(report.study.spec.baseline)
        << ") was not evaluated\n";
  }
  if (const std::string glue = glue_table(report); !glue.empty()) out << "\n" << glue;
  return out.str();
}

std::string glue_table(const StudyReport& report) {
  if (report.glue.empty()) return "";
  std::ostringstream out;
  out << "| model | parameters |";
  for (const std::string& task : report.glue_tasks) out << " " << task << " acc / F1 |";
  out << "\n|---|---:|";
  for (size_t i = 0; i < report.glue_tasks.size(); ++i) out << "---:|";
  out << "\n";
  size_t failed = 0;
  for (const GlueRow& row : report.glue) {
    out << "| " << row.label << " | "
        << (row.parameters ? format("%.0f", *row.parameters) : std::string()) << " |";
    for (const std::string& task : report.glue_tasks) {
      auto it = row.scores.find(task);
      std::string cell;
      if (it != row.scores.end()) {
        const GlueScore& s = it->second;
        if (s.failed) {
          cell = "failed";
          ++failed;
        } else if (s.pending) {
          cell = "pending";
        } else if (s.accuracy && s.f1) {
          cell = format("%.3f", *s.accuracy) + " / " + format("%.3f", *s.f1);
        }
      }
      out << " " << cell << " |";
    }
    out << "\n";
  }
  out << "\nGLUE-format tasks: dev accuracy / F1 after fine-tuning each model (Finetune "
         "trials; F1 of the positive class for a binary task, macro-F1 otherwise). The "
         "majority class always predicts the training set's most frequent label.\n";
  if (failed > 0) {
    out << "\nFailed fine-tunings:\n";
    for (const GlueRow& row : report.glue) {
      for (const auto& [task, s] : row.scores) {
        if (s.failed) out << "- " << row.label << ", " << task << ": " << s.error << "\n";
      }
    }
  }
  return out.str();
}

std::string report_markdown(const StudyReport& report) {
  const StudyInfo& s = report.study;
  const CandidateReport* base = report.baseline_row();
  std::ostringstream out;
  out << "# Study " << s.study_id << (s.spec.name.empty() ? "" : ": " + s.spec.name) << "\n\n";
  out << "State: " << to_string(s.state) << (s.message.empty() ? "" : " (" + s.message + ")")
      << ". " << evaluated_text(report);
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
  if (const std::vector<std::string> notes = latency_notes(report); !notes.empty()) {
    out << "## Latency warnings\n\nA probe reports whether the 95 % confidence interval of its "
           "median reached the requested precision; the daemon probes again, later, a latency "
           "that did not (`!` in the table: it never did; `~`: a re-probe is pending).\n\n";
    for (const std::string& note : notes) out << "- " << note << "\n";
    out << "\n";
  }
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
  if (const std::string glue = glue_table(report); !glue.empty()) {
    out << "\n## Downstream (GLUE-format tasks)\n\n" << glue;
  }
  return out.str();
}

}  // namespace autodistill
