// autodistill-probe-worker: measures the serving latency of student
// architectures on this host for autodistilld (role Probe), or exports the
// latency landscape of a design space to CSV (--landscape). docs/probe.md.

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "autodistill/log.hpp"
#include "autodistill/probe/cpu_set.hpp"
#include "autodistill/probe/landscape.hpp"
#include "autodistill/probe/probe_evaluator.hpp"
#include "autodistill/probe/probe_hardware.hpp"
#include "autodistill/probe/student_model.hpp"
#include "autodistill/worker/run_until_signal.hpp"
#include "autodistill/worker/worker_main.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::worker;
using autodistill::probe::ProbeOptions;

constexpr const char* kProgram = "autodistill-probe-worker";

constexpr const char* kUsage =
    R"(autodistill-probe-worker: measures the serving latency of student architectures.

Usage:
  autodistill-probe-worker [--tag TAG] [--cpus LIST] [flags]
  autodistill-probe-worker --landscape SPACE.json --out FILE.csv [--cpus LIST] [flags]

As a worker it connects to autodistilld, says it is a Probe worker with this
host's hardware (CPU model, the cores it is pinned to, LibTorch version,
accelerator) under --tag, and pulls the probe trials of studies whose
hardware_tag equals the tag. For each it takes the host-wide probe lock,
builds the student (normally initialized), warms the forward pass up and
times it at the study's serving setting until the median is known to
--precision, and reports latency_ms (median), params and flops, with p90/p99,
mean, std, runs, throughput, peak memory and the hardware fingerprint.

With --landscape it probes every architecture of a study spec file's design
space on this host instead, writing one CSV row per point to --out (rows are
flushed as they are measured; SIGINT stops the export).

Noise: pin the worker to cores nothing else uses (--cpus); one probe runs at a
time per host (--lock-file, shared by every probe worker of the host; other
heavy work may hold it shared: flock -s FILE CMD). See docs/probe.md.

SIGINT or SIGTERM stops the worker cleanly; a second signal exits at once.
Exit status: 0 after a clean stop, 1 when the worker failed, 2 for bad flags.)";

Result<double> parse_fraction(const std::string& text) {
  std::istringstream in(text);
  double value = 0;
  in >> value;
  if (text.empty() || !in.eof() || in.fail() || !std::isfinite(value) || value <= 0 || value >= 1) {
    return Status(Code::kInvalidArgument, "\"" + text + "\" is not a fraction in (0, 1)");
  }
  return value;
}

struct ProbeFlags {
  ProbeOptions probe;
  std::string cpus;  // --cpus as given; "" = the CPUs allowed at start
  std::string landscape;
  std::string out;
  int64_t warmup_ms = 0;
  int64_t max_time_ms = 0;
  int64_t max_total_ms = 0;
  int64_t max_scaled_total_ms = 0;
};

void add_probe_flags(FlagParser& parser, ProbeFlags& f) {
  probe::TimingOptions& t = f.probe.timing;
  f.warmup_ms = t.warmup_time.count();
  f.max_time_ms = t.max_time.count();
  f.max_total_ms = t.max_total_time.count();
  f.max_scaled_total_ms = t.max_scaled_total_time.count();
  parser.add("cpus", "LIST",
             "Pin the worker (every thread) to these CPUs, e.g. 0-3 or 2,3 (default:\n"
             "the CPUs it may run on). Give it cores no distillation uses.",
             [&f](const std::string& v) {
               f.cpus = v;
               return probe::parse_cpu_list(v).status();
             });
  parser.add("lock-file", "PATH",
             "Host-wide probe lock: one probe at a time per host (default\n" +
                 f.probe.lock_path.string() +
                 "). Every probe worker of the host must use\n"
                 "the same file; other work may hold it shared (flock -s).",
             [&f](const std::string& v) {
               if (v.empty()) return Status(Code::kInvalidArgument, "needs a path");
               f.probe.lock_path = v;
               return Status::ok();
             });
  parser.add("precision", "FRACTION",
             "Stop timing once the 95% confidence interval of the median is within\n"
             "+-FRACTION of it (default 0.01).",
             [&t](const std::string& v) {
               auto p = parse_fraction(v);
               if (!p) return p.status();
               t.precision = p.value();
               return Status::ok();
             });
  parser.add_int("warmup-runs", "Untimed runs before timing, at least (default 3).", &t.warmup_runs,
                 0, 1000000);
  parser.add_int("warmup-ms", "Untimed warm-up time, at least (default 100).", &f.warmup_ms, 0,
                 600000);
  parser.add_int("min-runs", "Timed runs before the stop rule applies (default 20).", &t.min_runs,
                 1, 10000000);
  parser.add_int("max-runs", "Timed runs per attempt, at most (default 2000).", &t.max_runs, 1,
                 10000000);
  parser.add_int("max-time-ms", "Timed-run time per attempt, at most (default 1500).",
                 &f.max_time_ms, 1, 3600000);
  parser.add_int("max-total-ms",
                 "Timed-run time per probe, all attempts together, at most (default 1200).",
                 &f.max_total_ms, 1, 3600000);
  parser.add_int("target-runs",
                 "Grow the per-probe budget to this many runs of the forward pass the\n"
                 "warm-up measured, when --max-total-ms allows fewer; 0: never (default 60).",
                 &t.target_runs, 0, 10000000);
  parser.add_int("max-scaled-total-ms", "The grown per-probe budget, at most (default 20000).",
                 &f.max_scaled_total_ms, 1, 3600000);
  parser.add("max-spread", "FRACTION",
             "Re-probe an attempt whose (p75 - p25) / median exceeds this (default 0.10).",
             [&t](const std::string& v) {
               auto p = parse_fraction(v);
               if (!p) return p.status();
               t.max_spread = p.value();
               return Status::ok();
             });
  parser.add_int("max-reprobes", "Re-probes of a too-wide attempt, at most (default 2).",
                 &t.max_reprobes, 0, 100);
  parser.add_text("landscape", "SPACE.json",
                  "Probe every point of the design space in this study spec file locally\n"
                  "and write the CSV to --out (no daemon needed).",
                  &f.landscape);
  parser.add_text("out", "FILE.csv", "Where --landscape writes its CSV.", &f.out);
}

