#pragma once
// What a probe worker says about its hardware in Hello, and records with
// every result (the fingerprint): worker::describe_host() (CPU model,
// memory) narrowed to the CPUs the worker is pinned to, plus LibTorch's
// version and, when LibTorch has CUDA and a device is visible, the
// accelerator and driver. Thread-safe.

#include <string>
#include <vector>

#include "autodistill_generated.h"

namespace autodistill::probe {

// describe_host(tag) with
//   cores         physical cores among `cpus` (physical_cores)
//   threads       the number of `cpus` (hardware threads the worker may use)
//   torch_version LibTorch's version (TORCH_VERSION, e.g. "1.13.0")
//   accelerator   CUDA builds with a visible device: device 0's name, with
//                 " xN" for N devices; "" otherwise
//   driver        CUDA builds: "CUDA driver D, runtime R"; "" otherwise
// and the fingerprint recomputed over all of them (hardware_fingerprint).
wire::HardwareT describe_probe_host(const std::string& tag, const std::vector<int>& cpus);

}  // namespace autodistill::probe
