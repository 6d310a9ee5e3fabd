// The Distill study report: the candidate table against the baseline,
// report.md and the self-contained pareto.svg.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "autodistill/distill.hpp"
#include "autodistill/glue_settings.hpp"
#include "autodistill/report.hpp"

using namespace autodistill;
namespace fs = std::filesystem;

namespace {

std::vector<ParamValue> arch(double blocks, double hidden, double ffn) {
  return {{"bottleneck_size", 16, ""}, {"hidden_size", hidden, ""}, {"intermediate_size", 64, ""},
          {"num_blocks", blocks, ""},  {"num_heads", 2, ""},        {"num_stacked_ffn", ffn, ""}};
}

uint64_t next_trial = 1;

TrialInfo trial(uint32_t candidate, TrialKind kind, const std::vector<ParamValue>& params,
                std::vector<Metric> objectives, TrialState state = TrialState::kCompleted) {
  TrialInfo t;
  t.trial_id = next_trial++;
  t.study_id = 7;
  t.candidate = candidate;
  t.kind = kind;
  t.state = state;
  t.params = params;
  t.objectives = std::move(objectives);
  return t;
}

// Baseline (candidate 0): 2 ms, 0.30. Candidate 1 dominates it (faster and
// better); 2 is faster but worse; 3 failed its flash; 4 is better but
// slower. 1 and 4 were regularly distilled.
std::pair<StudyInfo, std::vector<TrialInfo>> study() {
  StudyInfo info;
  info.study_id = 7;
  info.state = StudyState::kSucceeded;
  info.spec.name = "tiny";
  info.spec.baseline = arch(2, 32, 4);
  std::vector<TrialInfo> trials = {
      trial(0, TrialKind::kProbe, arch(2, 32, 4), {{"latency_ms", 2.0}}),
      trial(0, TrialKind::kFlash, arch(2, 32, 4), {{"accuracy", 0.30}}),
      trial(1, TrialKind::kProbe, arch(1, 32, 1), {{"latency_ms", 1.0}}),
      trial(1, TrialKind::kFlash, arch(1, 32, 1), {{"accuracy", 0.32}}),
      trial(2, TrialKind::kProbe, arch(1, 16, 1), {{"latency_ms", 0.5}}),
      trial(2, TrialKind::kFlash, arch(1, 16, 1), {{"accuracy", 0.20}}),
      trial(3, TrialKind::kProbe, arch(3, 64, 1), {{"latency_ms", 3.0}}),
      trial(3, TrialKind::kFlash, arch(3, 64, 1), {}, TrialState::kFailed),
      trial(4, TrialKind::kProbe, arch(4, 64, 2), {{"latency_ms", 4.0}}),
      trial(4, TrialKind::kFlash, arch(4, 64, 2), {{"accuracy", 0.40}}),
      trial(1, TrialKind::kRegular, arch(1, 32, 1), {{"accuracy", 0.36}}),
      trial(4, TrialKind::kRegular, arch(4, 64, 2), {{"accuracy", 0.45}}),
  };
  trials[1].metrics = {{"params", 50000}};
  trials[10].artifacts = {{"model.safetensors", std::string(64, 'e'), 10}};
  return {info, trials};
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("build_report groups trials by candidate and compares with the baseline") {
  auto [info, trials] = study();
  StudyReport report = build_report(info, trials);
  REQUIRE(report.candidates.size() == 5);
  REQUIRE(report.baseline);
  const CandidateReport& base = *report.baseline_row();
  CHECK(base.candidate == 0);
  CHECK(base.baseline);
  CHECK(base.parameters == 50000);  // the reported metric wins over the analytic count
  const auto& c = report.candidates;
  CHECK(c[1].latency_ms == 1.0);
  CHECK(c[1].flash_accuracy == 0.32);
  CHECK(c[1].regular_accuracy == 0.36);
  CHECK(c[1].chosen);
  CHECK(c[1].artifacts.size() == 1);
  CHECK(c[1].dominates_baseline);
  CHECK_FALSE(c[2].dominates_baseline);
  CHECK_FALSE(c[3].dominates_baseline);
  CHECK(c[3].failed);
  CHECK_FALSE(c[4].dominates_baseline);
  // The front: 2 (fastest), 1, 4 (most accurate); not the baseline.
  CHECK(c[1].on_front);
  CHECK(c[2].on_front);
  CHECK(c[4].on_front);
  CHECK_FALSE(c[0].on_front);
  CHECK_FALSE(c[3].on_front);
  // Without a reported count, the analytic one (vocabulary 30522 by default).
  REQUIRE(c[2].parameters);
  CHECK(*c[2].parameters > 30522 * 16);
}

TEST_CASE("Finetune trials (a delivered model on a GLUE task) leave the candidate table alone") {
  auto [info, trials] = study();
  // A fine-tuning of the teacher filed under the baseline's candidate, with the
  // teacher's parameter count and a GLUE accuracy.
  TrialInfo glue = trial(0, TrialKind::kFinetune, arch(2, 32, 4), {{"accuracy", 0.91}});
  glue.metrics = {{"params", 4.4e6}};
  trials.insert(trials.begin(), glue);
  CHECK(std::string(to_string(TrialKind::kFinetune)) == "finetune");
  StudyReport report = build_report(info, trials);
  REQUIRE(report.candidates.size() == 5);
  const CandidateReport& base = *report.baseline_row();
  CHECK(base.parameters == 50000);
  CHECK(base.flash_accuracy == 0.30);
  CHECK_FALSE(base.chosen);
}

TEST_CASE("the table lists the baseline first, deltas against it, and ticks dominators") {
  auto [info, trials] = study();
  const std::string table = report_table(build_report(info, trials));
  INFO(table);
  std::istringstream lines(table);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  CHECK(header.find("latency ms") != std::string::npos);
  CHECK(first.rfind("0 ", 0) == 0);
  CHECK(first.find("baseline") != std::string::npos);
  CHECK(first.find("K2 H32 B16 A2 I64 F4") != std::string::npos);
  CHECK(second.rfind("2 ", 0) == 0);  // then by latency
  CHECK(table.find("1.000 (-50.0%)") != std::string::npos);
  CHECK(table.find("0.3200 (+2.00 pt)") != std::string::npos);
  CHECK(count(table, "✓") == 1);
  CHECK(table.find("1 of 4 candidates dominate the baseline") != std::string::npos);
  CHECK(table.find("failed") != std::string::npos);

  info.spec.baseline = arch(9, 9, 9);  // never evaluated
  const std::string missing = report_table(build_report(info, trials));
  CHECK(count(missing, "✓") == 0);
  CHECK(missing.find("was not evaluated") != std::string::npos);
}

TEST_CASE("report.md and the terminal table count candidates the same way, baseline apart") {
  auto [info, trials] = study();
  const StudyReport report = build_report(info, trials);
  CHECK(explored_candidates(report) == 4);
  const std::string table = report_table(report);
  const std::string markdown = report_markdown(report);
  INFO(table << "\n---\n" << markdown);
  CHECK(table.find("4 candidates and the baseline evaluated") != std::string::npos);
  CHECK(markdown.find("4 candidates and the baseline evaluated") != std::string::npos);
  CHECK(markdown.find("5 candidates") == std::string::npos);

  info.spec.baseline.clear();  // no baseline: every candidate counts
  const StudyReport plain = build_report(info, trials);
  CHECK(explored_candidates(plain) == 5);
  CHECK(report_table(plain).find("5 candidates evaluated") != std::string::npos);
  CHECK(report_markdown(plain).find("5 candidates evaluated") != std::string::npos);
}

TEST_CASE("pareto.svg is self-contained and marks front, baseline and chosen students") {
  auto [info, trials] = study();
  const std::string svg = pareto_svg(build_report(info, trials));
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("href") == std::string::npos);  // nothing external
  CHECK(svg.find("<script") == std::string::npos);
  // 4 plotted candidates (3 failed): 3 dots + the baseline diamond; the
  // legend adds a dot of each kind and a diamond.
  CHECK(count(svg, "<title>candidate") == 4);
  CHECK(count(svg, "fill=\"#d62728\"/>") == 2);
  CHECK(count(svg, "stroke=\"#2ca02c\"") == 3);  // 2 chosen + legend
  CHECK(count(svg, "<polyline") == 1);
  // Balanced groups.
  CHECK(count(svg, "<g") == count(svg, "</g>"));

  StudyInfo empty;
  CHECK(pareto_svg(build_report(empty, {})).find("no candidate has both") != std::string::npos);
}

TEST_CASE("write_report writes report.md and pareto.svg") {
  auto [info, trials] = study();
  const fs::path dir =
      fs::temp_directory_path() / ("autodistill-report-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  REQUIRE(write_report(build_report(info, trials), dir));
  std::ifstream md(dir / "report.md");
  std::stringstream text;
  text << md.rdbuf();
  CHECK(text.str().find("# Study 7: tiny") != std::string::npos);
  CHECK(text.str().find("| 1* | K1 H32 B16 A2 I64 F1 |") != std::string::npos);
  CHECK(text.str().find("![accuracy vs latency](pareto.svg)") != std::string::npos);
  CHECK(text.str().find("`student-1/`") != std::string::npos);
  CHECK(fs::file_size(dir / "pareto.svg") > 1000);
  fs::remove_all(dir);
}

TEST_CASE("latency that did not converge is shown with its CI and a warning") {
  auto made = study();  // not a structured binding: a lambda captures it (clang-14)
  StudyInfo& info = made.first;
  std::vector<TrialInfo>& trials = made.second;
  auto probe = [&](uint32_t c, double latency, bool converged, double low, double high,
                   TrialState state = TrialState::kCompleted) {
    for (const TrialInfo& t : trials) {
      if (t.candidate == c) {
        TrialInfo p = trial(c, TrialKind::kProbe, t.params, {{"latency_ms", latency}}, state);
        p.metrics = {{"converged", converged ? 1.0 : 0.0},
                     {"median_ci_low_ms", low},
                     {"median_ci_high_ms", high}};
        return p;
      }
    }
    FAIL("no candidate " << c);
    return TrialInfo{};
  };
  // Candidate 2: never converged (0.5 ms, then 0.6 ms): marked by the daemon.
  trials[4].metrics = {{"converged", 0}, {"median_ci_low_ms", 0.3}, {"median_ci_high_ms", 0.9}};
  TrialInfo marked = probe(2, 0.6, false, 0.4, 1.1);
  marked.metrics.push_back({"latency_unconverged", 1});
  trials.push_back(marked);
  // Candidate 4: 4 ms did not converge, the re-probe converged at 3.5 ms.
  trials[8].metrics = {{"converged", 0}};
  trials.push_back(probe(4, 3.5, true, 3.45, 3.55));
  // Candidate 1: did not converge yet; a re-probe is queued.
  trials[2].metrics = {{"converged", 0}, {"median_ci_low_ms", 0.9}, {"median_ci_high_ms", 1.4}};
  trials.push_back(probe(1, 0, false, 0, 0, TrialState::kQueued));

  const StudyReport report = build_report(info, trials);
  const auto& c = report.candidates;
  CHECK(c[2].latency_ms == 0.6);  // the latest: none converged
  CHECK(c[2].latency_probes == 2);
  CHECK_FALSE(c[2].latency_converged);
  CHECK(c[2].latency_unconverged);
  CHECK(c[2].latency_ci_low_ms == 0.4);
  CHECK(c[2].latency_ci_high_ms == 1.1);
  CHECK_FALSE(c[2].failed);
  CHECK(c[4].latency_ms == 3.5);  // the converged one
  CHECK(c[4].latency_converged);
  CHECK(c[4].latency_probes == 2);
  CHECK(c[1].latency_ms == 1.0);
  CHECK(c[1].latency_provisional);
  CHECK_FALSE(c[0].latency_provisional);
  CHECK(c[0].latency_converged);  // no converged metric: nothing says otherwise

  const std::string table = report_table(report);
  INFO(table);
  CHECK(table.find("0.600 !") != std::string::npos);
  CHECK(table.find("1.000 ~") != std::string::npos);
  CHECK(table.find("candidate 2: latency 0.600 ms (95% CI 0.400-1.100) did not converge in 2 "
                   "probes; the latest measurement is used") != std::string::npos);
  CHECK(table.find("candidate 1: latency 1.000 ms (95% CI 0.900-1.400) is provisional: it did "
                   "not converge and a re-probe is pending") != std::string::npos);
  CHECK(table.find("candidate 4: latency 3.500 ms (95% CI 3.450-3.550) from probe 2 of 2, the "
                   "converged one") != std::string::npos);
  const std::string md = report_markdown(report);
  CHECK(md.find("## Latency warnings") != std::string::npos);
  CHECK(md.find("did not converge in 2 probes") != std::string::npos);

  // A study whose probes all converged has no warnings.
  auto [quiet_info, quiet] = study();
  const std::string quiet_table = report_table(build_report(quiet_info, quiet));
  CHECK(quiet_table.find("converge") == std::string::npos);
  CHECK(quiet_table.find("provisional") == std::string::npos);
  CHECK(report_markdown(build_report(quiet_info, quiet)).find("Latency warnings") ==
        std::string::npos);
}

TEST_CASE("a failed re-probe does not make the candidate failed") {
  auto [info, trials] = study();
  trials[2].metrics = {{"converged", 0}};
  trials.push_back(trial(1, TrialKind::kProbe, trials[2].params, {}, TrialState::kFailed));
  const StudyReport report = build_report(info, trials);
  CHECK_FALSE(report.candidates[1].failed);
  CHECK(report.candidates[1].latency_ms == 1.0);
  CHECK(report.candidates[1].dominates_baseline);
}

TEST_CASE("the GLUE table: teacher, baseline, students, majority class, failures shown") {
  auto made = study();  // not a structured binding: a lambda captures it (clang-14)
  StudyInfo& info = made.first;
  std::vector<TrialInfo>& trials = made.second;
  info.spec.settings_json = R"({"glue": {"tasks": {"pos": ")" + std::string(64, 'a') +
                            R"(", "testament": ")" + std::string(64, 'b') + R"("}}})";
  auto finetune = [&](uint32_t candidate, const std::string& task, double acc, double f1,
                      TrialState state = TrialState::kCompleted) {
    TrialInfo t = trial(candidate, TrialKind::kFinetune, {{"glue_task", 0, task}},
                        {{"accuracy", acc}, {"f1", f1}, {"macro_f1", f1}}, state);
    t.metrics = {{"majority_accuracy", task == "pos" ? 0.25 : 0.5},
                 {"majority_f1", task == "pos" ? 0.1 : 0.0},
                 {"params", candidate == kTeacherCandidate ? 376994.0 : 1000.0 + candidate}};
    if (state == TrialState::kFailed) t.error = Status(Code::kInvalidArgument, "too long");
    trials.push_back(t);
  };
  finetune(4, "testament", 0.70, 0.71);
  finetune(4, "pos", 0, 0, TrialState::kFailed);
  finetune(kTeacherCandidate, "testament", 0.77, 0.78);
  finetune(kTeacherCandidate, "pos", 0.73, 0.70);
  finetune(0, "testament", 0.60, 0.61);
  finetune(0, "pos", 0, 0, TrialState::kLeased);
  finetune(1, "testament", 0.65, 0.66);
  finetune(1, "pos", 0.55, 0.50);

  const StudyReport report = build_report(info, trials);
  REQUIRE(report.glue_tasks == std::vector<std::string>{"pos", "testament"});
  REQUIRE(report.glue.size() == 5);
  CHECK(report.glue[0].label == "teacher");
  CHECK(report.glue[1].label.rfind("baseline (", 0) == 0);
  CHECK(report.glue[2].label.rfind("student-1 (", 0) == 0);
  CHECK(report.glue[3].label.rfind("student-4 (", 0) == 0);
  CHECK(report.glue[4].label == "majority class");
  CHECK(report.glue[0].parameters == 376994);
  CHECK(report.glue[4].scores.at("pos").accuracy == 0.25);

  const std::string table = glue_table(report);
  INFO(table);
  CHECK(table.find("| model | parameters | pos acc / F1 | testament acc / F1 |") == 0);
  CHECK(table.find("| teacher | 376994 | 0.730 / 0.700 | 0.770 / 0.780 |") != std::string::npos);
  CHECK(table.find("| pending | 0.600 / 0.610 |") != std::string::npos);
  CHECK(table.find("| 1004 | failed | 0.700 / 0.710 |") != std::string::npos);
  CHECK(table.find("| majority class |  | 0.250 / 0.100 | 0.500 / 0.000 |") != std::string::npos);
  CHECK(table.find("pos: too long") != std::string::npos);
  // report.md and the terminal table end with it; a study without Finetune
  // trials has none.
  CHECK(report_markdown(report).find("## Downstream (GLUE-format tasks)\n\n" + table) !=
        std::string::npos);
  CHECK(report_table(report).find(table) != std::string::npos);
  auto [plain_info, plain] = study();
  CHECK(glue_table(build_report(plain_info, plain)).empty());
}