int fail_flags(const Status& status) {
  return usage_error(kProgram, status);
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, "cannot read " + path, "--landscape");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int export_landscape(const ProbeFlags& f, const std::string& fingerprint) {
  auto text = read_text(f.landscape);
  if (!text) return fail_flags(text.status());
  auto space = probe::parse_design_space(text.value());
  if (!space) {
    return fail_flags(Status(
        Code::kInvalidArgument,
        f.landscape + ": " + space.status().message() + " (field " + space.status().field() + ")"));
  }
  std::ofstream csv(f.out, std::ios::trunc);
  if (!csv) return fail_flags(Status(Code::kInvalidArgument, "cannot write " + f.out));
  log_line(LogLevel::kInfo, "probing " + std::to_string(space->size()) + " points of " +
                                f.landscape + " into " + f.out);
  Status status =
      probe::write_landscape(space.value(), f.probe, probe::student_model_factory(), fingerprint,
                             csv, [](const std::string& line) { log_line(LogLevel::kInfo, line); });
  if (!status) {
    log_line(LogLevel::kError, status.to_string());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ProbeFlags f;
  std::vector<int> cpus;
  wire::HardwareT hardware;
  WorkerProgram program;
  program.name = kProgram;
  program.role = wire::Role::Probe;
  program.usage = kUsage;
  program.add_flags = [&f](FlagParser& parser) { add_probe_flags(parser, f); };
  program.check = [&](WorkerFlags& flags) {
    f.probe.timing.warmup_time = std::chrono::milliseconds(f.warmup_ms);
    f.probe.timing.max_time = std::chrono::milliseconds(f.max_time_ms);
    f.probe.timing.max_total_time = std::chrono::milliseconds(f.max_total_ms);
    f.probe.timing.max_scaled_total_time = std::chrono::milliseconds(f.max_scaled_total_ms);
    if (Status s = probe::validate(f.probe.timing); !s) {
      return Status(Code::kInvalidArgument, "timing: " + s.message(), s.field());
    }
    if (flags.options.slots != 1) {
      return Status(Code::kInvalidArgument,
                    "a probe worker measures one trial at a time (--slots 1); run one probe "
                    "worker per host",
                    "--slots");
    }
    if (!flags.options.studies.empty()) {
      return Status(Code::kInvalidArgument,
                    "--study is for external workers; probe trials are routed by --tag", "--study");
    }
    if (f.landscape.empty() != f.out.empty()) {
      return Status(Code::kInvalidArgument, "--landscape and --out go together", "--out");
    }
    // Pin before LibTorch starts its thread pools, so they inherit the mask.
    cpus = probe::allowed_cpus();
    if (!f.cpus.empty()) {
      cpus = probe::parse_cpu_list(f.cpus).value();
      if (Status s = probe::pin_process_to_cpus(cpus); !s) return s;
    }
    f.probe.max_threads = static_cast<int>(cpus.size());
    return Status::ok();
  };
  program.other_mode = [&](WorkerFlags& flags) -> std::optional<int> {
    hardware = probe::describe_probe_host(flags.tag, cpus);
    log_line(LogLevel::kInfo,
             "CPUs " + probe::format_cpu_list(cpus) + " (" + std::to_string(hardware.cores) +
                 " cores), lock " + f.probe.lock_path.string() + ", LibTorch " +
                 hardware.torch_version +
                 (hardware.accelerator.empty() ? "" : ", " + hardware.accelerator) +
                 ", fingerprint " + hardware.fingerprint);
    if (f.landscape.empty()) return std::nullopt;
    unblock_stop_signals();  // SIGINT ends the export; the rows so far are flushed
    return export_landscape(f, hardware.fingerprint);
  };
  program.describe_hardware = [&](WorkerFlags& flags) { flags.options.hardware = hardware; };
  program.make_evaluator = [&](WorkerFlags&) -> Result<std::unique_ptr<Evaluator>> {
    return std::unique_ptr<Evaluator>(std::make_unique<probe::ProbeEvaluator>(
        f.probe, probe::student_model_factory(), hardware.fingerprint));
  };
  return run_worker_main(argc, argv, program);
}
