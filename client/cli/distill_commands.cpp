#include "distill_commands.hpp"

#include <unistd.h>

#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "autodistill/bounded_json.hpp"
#include "autodistill/distill.hpp"
#include "autodistill/study_json.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "onnx_export.hpp"
#include "progress.hpp"

namespace autodistill::cli {

namespace {

using ojson = nlohmann::ordered_json;

// Applies the flags to `options`; a bad value is a usage error (exit 2) or,
// for a file that cannot be read or parsed, its own code.
Status apply_flags(const Invocation& inv, DistillOptions& options) {
  auto space_path = inv.value("--space");
  auto space = read_text(*space_path, "--space");
  if (!space) return space.status();
  auto spec = parse_study_spec(*space);
  if (!spec) {
    const Status& s = spec.status();
    return Status(s.code(), *space_path + ": " + s.message(), s.field());
  }
  options.spec = std::move(*spec);
  options.teacher = *inv.value("--teacher");
  if (auto dirs = inv.value("--glue-task")) {
    for (size_t start = 0; start <= dirs->size();) {
      const size_t comma = std::min(dirs->find(',', start), dirs->size());
      if (comma == start) {
        return Status(Code::kInvalidArgument, "--glue-task has an empty directory", "--glue-task");
      }
      options.glue_tasks.push_back(dirs->substr(start, comma - start));
      start = comma + 1;
    }
  }
  options.corpus = *inv.value("--corpus");
  if (auto text = inv.value("--objectives")) {
    auto objectives = parse_objectives_text(*text, "--objectives");
    if (!objectives) return objectives.status();
    options.spec.objectives = std::move(*objectives);
  }
  if (auto text = inv.value("--baseline")) {
    if (*text == "default") {
      options.baseline_choice = BaselineChoice::kDefault;
    } else if (*text == "none") {
      options.baseline_choice = BaselineChoice::kNone;
    } else {
      auto file = read_text(*text, "--baseline");
      if (!file) return file.status();
      auto baseline = parse_baseline_json(*file, "--baseline");
      if (!baseline) {
        return Status(Code::kInvalidArgument, *text + ": " + baseline.status().message(),
                      "baseline");
      }
      options.baseline_choice = BaselineChoice::kGiven;
      options.baseline = std::move(*baseline);
    }
  } else if (!options.spec.baseline.empty()) {
    // A baseline written in the space file is the one to use.
    options.baseline_choice = BaselineChoice::kGiven;
    options.baseline = options.spec.baseline;
  }
  if (auto text = inv.value("--region")) {
    if (*text != "baseline" && *text != "front") {
      return Status(Code::kInvalidArgument,
                    "--region wants baseline or front, got \"" + *text + "\"", "--region");
    }
    options.beyond_baseline = *text == "baseline";
  }
  if (auto text = inv.value("--select")) {
    auto selection = parse_selection_text(*text, "--select");
    if (!selection) return selection.status();
    options.spec.selection = *selection;
  }
  auto number = [&](const char* flag, uint64_t max, auto& out) -> Status {
    auto text = inv.value(flag);
    if (!text) return Status::ok();
    auto n = parse_number(*text, flag);
    if (!n) return n.status();
    if (*n > max) {
      return Status(Code::kInvalidArgument,
                    std::string(flag) + " must be at most " + std::to_string(max), flag);
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
    return Status::ok();
  };
  constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
  if (Status s = number("--warm-start", std::numeric_limits<uint64_t>::max(),
                        options.spec.warm_start_study);
      !s) {
    return s;
  }
  if (Status s = number("--budget", kU32, options.spec.max_trials); !s) return s;
  if (Status s = number("--max-wall", kU32, options.spec.max_wall_seconds); !s) return s;
  if (Status s = number("--seed", std::numeric_limits<uint64_t>::max(), options.spec.seed); !s) {
    return s;
  }
  if (auto key = inv.value("--key")) options.idempotency_key = *key;
  if (auto out = inv.value("--out")) options.out_dir = *out;
  options.wait = inv.has("--wait");
  return Status::ok();
}

// Per delivered student (by candidate): the ONNX file, or why there is none.
struct OnnxExports {
  std::map<uint32_t, Result<std::filesystem::path>> by_candidate;
  bool failed = false;
};

OnnxExports export_students(const DistillOutcome& outcome) {
  OnnxExports exports;
  const std::string exporter = find_onnx_exporter();
  for (const DeliveredStudent& s : outcome.students) {
    auto onnx = export_onnx(exporter, s.dir);
    exports.failed = exports.failed || !onnx;
    exports.by_candidate.emplace(s.candidate, std::move(onnx));
  }
  return exports;
}

void report_failed_exports(const OnnxExports& exports) {
  for (const auto& [candidate, onnx] : exports.by_candidate) {
    if (!onnx) {
      std::cerr << "autodistill: no ONNX export of student-" << candidate << ": "
                << onnx.status().message()
                << " (install python3-torch, set AUTODISTILL_EXPORT_ONNX, or pass --no-onnx)\n";
    }
  }
}

// The text of a delivered study, after `distill --wait` and `report`: the
// candidates table, where report.md and pareto.svg are, every student (and
// its ONNX export).
void print_delivery(const DistillOutcome& outcome, const OnnxExports& exports) {
  const std::filesystem::path& dir = outcome.study_dir;
  std::cout << report_table(*outcome.report) << "\nreport: " << (dir / "report.md").string()
            << "\nplot:   " << (dir / "pareto.svg").string() << "\n";
  for (const DeliveredStudent& s : outcome.students) {
    std::cout << "student: " << s.dir.string() << "\n";
    auto it = exports.by_candidate.find(s.candidate);
    if (it != exports.by_candidate.end() && it->second) {
      std::cout << "onnx:    " << it->second->string() << "\n";
    }
  }
}

ojson students_json(const DistillOutcome& outcome, const OnnxExports& exports) {
  ojson out = ojson::array();
  for (const DeliveredStudent& s : outcome.students) {
    ojson student{{"candidate", s.candidate}, {"dir", s.dir.string()}};
    student["accuracy"] = s.accuracy ? ojson(*s.accuracy) : ojson(nullptr);
    student["latency_ms"] = s.latency_ms ? ojson(*s.latency_ms) : ojson(nullptr);
    if (auto it = exports.by_candidate.find(s.candidate); it != exports.by_candidate.end()) {
      student["onnx"] = it->second ? ojson(it->second->string()) : ojson(nullptr);
      if (!it->second) student["onnx_error"] = it->second.status().message();
    }
    out.push_back(std::move(student));
  }
  return out;
}

ojson report_json(const StudyReport& report) {
  ojson rows = ojson::array();
  for (const CandidateReport& c : report.candidates) {
    ojson row{{"candidate", c.candidate}, {"architecture", architecture_label(c.params)}};
    auto opt = [](const std::optional<double>& v) { return v ? ojson(*v) : ojson(nullptr); };
    row["parameters"] = opt(c.parameters);
    row["latency_ms"] = opt(c.latency_ms);
    row["latency_ci_low_ms"] = opt(c.latency_ci_low_ms);
    row["latency_ci_high_ms"] = opt(c.latency_ci_high_ms);
    row["latency_converged"] = c.latency_converged;
    row["latency_provisional"] = c.latency_provisional;
    row["latency_unconverged"] = c.latency_unconverged;
    row["latency_probes"] = c.latency_probes;
    row["flash_accuracy"] = opt(c.flash_accuracy);
    row["regular_accuracy"] = opt(c.regular_accuracy);
    row["baseline"] = c.baseline;
    row["on_front"] = c.on_front;
    row["chosen"] = c.chosen;
    row["failed"] = c.failed;
    row["dominates_baseline"] = c.dominates_baseline;
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

int cmd_distill(const Invocation& inv, Client& client) {
  for (const char* flag : {"--teacher", "--corpus", "--space"}) {
    if (!inv.value(flag)) {
      return usage_error(std::string("distill needs ") + flag +
                             " (autodistill distill --teacher DIR --corpus PATH --space FILE)",
                         flag);
    }
  }
  const bool json = inv.global.json;
  DistillOptions options;
  if (Status s = apply_flags(inv, options); !s) {
    return s.code() == Code::kInvalidArgument && s.field().rfind("--", 0) == 0 ? usage_error(s)
                                                                               : fail(s);
  }
  using Mode = ProgressPrinter::Mode;
  const Mode mode = json ? Mode::kJson : isatty(STDOUT_FILENO) ? Mode::kBar : Mode::kLines;
  std::optional<ProgressPrinter> printer;
  DistillCallbacks callbacks;
  callbacks.on_message = [&](const std::string& line) {
    if (!json) std::cout << "uploaded " << line << "\n" << std::flush;
  };
  callbacks.on_submitted = [&](const SubmitResult& submitted) {
    const StudyInfo& study = submitted.study;
    if (json) {
      std::cout << "{\"study\":" << to_json(study)
                << ",\"created\":" << (submitted.created ? "true" : "false") << "}\n";
    } else if (submitted.created) {
      std::cout << "study " << study.study_id << " created (key " << study.idempotency_key << ")\n";
    } else {
      std::cout << "study " << study.study_id << " resumed (key " << study.idempotency_key << ", "
                << to_string(study.state) << ")\n";
    }
    std::cout << std::flush;
    printer.emplace(std::cout, mode, study);
  };
  callbacks.on_event = [&](const Event& event) {
    if (printer) printer->on_event(event);
    return true;
  };
  auto outcome = distill(client, options, callbacks);
  if (printer) printer->finish();
  if (!outcome) return fail(outcome.status());
  if (!options.wait) return kExitOk;
  const StudyReport& report = *outcome->report;
  const StudyInfo& study = report.study;
  const OnnxExports exports = inv.has("--no-onnx") ? OnnxExports{} : export_students(*outcome);
  if (json) {
    // Our own rendering, read back: deeper than a settings object may be.
    auto rendered = parse_json<ojson>(to_json(study), "study", JsonLimits{128, 64u << 20});
    ojson last{{"study", rendered ? std::move(rendered.value()) : ojson(nullptr)}};
    last["study_dir"] = outcome->study_dir.string();
    last["report"] = (outcome->study_dir / "report.md").string();
    last["pareto_svg"] = (outcome->study_dir / "pareto.svg").string();
    last["students"] = students_json(*outcome, exports);
    last["candidates"] = report_json(report);
    std::cout << json_line(last) << "\n";
  } else {
    std::cout << "study " << study.study_id << " " << to_string(study.state)
              << (study.message.empty() ? "" : ": " + study.message) << "\n\n";
    print_delivery(*outcome, exports);
  }
  report_failed_exports(exports);
  if (study.state == StudyState::kSucceeded && outcome->students.empty()) {
    std::cerr << "autodistill: study " << study.study_id
              << " succeeded but has no regularly distilled student to deliver\n";
    return kExitFailed;
  }
  if (!is_terminal(study.state)) {
    std::cerr << "autodistill: the watch ended while study " << study.study_id << " is "
              << to_string(study.state) << "\n";
  } else if (study.state != StudyState::kSucceeded) {
    std::cerr << "autodistill: study " << study.study_id << " " << to_string(study.state)
              << (study.message.empty() ? "" : ": " + study.message) << "\n";
  }
  if (study.state == StudyState::kSucceeded && exports.failed) return kExitOther;
  return exit_code_for(study.state);
}

int cmd_report(const Invocation& inv, Client& client) {
  auto id = parse_number(inv.positionals[0], "ID");
  if (!id) return usage_error(id.status());
  const std::filesystem::path dir =
      inv.value("--out").value_or("autodistill-out/" + std::to_string(*id));
  // The students report.md lists come with it (a later pipeline job
  // collects a study an earlier one submitted; docs/release-pipeline.md).
  auto outcome = deliver_study(client, *id, dir, !inv.has("--no-students"));
  if (!outcome) return fail(outcome.status());
  const StudyReport& report = *outcome->report;
  const OnnxExports exports = inv.has("--no-onnx") ? OnnxExports{} : export_students(*outcome);
  if (inv.global.json) {
    ojson out{{"study_id", *id},
              {"report", (dir / "report.md").string()},
              {"pareto_svg", (dir / "pareto.svg").string()},
              {"students", students_json(*outcome, exports)},
              {"candidates", report_json(report)}};
    std::cout << json_line(out) << "\n";
  } else {
    print_delivery(*outcome, exports);
  }
  report_failed_exports(exports);
  return exports.failed ? kExitOther : kExitOk;
}

}  // namespace autodistill::cli
