#pragma once
// Runs a shell command as a child process for an evaluator: input on its
// stdin, stdout collected, the tail of stderr kept for error messages, and
// the whole process group killed when the trial is cancelled. When the shell
// exits, whatever it left running in its process group is killed too (its
// output pipes are abandoned if such a process still holds them after 1 s).
//
// Thread-safe: each call is independent. While a call runs, SIGPIPE is
// blocked in the calling thread (a child that exits without reading its
// input must not kill the worker); the caller's signal mask is restored
// afterwards. The child starts with an empty signal mask and default
// dispositions, whatever the worker blocked.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::worker {

struct ShellCommand {
  // Run as `/bin/sh -c command`, in a new process group.
  std::string command;
  // Written to the child's stdin, which is then closed.
  std::string input;
  // Added to the worker's environment, as "NAME=value".
  std::vector<std::string> environment;
  // stdout beyond this is discarded and reported as truncated.
  size_t max_output_bytes = 16u << 20;
  // How much of the end of stderr is kept.
  size_t stderr_tail_bytes = 4096;
  // After cancel: SIGTERM to the group, then SIGKILL if it still runs this long.
  std::chrono::milliseconds kill_grace{2000};
};

struct ShellOutcome {
  bool cancelled = false;  // cancelled() turned true; the group was killed
  int exit_status = -1;    // when it exited normally
  int signal = 0;          // when a signal ended it (0 otherwise)
  std::string output;      // stdout (up to max_output_bytes)
  bool output_truncated = false;
  std::string stderr_tail;  // the last stderr_tail_bytes of stderr
};

// Runs `command` to completion or cancellation. Errors (kInternal) only when
// the child cannot be started; whatever the child does is in ShellOutcome.
Result<ShellOutcome> run_shell(const ShellCommand& command, const std::function<bool()>& cancelled);

}  // namespace autodistill::worker
