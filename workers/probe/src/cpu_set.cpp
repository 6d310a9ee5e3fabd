#include "autodistill/probe/cpu_set.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

namespace autodistill::probe {

namespace {

constexpr int kMaxCpu = CPU_SETSIZE - 1;

Result<int> parse_cpu(std::string_view text, const std::string& whole_list) {
  int value = -1;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 0 ||
      value > kMaxCpu) {
    return Status(Code::kInvalidArgument, "\"" + whole_list + "\" is not a CPU list (e.g. 0-3,6)",
                  "cpus");
  }
  return value;
}

std::string read_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Result<std::vector<int>> parse_cpu_list(const std::string& text) {
  std::set<int> cpus;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view item(text.data() + start, end - start);
    const size_t dash = item.find('-');
    auto first = parse_cpu(item.substr(0, dash), text);
    if (!first) return first.status();
    int last = first.value();
    if (dash != std::string_view::npos) {
      auto parsed = parse_cpu(item.substr(dash + 1), text);
      if (!parsed) return parsed.status();
      last = parsed.value();
      if (last < first.value()) {
        return Status(Code::kInvalidArgument,
                      "\"" + text + "\": range " + std::string(item) + " runs backwards", "cpus");
      }
    }
    for (int cpu = first.value(); cpu <= last; ++cpu) cpus.insert(cpu);
    start = end + 1;
  }
  return std::vector<int>(cpus.begin(), cpus.end());
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu <= kMaxCpu; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

Status pin_process_to_cpus(const std::vector<int>& cpus) {
  if (cpus.empty()) return Status(Code::kInvalidArgument, "no CPUs to pin to", "cpus");
  const std::vector<int> allowed = allowed_cpus();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) {
    if (!std::binary_search(allowed.begin(), allowed.end(), cpu)) {
      return Status(Code::kInvalidArgument,
                    "CPU " + std::to_string(cpu) + " is not available to this process (allowed: " +
                        format_cpu_list(allowed) + ")",
                    "cpus");
    }
    CPU_SET(cpu, &set);
  }
  // sched_setaffinity(tid) pins one thread; new threads inherit their
  // creator's mask, so pinning every current thread covers later ones too.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const pid_t tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
    if (::sched_setaffinity(tid, sizeof set, &set) != 0 && errno != ESRCH) {
      return Status(Code::kInternal, "cannot pin thread " + std::to_string(tid) + " to CPUs " +
                                         format_cpu_list(cpus) + ": " + std::strerror(errno));
    }
  }
  if (ec) return Status(Code::kInternal, "cannot list /proc/self/task: " + ec.message());
  return Status::ok();
}

int physical_cores(const std::vector<int>& cpus) {
  std::set<std::pair<std::string, std::string>> cores;
  for (int cpu : cpus) {
    const std::filesystem::path topology =
        "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology";
    std::string package = read_line(topology / "physical_package_id");
    std::string core = read_line(topology / "core_id");
    if (core.empty()) {
      package = "cpu";
      core = std::to_string(cpu);
    }
    cores.emplace(package, core);
  }
  return static_cast<int>(cores.size());
}

}  // namespace autodistill::probe
