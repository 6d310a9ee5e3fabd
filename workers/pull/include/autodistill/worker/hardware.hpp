#pragma once
// Describes the machine a worker runs on (wire Hardware): CPU model, cores,
// hardware threads and memory, plus a fingerprint that identifies the exact
// hardware and software a measurement was taken on. Thread-safe.

#include <string>

#include "autodistill_generated.h"

namespace autodistill::worker {

// Reads the CPU model and physical core count from `cpuinfo_path` and the
// memory size from `meminfo_path` (the paths are a seam for tests). Fields it
// cannot read stay empty / fall back to the online hardware threads; it never
// fails. `tag` is the operator's routing label (e.g. "cpu", "a100").
// The fingerprint is filled in with hardware_fingerprint().
wire::HardwareT describe_host(std::string tag, const std::string& cpuinfo_path = "/proc/cpuinfo",
                              const std::string& meminfo_path = "/proc/meminfo");

// sha256 (hex) of the descriptive fields: cpu_model, cores, threads,
// memory_bytes, accelerator, driver, torch_version. The tag is a routing
// label, not a description, so it is left out. Callers that change a field
// (e.g. a LibTorch worker setting `accelerator`) recompute it.
std::string hardware_fingerprint(const wire::HardwareT& hardware);

}  // namespace autodistill::worker
