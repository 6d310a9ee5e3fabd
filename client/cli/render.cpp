#include "render.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace autodistill::cli {

namespace {

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string metrics_text(const std::vector<Metric>& metrics) {
  std::vector<std::string> parts;
  for (const Metric& m : metrics) parts.push_back(m.name + "=" + format_number(m.value));
  return parts.empty() ? "-" : join(parts, " ");
}

std::string params_text(const std::vector<ParamValue>& params) {
  std::vector<std::string> parts;
  for (const ParamValue& p : params) {
    parts.push_back(p.name + "=" + (p.category.empty() ? format_number(p.number) : p.category));
  }
  return parts.empty() ? "-" : join(parts, " ");
}

std::string or_dash(const std::string& text) {
  return text.empty() ? "-" : text;
}

}  // namespace

Table::Table(std::vector<std::string> header) {
  rows_.push_back(std::move(header));
}

void Table::add(std::vector<std::string> row) {
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string format_time(int64_t epoch_ms) {
  if (epoch_ms <= 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

std::string format_duration(int64_t ms) {
  if (ms < 0) return "-";
  char text[32];
  if (ms < 1000) {
    std::snprintf(text, sizeof text, "%lld ms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(text, sizeof text, "%lldm %02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldh %02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  }
  return text;
}

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

void print_study(std::ostream& out, const StudyInfo& study) {
  const StudySpec& spec = study.spec;
  std::vector<std::string> objectives;
  for (const Objective& o : spec.objectives) {
    objectives.push_back(o.name + " (" + to_string(o.direction) + ")");
  }
  std::vector<std::string> constraints;
  for (const Constraint& c : spec.constraints) {
    constraints.push_back(c.metric + (c.comparison == Comparison::kLessEqual ? " <= " : " >= ") +
                          format_number(c.bound));
  }
  std::vector<std::string> pareto;
  for (uint64_t id : study.pareto) pareto.push_back(std::to_string(id));
  Table t({"study", std::to_string(study.study_id) +
                        (spec.name.empty() ? std::string() : "  " + spec.name)});
  t.add({"state", std::string(to_string(study.state)) +
                      (study.message.empty() ? std::string() : "  (" + study.message + ")")});
  t.add({"kind", to_string(spec.kind)});
  t.add({"key", or_dash(study.idempotency_key)});
  t.add({"created", format_time(study.created_ms)});
  t.add({"updated", format_time(study.updated_ms)});
  t.add({"trials", std::to_string(study.trials_total) + " total, " +
                       std::to_string(study.trials_completed) + " completed, " +
                       std::to_string(study.trials_failed) + " failed, " +
                       std::to_string(study.trials_running) + " running"});
  t.add({"budget", std::to_string(spec.max_trials) + " candidates"});
  t.add({"objectives", objectives.empty() ? "-" : join(objectives, ", ")});
  t.add({"constraints", constraints.empty() ? "-" : join(constraints, ", ")});
  if (spec.kind == StudyKind::kDistill) {
    t.add({"teacher", or_dash(spec.teacher_digest)});
    t.add({"corpus", or_dash(spec.corpus_digest)});
  }
  t.add({"pareto", pareto.empty() ? "-" : "trials " + join(pareto, ", ")});
  t.print(out);
}

void print_trials(std::ostream& out, const std::vector<TrialInfo>& trials) {
  Table t({"TRIAL", "CAND", "KIND", "STATE", "ATT", "PROGRESS", "STARTED", "TOOK", "PARAMS",
           "OBJECTIVES", "WORKER"});
  for (const TrialInfo& trial : trials) {
    std::string state = to_string(trial.state);
    if (!trial.error.is_ok()) state += " (" + std::string(code_name(trial.error.code())) + ")";
    char progress[16];
    std::snprintf(progress, sizeof progress, "%3.0f%%", 100.0 * trial.progress);
    const std::string took = trial.started_ms == 0 ? "-"
                             : trial.finished_ms == 0
                                 ? "running"
                                 : format_duration(trial.finished_ms - trial.started_ms);
    t.add({std::to_string(trial.trial_id), std::to_string(trial.candidate), to_string(trial.kind),
           state, std::to_string(trial.attempt), progress, format_time(trial.started_ms), took,
           params_text(trial.params), metrics_text(trial.objectives), or_dash(trial.worker_id)});
  }
  t.print(out);
  for (const TrialInfo& trial : trials) {
    if (!trial.error.is_ok()) {
      out << "trial " << trial.trial_id << ": " << trial.error.to_string() << "\n";
    }
    for (const Artifact& a : trial.artifacts) {
      out << "trial " << trial.trial_id << " artifact " << a.name << "  " << a.digest << "  "
          << a.size << " bytes\n";
    }
  }
}

void print_studies(std::ostream& out, const std::vector<StudyInfo>& studies) {
  Table t({"ID", "NAME", "KIND", "STATE", "DONE/TOTAL", "FAILED", "RUNNING", "CREATED"});
  for (const StudyInfo& s : studies) {
    t.add({std::to_string(s.study_id), or_dash(s.spec.name), to_string(s.spec.kind),
           to_string(s.state),
           std::to_string(s.trials_completed) + "/" + std::to_string(s.trials_total),
           std::to_string(s.trials_failed), std::to_string(s.trials_running),
           format_time(s.created_ms)});
  }
  t.print(out);
}

void print_workers(std::ostream& out, const std::vector<WorkerInfo>& workers) {
  Table t({"WORKER", "ROLE", "TAG", "SLOTS", "CONNECTED", "RUNNING", "LAST SEEN"});
  for (const WorkerInfo& w : workers) {
    std::vector<std::string> running;
    for (const TrialRef& r : w.running) {
      running.push_back(std::to_string(r.trial_id) + "#" + std::to_string(r.attempt));
    }
    t.add({w.worker_id, to_string(w.role), or_dash(w.hardware.tag), std::to_string(w.slots),
           w.connected ? "yes" : "no", running.empty() ? "-" : join(running, ","),
           format_time(w.last_seen_ms)});
  }
  t.print(out);
}

}  // namespace autodistill::cli
