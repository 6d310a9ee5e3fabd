// LibTorch's identity for the probe's Hello: its version header, and the
// CUDA runtime only when LibTorch was built with CUDA.

#include "autodistill/probe/probe_hardware.hpp"

#include <torch/version.h>

#if AUTODISTILL_PROBE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

#include "autodistill/probe/cpu_set.hpp"
#include "autodistill/worker/hardware.hpp"

namespace autodistill::probe {

namespace {

#if AUTODISTILL_PROBE_CUDA
// CUDA encodes versions as 1000 * major + 10 * minor.
std::string cuda_version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

void describe_cuda(wire::HardwareT& hw) {
  const int devices = c10::cuda::device_count();
  if (devices <= 0) return;
  hw.accelerator = at::cuda::getDeviceProperties(0)->name;
  if (devices > 1) hw.accelerator += " x" + std::to_string(devices);
  int driver = 0;
  int runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  hw.driver = "CUDA driver " + cuda_version(driver) + ", runtime " + cuda_version(runtime);
}
#endif

}  // namespace

wire::HardwareT describe_probe_host(const std::string& tag, const std::vector<int>& cpus) {
  wire::HardwareT hw = worker::describe_host(tag);
  hw.cores = static_cast<uint32_t>(physical_cores(cpus));
  hw.threads = static_cast<uint32_t>(cpus.size());
  hw.torch_version = TORCH_VERSION;
#if AUTODISTILL_PROBE_CUDA
  describe_cuda(hw);
#endif
  hw.fingerprint = worker::hardware_fingerprint(hw);
  return hw;
}

}  // namespace autodistill::probe
