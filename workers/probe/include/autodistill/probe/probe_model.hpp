#pragma once
// The seam between the probe and the model it times: a ProbeModel is a
// student built for one ProbeRequest, ready to run forward passes. The real
// one is the LibTorch student (student_model_factory(), student_model.hpp);
// tests and benchmarks of the harness plug in stand-ins.

#include <cstdint>
#include <functional>
#include <memory>

#include "autodistill/probe/probe_request.hpp"
#include "autodistill/probe/timing.hpp"
#include "autodistill/status.hpp"

namespace autodistill::probe {

// Used by one thread at a time (the probing thread).
class ProbeModel {
 public:
  virtual ~ProbeModel() = default;

  // Runs one forward pass over `batch_size` sequences of the request's
  // seq_len (inputs prepared outside the timed region) and returns its
  // duration in milliseconds, measured until the device finished (CPU: the
  // steady clock around the call; CUDA: events and a synchronize), and
  // whether the OS preempted it. kResourceExhausted when it runs out of memory.
  virtual Result<RunTime> run_once(int64_t batch_size) = 0;

  // The most memory the model and its forward passes have held since it was
  // built, in bytes (CPU: resident-set growth, RssPeak; CUDA: the caching
  // allocator's peak allocated bytes).
  virtual uint64_t peak_memory_bytes() const = 0;
};

// Builds the model for a request, on the request's device and thread count.
// kFailedPrecondition when this build cannot serve it (e.g. a CUDA device
// with a CPU-only LibTorch), kResourceExhausted when it does not fit.
using ModelFactory = std::function<Result<std::unique_ptr<ProbeModel>>(const ProbeRequest&)>;

}  // namespace autodistill::probe
