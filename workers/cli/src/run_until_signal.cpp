#include "autodistill/worker/run_until_signal.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "autodistill/log.hpp"

namespace autodistill::worker {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void unblock_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

Status run_until_signal(PullWorker& worker) {
  const sigset_t set = stop_signals();
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    int received = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (done.load()) return;  // run() returned; woken by the pthread_kill below
      if (++received == 1) {
        log_line(LogLevel::kInfo,
                 std::string(strsignal(sig)) + " received; stopping (again to exit at once)");
        worker.stop();
      } else {
        std::_Exit(128 + sig);
      }
    }
  });
  Status status = worker.run();
  done.store(true);
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return status;
}

}  // namespace autodistill::worker
