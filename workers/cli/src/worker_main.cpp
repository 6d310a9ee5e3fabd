#include "autodistill/worker/worker_main.hpp"

#include "autodistill/log.hpp"
#include "autodistill/version.hpp"
#include "autodistill/worker/pull_worker.hpp"
#include "autodistill/worker/run_until_signal.hpp"

namespace autodistill::worker {

int run_worker_main(int argc, char** argv, const WorkerProgram& program) {
  block_stop_signals();
  set_log_program(program.name);

  WorkerFlags flags;
  flags.options.role = program.role;
  flags.options.software_version = program.name + " " + version_string();
  FlagParser parser(program.usage);
  add_worker_flags(parser, flags);
  parser.add("role", "ROLE",
             program.any_role ? "distill | probe | external (default external)."
                              : std::string(role_name(program.role)) +
                                    ", the only role this worker serves (accepted for\n"
                                    "uniform service files).",
             [&](const std::string& v) {
               auto role = parse_role(v);
               if (!role) return role.status();
               if (!program.any_role && *role != program.role) {
                 return Status(Code::kInvalidArgument, program.name + " serves only the " +
                                                           role_name(program.role) +
                                                           " role, not \"" + v + "\"");
               }
               flags.options.role = *role;
               return Status::ok();
             });
  parser.add("log-level", "LEVEL",
             "debug | info | warn | error (default info). Each line on stderr carries\n"
             "the level and the time in ISO 8601 UTC.",
             [](const std::string& v) {
               LogLevel level;
               if (!parse_log_level(v, &level)) {
                 return Status(Code::kInvalidArgument, "must be debug, info, warn or error");
               }
               set_log_level(level);
               return Status::ok();
             });
  if (program.add_flags) program.add_flags(parser);

  Status parsed = parser.parse(argc, argv);
  if (parsed) {
    if (std::optional<int> status = parser.answer_help_or_version(program.name)) return *status;
  }
  if (parsed && program.check) parsed = program.check(flags);
  if (!parsed) return usage_error(program.name, parsed);
  if (program.other_mode) {
    if (std::optional<int> status = program.other_mode(flags)) return *status;
  }
  finish_worker_flags(flags);
  if (program.describe_hardware) program.describe_hardware(flags);
  auto evaluator = program.make_evaluator(flags);
  if (!evaluator) return usage_error(program.name, evaluator.status());

  PullWorker worker(flags.options, **evaluator);
  Status status = run_until_signal(worker);
  if (!status) {
    log_line(LogLevel::kError, status.to_string());
    return 1;
  }
  return 0;
}

}  // namespace autodistill::worker
