#include "autodistill/worker/hardware.hpp"

#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "autodistill/wire/digest.hpp"

namespace autodistill::worker {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Splits "key<TAB>: value" lines.
bool split_line(const std::string& line, std::string& key, std::string& value) {
  size_t colon = line.find(':');
  if (colon == std::string::npos) return false;
  key = trim(line.substr(0, colon));
  value = trim(line.substr(colon + 1));
  return true;
}

uint32_t online_threads() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n > 0) return static_cast<uint32_t>(n);
  return std::max(1u, std::thread::hardware_concurrency());
}

// Physical cores are distinct (physical id, core id) pairs; CPUs without
// those lines (some VMs, ARM) count one core per listed processor.
void read_cpuinfo(const std::string& path, wire::HardwareT& hw) {
  std::ifstream in(path);
  std::string line, key, value;
  std::set<std::pair<std::string, std::string>> cores;
  std::string physical_id;
  uint32_t processors = 0;
  while (std::getline(in, line)) {
    if (!split_line(line, key, value)) continue;
    if (key == "processor") {
      ++processors;
      physical_id.clear();
    } else if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      cores.emplace(physical_id, value);
    } else if (hw.cpu_model.empty() && (key == "model name" || key == "Model")) {
      hw.cpu_model = value;
    }
  }
  if (!cores.empty()) {
    hw.cores = static_cast<uint32_t>(cores.size());
  } else if (processors > 0) {
    hw.cores = processors;
  }
}

uint64_t read_mem_total(const std::string& path) {
  std::ifstream in(path);
  std::string line, key, value;
  while (std::getline(in, line)) {
    if (!split_line(line, key, value) || key != "MemTotal") continue;
    std::istringstream fields(value);
    uint64_t amount = 0;
    std::string unit;
    fields >> amount >> unit;
    return unit == "kB" ? amount * 1024 : amount;
  }
  return 0;
}

}  // namespace

wire::HardwareT describe_host(std::string tag, const std::string& cpuinfo_path,
                              const std::string& meminfo_path) {
  wire::HardwareT hw;
  hw.tag = std::move(tag);
  hw.threads = online_threads();
  read_cpuinfo(cpuinfo_path, hw);
  if (hw.cores == 0) hw.cores = hw.threads;
  hw.memory_bytes = read_mem_total(meminfo_path);
  if (hw.memory_bytes == 0) {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page_size > 0) {
      hw.memory_bytes = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
    }
  }
  hw.fingerprint = hardware_fingerprint(hw);
  return hw;
}

std::string hardware_fingerprint(const wire::HardwareT& hw) {
  std::ostringstream text;
  text << "cpu_model=" << hw.cpu_model << "\ncores=" << hw.cores << "\nthreads=" << hw.threads
       << "\nmemory_bytes=" << hw.memory_bytes << "\naccelerator=" << hw.accelerator
       << "\ndriver=" << hw.driver << "\ntorch_version=" << hw.torch_version << "\n";
  return wire::sha256_hex(text.str());
}

}  // namespace autodistill::worker
