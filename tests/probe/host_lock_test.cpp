// The host-wide probe lock: exclusive holders never overlap, shared holders
// do, an exclusive holder waits for shared ones, waiting can be cancelled,
// and two probes through run_probe never overlap.

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "autodistill/probe/host_lock.hpp"
#include "autodistill/probe/prober.hpp"
#include "probe_test_support.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;
using namespace std::chrono_literals;
using test::TempDir;

}  // namespace

TEST_CASE("exclusive holders wait for each other, shared holders do not", "[probe][lock]") {
  TempDir dir;
  const auto path = dir.path() / "probe.lock";

  auto first = HostLock::acquire(path, HostLock::Mode::kExclusive);
  REQUIRE(first.is_ok());
  std::atomic<bool> second_held{false};
  std::thread second([&] {
    auto lock = HostLock::acquire(path, HostLock::Mode::kExclusive);
    second_held = lock.is_ok();
  });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(second_held.load());  // blocked behind the first holder
  { HostLock released = std::move(first.value()); }
  second.join();
  CHECK(second_held.load());

  // Two shared holders at once; an exclusive one waits until both are gone.
  auto reader1 = HostLock::acquire(path, HostLock::Mode::kShared);
  auto reader2 = HostLock::acquire(path, HostLock::Mode::kShared, [] { return true; });
  REQUIRE(reader1.is_ok());
  REQUIRE(reader2.is_ok());  // granted at once: cancellation is never consulted
  int polls = 0;
  auto writer =
      HostLock::acquire(path, HostLock::Mode::kExclusive, [&polls] { return ++polls >= 5; });
  CHECK(writer.status().code() == Code::kCancelled);
  CHECK(polls == 5);
}

TEST_CASE("a lock in a missing directory fails clearly", "[probe][lock]") {
  auto lock = HostLock::acquire("/nonexistent-dir/probe.lock", HostLock::Mode::kExclusive);
  CHECK(lock.status().code() == Code::kInternal);
  CHECK(lock.status().message().find("/nonexistent-dir/probe.lock") != std::string::npos);
}

TEST_CASE("the host lock serializes two probes", "[probe][lock]") {
  TempDir dir;
  test::IntervalRecorder recorder;
  ProbeOptions options = test::quick_options(dir.path() / "probe.lock");
  options.timing.max_reprobes = 0;
  options.timing.min_runs = 200;  // ~40 ms of 200 us runs per probe
  options.timing.max_runs = 200;
  const ProbeRequest request = test::small_request();

  std::vector<Result<ProbeReport>> reports(2, Status(Code::kInternal, "not run"));
  std::vector<std::thread> probes;
  for (int i = 0; i < 2; ++i) {
    probes.emplace_back([&, i] { reports[i] = run_probe(request, options, recorder.factory()); });
  }
  for (auto& t : probes) t.join();
  REQUIRE(reports[0].is_ok());
  REQUIRE(reports[1].is_ok());

  auto intervals = recorder.intervals();
  REQUIRE(intervals.size() == 2);
  std::sort(intervals.begin(), intervals.end(),
            [](const auto& a, const auto& b) { return a.begin < b.begin; });
  CHECK(intervals[0].end <= intervals[1].begin);  // built after the first was gone
  // The second probe waited for the first one's lock.
  CHECK(std::max(reports[0]->lock_wait_ms, reports[1]->lock_wait_ms) >= 20.0);
}
