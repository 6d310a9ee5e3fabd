#include "autodistill/probe/peak_memory.hpp"

#include <malloc.h>

#include <fstream>
#include <sstream>
#include <string>

namespace autodistill::probe {

namespace {

struct Rss {
  uint64_t current = 0;  // VmRSS
  uint64_t peak = 0;     // VmHWM
};

Rss read_rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  Rss rss;
  while (std::getline(in, line)) {
    const bool current = line.rfind("VmRSS:", 0) == 0;
    const bool peak = line.rfind("VmHWM:", 0) == 0;
    if (!current && !peak) continue;
    std::istringstream fields(line.substr(6));
    uint64_t kib = 0;
    fields >> kib;
    (current ? rss.current : rss.peak) = kib * 1024;
  }
  return rss;
}

}  // namespace

RssPeak::RssPeak() {
  // Hand memory freed earlier (e.g. by the previous probe's student) back to
  // the kernel, so new allocations show up as resident-set growth instead of
  // silently reusing pages that are already resident.
  ::malloc_trim(0);
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  reset_worked_ = static_cast<bool>(clear);
  const Rss rss = read_rss();
  baseline_ = rss.current;
  start_hwm_ = rss.peak;
}

uint64_t RssPeak::peak_bytes() const {
  const Rss rss = read_rss();
  // Without a reset, a mark unchanged since construction only bounds the
  // growth from below by what is resident now.
  const uint64_t top = reset_worked_ || rss.peak > start_hwm_ ? rss.peak : rss.current;
  return top > baseline_ ? top - baseline_ : 0;
}

}  // namespace autodistill::probe
