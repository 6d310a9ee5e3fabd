// The only probe source that includes LibTorch (ATen) headers besides the
// hardware description; student_model.hpp explains what is timed.

#include "autodistill/probe/student_model.hpp"

#include <ATen/Parallel.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <utility>

#if AUTODISTILL_PROBE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif

#include "autodistill/model/student.hpp"
#include "autodistill/probe/malloc_settings.hpp"
#include "autodistill/probe/peak_memory.hpp"

namespace autodistill::probe {

namespace {

// Runs `fn` (returning a T or a Result<T>), turning LibTorch's exceptions
// into a Status.
template <class T, class Fn>
Result<T> guarded(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status(Code::kResourceExhausted, std::string(what) + ": out of memory");
  } catch (const c10::OutOfMemoryError& e) {
    return Status(Code::kResourceExhausted, std::string(what) + ": " + e.what_without_backtrace());
  } catch (const c10::Error& e) {
    return Status(Code::kInternal, std::string(what) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status(Code::kInternal, std::string(what) + ": " + e.what());
  }
}

Result<at::Device> parse_device(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
#if AUTODISTILL_PROBE_CUDA
  const int64_t index = name == "cuda" ? 0 : std::stoll(name.substr(5));
  if (index >= c10::cuda::device_count()) {
    return Status(Code::kFailedPrecondition,
                  "device " + name + " does not exist (" +
                      std::to_string(c10::cuda::device_count()) + " CUDA devices)",
                  "settings.serving.device");
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
#else
  return Status(Code::kFailedPrecondition,
                "device " + name + " is not available: this LibTorch was built without CUDA",
                "settings.serving.device");
#endif
}

class StudentProbeModel : public ProbeModel {
 public:
  StudentProbeModel(model::Student student, ProbeRequest request, at::Device device,
                    std::optional<RssPeak> rss)
      : student_(std::move(student)),
        request_(std::move(request)),
        device_(device),
        rss_(std::move(rss)) {}

  Result<RunTime> run_once(int64_t batch_size) override {
    return guarded<RunTime>("forward pass", [&]() -> RunTime {
      c10::InferenceMode inference;
      const model::ModelInputs& inputs = inputs_for(batch_size);
#if AUTODISTILL_PROBE_CUDA
      if (device_.is_cuda()) return {run_cuda(inputs), false};
#endif
      // One intra-op thread runs the forward pass on this thread: its CPU
      // time and switches tell contention (time_cpu_run). With more, a
      // switch of any of the process's threads may have delayed it.
      const bool whole_process = request_.serving.threads > 1;
      return time_cpu_run([&] { student_.forward(inputs, forward_options()); }, whole_process);
    });
  }

  uint64_t peak_memory_bytes() const override {
#if AUTODISTILL_PROBE_CUDA
    if (device_.is_cuda()) {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index());
      const auto aggregate =
          static_cast<size_t>(c10::cuda::CUDACachingAllocator::StatType::AGGREGATE);
      return static_cast<uint64_t>(stats.allocated_bytes[aggregate].peak);
    }
#endif
    return rss_ ? rss_->peak_bytes() : 0;
  }

 private:
  static model::ForwardOptions forward_options() {
    model::ForwardOptions options;
    options.attentions = false;
    options.heads = false;
    return options;
  }

  // Random ids for `batch_size` sequences, made once per batch size.
  const model::ModelInputs& inputs_for(int64_t batch_size) {
    auto it = inputs_.find(batch_size);
    if (it != inputs_.end()) return it->second;
    const auto options = at::TensorOptions().dtype(at::kLong).device(device_);
    model::ModelInputs inputs;
    inputs.input_ids =
        at::randint(request_.arch.vocab_size, {batch_size, request_.serving.seq_len}, options);
    inputs.token_type_ids = at::zeros({batch_size, request_.serving.seq_len}, options);
    return inputs_.emplace(batch_size, std::move(inputs)).first->second;
  }

#if AUTODISTILL_PROBE_CUDA
  // Events on the current stream bracket the forward pass; the host waits for
  // the end event, so the time is the device's, not the launch's.
  double run_cuda(const model::ModelInputs& inputs) {
    c10::cuda::CUDAGuard guard(device_);
    auto stream = at::cuda::getCurrentCUDAStream(device_.index());
    at::cuda::CUDAEvent start(cudaEventDefault);
    at::cuda::CUDAEvent end(cudaEventDefault);
    stream.synchronize();
    start.record(stream);
    student_.forward(inputs, forward_options());
    end.record(stream);
    end.synchronize();
    return static_cast<double>(start.elapsed_time(end));
  }
#endif

  model::Student student_;
  const ProbeRequest request_;
  const at::Device device_;
  const std::optional<RssPeak> rss_;
  std::map<int64_t, model::ModelInputs> inputs_;
};

// Once per process: steady allocator thresholds, then one forward pass of a
// tiny student, so that LibTorch's lazy initialization (thread pools,
// kernels' dispatch tables) happens outside every probe's memory and time.
void initialize_library_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    use_steady_malloc_thresholds();
    StudentArch tiny;
    tiny.num_blocks = tiny.num_stacked_ffn = tiny.num_heads = 1;
    tiny.hidden_size = tiny.bottleneck_size = tiny.intermediate_size = 8;
    tiny.vocab_size = tiny.max_positions = 8;
    ProbeRequest request;
    request.arch = tiny;
    request.serving.seq_len = 8;
    auto student = guarded<model::Student>("initializing LibTorch",
                                           [&] { return model::Student::create(tiny); });
    if (!student) return;  // the probe's own build reports the problem
    StudentProbeModel model(std::move(student.value()), request, at::Device(at::kCPU),
                            std::nullopt);
    (void)model.run_once(1);
  });
}

Result<std::unique_ptr<ProbeModel>> make_student_model(const ProbeRequest& request) {
  auto device = parse_device(request.serving.device);
  if (!device) return device.status();
  at::set_num_threads(request.serving.threads);
  initialize_library_once();
  std::optional<RssPeak> rss;
  if (device->is_cpu()) rss.emplace();
#if AUTODISTILL_PROBE_CUDA
  if (device->is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device->index());
#endif
  return guarded<std::unique_ptr<ProbeModel>>(
      "building the student", [&]() -> Result<std::unique_ptr<ProbeModel>> {
        auto student = model::Student::create(request.arch);
        if (!student) return student.status();
        if (!device->is_cpu()) student->to(device.value());
        return std::unique_ptr<ProbeModel>(std::make_unique<StudentProbeModel>(
            std::move(student.value()), request, device.value(), std::move(rss)));
      });
}

}  // namespace

ModelFactory student_model_factory() {
  return make_student_model;
}

bool cuda_compiled() {
  return AUTODISTILL_PROBE_CUDA != 0;
}

}  // namespace autodistill::probe
