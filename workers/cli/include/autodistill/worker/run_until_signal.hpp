#pragma once
// Signal handling for worker executables, the Redis way: no work happens in
// a signal handler. SIGINT and SIGTERM are blocked in every thread and a
// helper thread waits for them with sigwait(); the first one calls
// PullWorker::stop() (a clean exit: trials cancelled, Bye sent), a second one
// ends the process at once.

#include "autodistill/status.hpp"
#include "autodistill/worker/pull_worker.hpp"

namespace autodistill::worker {

// Blocks SIGINT and SIGTERM in the calling thread; threads created later
// inherit the mask. Call first thing in main(), before anything starts a thread.
void block_stop_signals();
// Unblocks them in the calling thread again: the first one then ends the
// process (a mode without a clean stop, like the probe's --landscape).
void unblock_stop_signals();

// Runs worker.run() on this thread until it returns; the first SIGINT or
// SIGTERM calls worker.stop(), a second exits with status 128 + signal.
// Requires block_stop_signals() first.
Status run_until_signal(PullWorker& worker);

}  // namespace autodistill::worker
