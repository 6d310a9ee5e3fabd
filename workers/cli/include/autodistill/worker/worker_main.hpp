#pragma once
// The one main() of every worker executable (autodistill-worker, the
// distillation and probe workers, the test worker). A worker describes what
// is its own; run_worker_main() does what they share, in this order:
//
//   block SIGINT/SIGTERM (threads started later inherit the mask) ->
//   parse the shared flags (worker_flags.hpp), --log-level and the worker's
//   own -> --help / --version -> the worker's checks -> its other mode, if
//   any (the probe's --landscape) -> default worker id, hardware, cache
//   directory -> its evaluator -> the pull loop until a signal.
//
// Exit status: 0 after a clean stop (or --help, --version), 1 when the
// worker failed (e.g. the daemon rejected it), 2 for bad flags.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "autodistill/flag_parser.hpp"
#include "autodistill/status.hpp"
#include "autodistill/worker/evaluator.hpp"
#include "autodistill/worker/worker_flags.hpp"

namespace autodistill::worker {

struct WorkerProgram {
  // The executable's name, on log lines, errors and --version.
  std::string name;
  // The role it serves; `--role` accepts only this one, unless
  // `any_role` (the test worker).
  wire::Role role = wire::Role::External;
  bool any_role = false;
  // The usage text printed before the flag list.
  std::string usage;
  // Registers the executable's own flags (after the shared ones).
  std::function<void(FlagParser& parser)> add_flags;
  // Checks the parsed flags together; an error is a usage error (exit 2).
  std::function<Status(WorkerFlags& flags)> check;
  // Another mode than pulling trials (the probe's --landscape): returns its
  // exit status, or nullopt to go on as a worker. Runs with SIGINT and
  // SIGTERM still blocked in this thread (unblock_stop_signals() to let them
  // end the process).
  std::function<std::optional<int>(WorkerFlags& flags)> other_mode;
  // After finish_worker_flags(): adjusts the hardware description (LibTorch's
  // version, the accelerator, the pinned CPUs). May be empty.
  std::function<void(WorkerFlags& flags)> describe_hardware;
  // Makes the evaluator; an error is a usage error (exit 2) naming its field.
  std::function<Result<std::unique_ptr<Evaluator>>(WorkerFlags& flags)> make_evaluator;
};

int run_worker_main(int argc, char** argv, const WorkerProgram& program);

}  // namespace autodistill::worker
