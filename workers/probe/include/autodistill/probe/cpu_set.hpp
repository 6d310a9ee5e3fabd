#pragma once
// CPU pinning for the probe worker: which CPUs it may use (a Linux CPU list
// such as "0-3,6"), pinning every thread of the process to them, and how
// many physical cores they span. Thread-safe.

#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::probe {

// Parses a CPU list ("2", "0-3", "0-3,8-11,16"): ascending, without
// duplicates. kInvalidArgument for anything else (empty, "3-1", "a", "1,,2").
Result<std::vector<int>> parse_cpu_list(const std::string& text);

// "0-3,6" for {0, 1, 2, 3, 6}.
std::string format_cpu_list(const std::vector<int>& cpus);

// The CPUs this process may run on now (sched_getaffinity), ascending.
std::vector<int> allowed_cpus();

// Pins every thread of the process (each entry of /proc/self/task) and the
// threads it starts later to `cpus`. kInvalidArgument when a CPU is not in
// allowed_cpus() (a cgroup or taskset excluded it) or the list is empty,
// kInternal when the kernel refuses.
Status pin_process_to_cpus(const std::vector<int>& cpus);

// Distinct physical cores among `cpus` (SMT siblings count once), from
// /sys/devices/system/cpu/cpuN/topology; a CPU without topology counts as
// its own core.
int physical_cores(const std::vector<int>& cpus);

}  // namespace autodistill::probe
