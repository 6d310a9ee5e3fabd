// autodistill-worker: the generic External worker. It evaluates the trials
// of the studies it names with a command (--exec, any language, JSON on
// stdin/stdout) or a built-in test function (--builtin). docs/worker.md.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/worker/builtin_evaluators.hpp"
#include "autodistill/worker/exec_evaluator.hpp"
#include "autodistill/worker/flag_parser.hpp"
#include "autodistill/worker/pull_worker.hpp"
#include "autodistill/worker/run_until_signal.hpp"
#include "autodistill/worker/worker_flags.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::worker;

constexpr const char* kUsage =
    R"(autodistill-worker: evaluates the trials of External studies for autodistilld.

Usage:
  autodistill-worker --study ID [--study ID ...] (--exec "CMD" | --builtin NAME) [flags]

The worker connects to the daemon, pulls trials of the named studies, evaluates
each one and reports its objectives. It reconnects on its own when the daemon
restarts, and results finished meanwhile are delivered afterwards.

--exec "CMD" runs CMD with /bin/sh -c for every trial. The trial arrives on
stdin as one JSON object:
  {"trial_id": 12, "attempt": 1, "study_id": 3, "kind": "external",
   "params": {"x": 0.5, "optimizer": "adam"}, "objectives": ["loss", "cost"],
   "settings": {...study settings...}, "scratch_dir": "/tmp/..."}
CMD prints exactly one JSON object on stdout (logs go to stderr):
  {"objectives": {"loss": 0.31, "cost": 12.5}, "metrics": {"epochs": 3},
   "artifacts": {"model.bin": "model.bin"}}
or, when the trial cannot be evaluated:
  {"error": "why", "retryable": false}
"metrics" and "artifacts" are optional (artifact paths are relative to
scratch_dir, and the files are uploaded to the daemon). "retryable" defaults to
true: the daemon then retries the trial with a new attempt. A non-zero exit
status is a retryable failure carrying the end of stderr; output that is not
such an object is a permanent failure. CMD's process group is killed when the
trial is cancelled or the worker stops. The environment also carries
AUTODISTILL_TRIAL_ID, AUTODISTILL_ATTEMPT, AUTODISTILL_STUDY_ID and
AUTODISTILL_SCRATCH_DIR.

--builtin NAME evaluates a test function instead:
  quadratic   objective j = sum over numeric params of (x_i - j)^2
  sleep:MS    sleeps MS milliseconds (interruptibly), then quadratic

SIGINT or SIGTERM stops the worker cleanly (running trials are cancelled and
re-queued by the daemon) and it exits 0; a second signal exits at once.

Exit status: 0 after a clean stop, 1 when the worker failed (for example the
daemon rejected it), 2 for bad flags.)";

}  // namespace

int main(int argc, char** argv) {
  block_stop_signals();

  WorkerFlags flags;
  flags.options.role = wire::Role::External;
  flags.options.software_version = "autodistill-worker " AUTODISTILL_VERSION;
  std::string exec;
  std::string builtin;
  FlagParser parser(kUsage);
  add_worker_flags(parser, flags);
  parser.add("role", "ROLE",
             "external, the only role this worker serves (accepted for uniform\n"
             "service files; the distill and probe workers are their own executables).",
             [](const std::string& v) {
               if (v != "external") {
                 return Status(
                     Code::kInvalidArgument,
                     "autodistill-worker serves only the external role, not \"" + v + "\"");
               }
               return Status::ok();
             });
  parser.add("exec", "CMD", "Evaluate each trial with CMD (see above).",
             [&exec](const std::string& v) {
               if (v.empty()) return Status(Code::kInvalidArgument, "needs a command");
               exec = v;
               return Status::ok();
             });
  parser.add("builtin", "NAME",
             "Evaluate each trial with a built-in function: quadratic | sleep:MS.",
             [&builtin](const std::string& v) {
               builtin = v;
               return Status::ok();
             });

  Status parsed = parser.parse(std::vector<std::string>(argv + 1, argv + argc));
  if (parsed && parser.help_requested()) {
    std::fputs(parser.usage().c_str(), stdout);
    return 0;
  }
  if (parsed && exec.empty() == builtin.empty()) {
    parsed = Status(Code::kInvalidArgument, "give exactly one of --exec and --builtin", "--exec");
  }
  if (parsed && flags.options.studies.empty()) {
    parsed = Status(Code::kInvalidArgument, "--study is required (at least one)", "--study");
  }
  std::unique_ptr<Evaluator> evaluator;
  if (parsed) {
    if (!exec.empty()) {
      evaluator = std::make_unique<ExecEvaluator>(exec);
    } else {
      auto made = make_builtin_evaluator(builtin);
      if (made) {
        evaluator = std::move(made.value());
      } else {
        parsed = Status(Code::kInvalidArgument, made.status().message(), "--builtin");
      }
    }
  }
  if (!parsed) {
    std::fprintf(stderr, "autodistill-worker: %s\n(see autodistill-worker --help)\n",
                 parsed.message().c_str());
    return 2;
  }
  finish_worker_flags(flags);

  PullWorker worker(flags.options, *evaluator);
  Status status = run_until_signal(worker);
  if (!status) {
    std::fprintf(stderr, "autodistill-worker: %s\n", status.to_string().c_str());
    return 1;
  }
  return 0;
}
