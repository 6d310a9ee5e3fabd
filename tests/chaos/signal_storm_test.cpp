// Signals under load. systemd's ExecReload sends SIGHUP and stop sends
// SIGTERM at any moment, so whatever system call the daemon is in when one
// arrives (a ZeroMQ call may then fail with EINTR) must not end it. The
// signals go to the daemon's main thread, which runs its event loop.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "chaos_rig.hpp"
#include "sim_fleet.hpp"

using namespace autodistill;
using namespace autodistill::chaos;
using namespace std::chrono_literals;

namespace {

// Sends `signal` to the main thread of `pid` every `period` until
// destroyed; counts them.
class SignalStorm {
 public:
  SignalStorm(pid_t pid, int signal, std::chrono::microseconds period)
      : thread_([this, pid, signal, period] {
          while (!stop_.load()) {
            if (::syscall(SYS_tgkill, pid, pid, signal) == 0) sent_++;
            std::this_thread::sleep_for(period);
          }
        }) {}
  ~SignalStorm() {
    stop_.store(true);
    thread_.join();
  }
  int sent() const { return sent_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("chaos: SIGHUP storms under load never end the daemon", "[chaos]") {
  ChaosRig rig;
  // Enough work to outlast the storm.
  constexpr uint32_t kTrials = 10000;
  const uint64_t study = rig.submit("storm", queue_spec(kTrials, 64));
  FleetOptions options;
  options.endpoint = rig.daemon().worker_endpoint();
  options.study_id = study;
  options.workers = 64;
  options.max_work = 5ms;
  options.bye_when_idle = options.vanish_when_idle = 0;
  options.bye_holding_lease = options.vanish_holding_lease = 0;
  SimFleet fleet(rig.context(), options);
  auto finished = [&] {
    if (!rig.daemon().running()) return true;
    auto s = rig.client().get(study, false, 2s);
    return s && s->study->state >= wire::StudyState::Succeeded;
  };
  // Three seconds of reloads while the workers run, one every 250 us so that
  // some land while the loop is inside a ZeroMQ call. (Before the fix of
  // finding F7 in docs/RELIABILITY.md, about two runs in three ended the
  // daemon with SIGABRT.)
  int reloads = 0;
  {
    SignalStorm storm(rig.daemon().process().pid(), SIGHUP, std::chrono::microseconds(250));
    const auto until = std::chrono::steady_clock::now() + 3s;
    fleet.run([&] { return std::chrono::steady_clock::now() > until || finished(); }, 10s);
    reloads = storm.sent();
  }
  std::printf("signal storm: %d SIGHUPs to the event loop's thread\n", reloads);
  INFO(rig.status() << "\n" << rig.logs());
  REQUIRE(rig.daemon().running());
  CHECK(reloads > 1000);
  // Calm again: the study completes and SIGTERM ends the daemon cleanly.
  // (The bound is loose: at load average 9 on a 2-core machine, 30 s saw
  // 9,149 of the 10,000 trials done. Finishing fast is not what this test
  // measures; the ctest TIMEOUT is 120 s.)
  fleet.run(finished, 90s);
  CHECK(rig.get(study).study->trials_completed == kTrials);
  CHECK(rig.daemon().stop(SIGTERM) == 0);
}
