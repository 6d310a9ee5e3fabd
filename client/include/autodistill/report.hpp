#pragma once
// The report of a Distill study (paper Table 2 and Fig. 4): one row per
// evaluated candidate with its architecture, parameters, measured latency
// and accuracy, each relative to the baseline, and the accuracy-vs-latency
// plot with the Pareto front.
//
// Where the numbers come from, per candidate (trials grouped by candidate):
//   latency_ms        the Probe trial's `latency_ms` objective; of several
//                     (the daemon re-probes a latency that did not converge),
//                     the latest converged one, else the latest
//                     (autodistill/probe_choice.hpp: the daemon's selection
//                     uses the same one)
//   flash accuracy    the Flash trial's `accuracy` objective (MLM accuracy)
//   regular accuracy  the Regular trial's `accuracy`, for chosen candidates
//   params            `params` from any of its trials' objectives or metrics,
//                     else the analytic count of the architecture
// The baseline is the candidate whose parameters equal spec.baseline (the
// daemon evaluates it as candidate 0). "Dominates the baseline" compares
// like with like, the flash results every candidate has: accuracy >= the
// baseline's and latency <= the baseline's, one of them strictly. The
// Pareto front (on_front) is the study's, computed as the daemon computes
// it (autodistill/pareto.hpp): of the candidates whose exploration trials
// (the probe that counts, flash) all completed, those within every
// constraint of spec.constraints (a constrained metric they lack violates;
// a NaN violates nothing) with every objective of spec.objectives measured
// and finite, the ones no other dominates. With the Distill objectives
// (distill_default_objectives(), assumed when the spec has none) that is the
// front of the plot: maximize flash accuracy, minimize latency.
//
// Thread-safety: pure functions, thread-safe.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/study.hpp"

namespace autodistill {

struct CandidateReport {
  uint32_t candidate = 0;
  std::vector<ParamValue> params;
  std::optional<double> parameters;          // parameter count
  std::optional<double> latency_ms;          // measured by the probe (the one that counts)
  std::optional<double> latency_ci_low_ms;   // its median's 95 % confidence interval
  std::optional<double> latency_ci_high_ms;  //
  uint32_t latency_probes = 0;               // completed probe measurements of the candidate
  uint32_t latency_probe = 0;                // which of them counts (1-based)
  bool latency_converged = true;             // it converged (or does not say)
  bool latency_provisional = false;          // it did not converge and a re-probe is pending
  bool latency_unconverged = false;        // marked by the daemon: re-probes spent, none converged
  std::optional<double> flash_accuracy;    // after flash distillation
  std::optional<double> regular_accuracy;  // after regular distillation (chosen only)
  std::vector<Artifact> artifacts;         // the Regular trial's (the delivered student)
  bool failed = false;                     // a trial of the candidate failed
  bool baseline = false;
  bool on_front = false;  // on the study's Pareto front (see above)
  bool chosen = false;    // got a Regular trial
  bool dominates_baseline = false;
};

// One model's result on one GLUE task: its Finetune trial's dev scores.
struct GlueScore {
  std::optional<double> accuracy;
  std::optional<double> f1;  // binary: the positive class's; otherwise the macro-F1
  bool failed = false;       // the Finetune trial failed (error says why)
  bool pending = false;      // queued or running
  std::string error;
};

// A row of the GLUE table: the teacher, the baseline, a delivered student
// or the majority class, with a score per task.
struct GlueRow {
  std::string label;                        // "teacher", "baseline (candidate 0)", "student-3", ...
  std::optional<uint32_t> candidate;        // none for the teacher and the majority class
  std::optional<double> parameters;         // the fine-tuned model's (its trial's `params` metric)
  std::map<std::string, GlueScore> scores;  // by task name
};

struct StudyReport {
  StudyInfo study;
  std::vector<CandidateReport> candidates;  // by candidate index
  std::optional<size_t> baseline;           // index into candidates, when evaluated
  // The GLUE step (settings.glue): the study's task names, sorted, and the
  // rows teacher, baseline, students by candidate, majority class. Empty
  // without Finetune trials.
  std::vector<std::string> glue_tasks;
  std::vector<GlueRow> glue;

  const CandidateReport* baseline_row() const {
    return baseline ? &candidates[*baseline] : nullptr;
  }
};

// The study's point for the Pareto front from a candidate's values (its
// objectives and metrics by name): autodistill::feasible_objectives() over
// spec's objectives and constraints; with `missing_violates` false a
// constrained metric the values lack is passed over (a partial view, as the
// CLI's progress has).
std::optional<std::vector<double>> feasible_objectives(const StudySpec& spec,
                                                       const std::map<std::string, double>& values,
                                                       bool missing_violates = true);

// Groups the study's trials by candidate and fills in the comparisons.
StudyReport build_report(const StudyInfo& study, const std::vector<TrialInfo>& trials);

// The candidates the search evaluated: the baseline apart (the daemon runs
// it outside the max_trials budget), as the CLI's progress counts them.
// report.md and report_table() both say "N candidates and the baseline
// evaluated" with this N.
size_t explored_candidates(const StudyReport& report);

// "K4 H128 B64 A4 I256 F2": the architecture factors in the order of the
// paper's Table 1; other factors follow as name=value.
std::string architecture_label(const std::vector<ParamValue>& params);

// The plain-text table for a terminal: every evaluated candidate, baseline
// first, then by latency; deltas relative to the baseline; "✓" where the
// candidate dominates it; a latency that did not converge marked "!", a
// provisional one "~", and the latency notes below the table.
std::string report_table(const StudyReport& report);

// One line per candidate whose latency needs a word: it did not converge
// (with its CI and how many probes), it is provisional (a re-probe is
// pending), or it comes from a re-probe (which one). Empty when every
// candidate's first probe converged.
std::vector<std::string> latency_notes(const StudyReport& report);

// The GLUE table in Markdown (a row per model, a column "acc / F1" per
// task, failed trials shown as "failed"), with its footnote; "" when the
// study has no Finetune trials. report_table() and report_markdown() end
// with it.
std::string glue_table(const StudyReport& report);

// report.md: the study, the same table in Markdown, the latency notes, the
// chosen students, the GLUE table and a reference to pareto.svg.
std::string report_markdown(const StudyReport& report);

// pareto.svg: a self-contained SVG, flash accuracy (y) against measured
// latency (x) for every candidate, the Pareto front as a step line, the
// baseline as a red diamond, chosen candidates ringed.
std::string pareto_svg(const StudyReport& report);

}  // namespace autodistill
