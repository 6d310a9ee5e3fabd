#include "autodistill/probe/malloc_settings.hpp"

#include <cstdlib>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace autodistill::probe {

void use_steady_malloc_thresholds() {
#if defined(__GLIBC__)
  // DEFAULT_MMAP_THRESHOLD_MAX on 64-bit, and twice it, as glibc's dynamic
  // rule would set; setting either turns the dynamic adjustment off.
  constexpr int kMmapThreshold = 32 * 1024 * 1024;
  ::mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  ::mallopt(M_TRIM_THRESHOLD, 2 * kMmapThreshold);
#endif
}

}  // namespace autodistill::probe
