// CPU lists and pinning the whole process.

#include <sched.h>

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "autodistill/probe/cpu_set.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;

std::vector<int> affinity_of_this_thread() {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

}  // namespace

TEST_CASE("CPU lists parse and format", "[probe][cpus]") {
  CHECK(parse_cpu_list("2").value() == std::vector<int>{2});
  CHECK(parse_cpu_list("0-3").value() == std::vector<int>{0, 1, 2, 3});
  CHECK(parse_cpu_list("8-9,0,2-3,3").value() == std::vector<int>{0, 2, 3, 8, 9});
  CHECK(format_cpu_list({0, 1, 2, 3, 6, 8, 9}) == "0-3,6,8-9");
  CHECK(format_cpu_list({5}) == "5");
  for (const char* bad : {"", "a", "3-1", "1,,2", "1-", "-1", "0-99999", "1.5"}) {
    INFO(bad);
    auto parsed = parse_cpu_list(bad);
    CHECK(parsed.status().code() == Code::kInvalidArgument);
    CHECK(parsed.status().field() == "cpus");
  }
}

TEST_CASE("pinning covers running threads and threads started later", "[probe][cpus]") {
  const std::vector<int> allowed = allowed_cpus();
  REQUIRE_FALSE(allowed.empty());
  CHECK(physical_cores(allowed) >= 1);
  CHECK(physical_cores(allowed) <= static_cast<int>(allowed.size()));

  std::vector<int> seen_by_old_thread;
  std::atomic<bool> pinned{false};
  std::thread old_thread([&] {
    while (!pinned) std::this_thread::yield();
    seen_by_old_thread = affinity_of_this_thread();
  });
  const std::vector<int> one = {allowed.back()};
  REQUIRE(pin_process_to_cpus(one).is_ok());
  pinned = true;
  old_thread.join();
  std::vector<int> seen_by_new_thread;
  std::thread([&] { seen_by_new_thread = affinity_of_this_thread(); }).join();
  CHECK(affinity_of_this_thread() == one);
  CHECK(seen_by_old_thread == one);
  CHECK(seen_by_new_thread == one);
  CHECK(allowed_cpus() == one);

  // A CPU outside the allowed set is refused, naming it.
  const int outside = allowed.back() == 0 ? 1 : 0;
  Status refused = pin_process_to_cpus({outside});
  CHECK(refused.code() == Code::kInvalidArgument);
  CHECK(refused.message().find("CPU " + std::to_string(outside)) != std::string::npos);
  CHECK(pin_process_to_cpus({}).code() == Code::kInvalidArgument);

  // Each TEST_CASE runs in its own process under ctest; restore anyway.
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int cpu : allowed) CPU_SET(cpu, &all);
  sched_setaffinity(0, sizeof all, &all);
}
