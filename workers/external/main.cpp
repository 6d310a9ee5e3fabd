// autodistill-worker: the generic External worker. It evaluates the trials
// of the studies it names with a command (--exec, any language, JSON on
// stdin/stdout) or a built-in test function (--builtin). docs/worker.md.

#include <memory>
#include <string>
#include <vector>

#include "autodistill/worker/builtin_evaluators.hpp"
#include "autodistill/worker/exec_evaluator.hpp"
#include "autodistill/worker/worker_main.hpp"

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
  std::string exec;
  std::string builtin;
  WorkerProgram program;
  program.name = "autodistill-worker";
  program.role = wire::Role::External;
  program.usage = kUsage;
  program.add_flags = [&](FlagParser& parser) {
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
  };
  program.check = [&](WorkerFlags& flags) {
    if (exec.empty() == builtin.empty()) {
      return Status(Code::kInvalidArgument, "give exactly one of --exec and --builtin", "--exec");
    }
    if (flags.options.studies.empty()) {
      return Status(Code::kInvalidArgument, "--study is required (at least one)", "--study");
    }
    return Status::ok();
  };
  program.make_evaluator = [&](WorkerFlags&) -> Result<std::unique_ptr<Evaluator>> {
    if (!exec.empty()) return std::unique_ptr<Evaluator>(std::make_unique<ExecEvaluator>(exec));
    auto made = make_builtin_evaluator(builtin);
    if (!made) return Status(Code::kInvalidArgument, made.status().message(), "--builtin");
    return std::move(made.value());
  };
  return run_worker_main(argc, argv, program);
}
