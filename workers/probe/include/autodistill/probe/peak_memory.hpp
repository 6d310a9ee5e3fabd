#pragma once
// Peak resident memory of this process above a starting point, for the CPU
// probe's "peak memory" (the student's weights plus its largest forward
// pass). Linux: /proc/self/status VmRSS and VmHWM, with the high-water mark
// reset through /proc/self/clear_refs ("5", Linux 4.0+), after malloc_trim
// so that memory freed earlier is not silently reused.
//
// The process-wide high-water mark is shared: two RssPeak spans overlapping
// in one process see each other's memory. The probe worker measures one
// probe at a time. Thread-safe otherwise.

#include <cstdint>

namespace autodistill::probe {

class RssPeak {
 public:
  // Resets the high-water mark (when the kernel allows it) and records the
  // current resident size as the baseline.
  RssPeak();

  // Highest resident size since construction minus the baseline, in bytes
  // (0 if it never grew). When the mark could not be reset, a peak reached
  // before construction may hide growth below it; reset_worked() says so.
  uint64_t peak_bytes() const;
  bool reset_worked() const { return reset_worked_; }

 private:
  uint64_t baseline_ = 0;
  uint64_t start_hwm_ = 0;
  bool reset_worked_ = false;
};

}  // namespace autodistill::probe
