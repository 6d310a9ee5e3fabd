// autodistill-distill-worker: pulls Flash and Regular distillation trials
// from autodistilld and grows each student with LibTorch (docs/distillation.md);
// it also runs Finetune trials, GLUE fine-tunings of a model (docs/glue.md).

#include <torch/cuda.h>
#include <torch/version.h>

#include <memory>
#include <string>

#include "autodistill/distill/distill_evaluator.hpp"
#include "autodistill/worker/hardware.hpp"
#include "autodistill/worker/worker_main.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::worker;

constexpr const char* kUsage =
    R"(autodistill-distill-worker: distills student models for autodistilld.

Usage:
  autodistill-distill-worker [--endpoint tcp://HOST:PORT] [flags]

The worker pulls Flash and Regular distillation trials of Distill studies.
For each one it fetches the study's teacher (a tar bundle of a Hugging Face
BERT checkpoint directory: config.json, model.safetensors, vocab.txt) and
corpus (plain text, one sentence per line, a blank line between documents)
by digest, builds the student from the trial's factors, runs progressive
knowledge transfer and pre-training distillation, and reports MLM accuracy
("accuracy", "mlm_accuracy") and NSP accuracy ("nsp_accuracy"), uploading the
student (model.safetensors, config.json, vocab.txt, manifest.json). The
study's settings choose steps, batch size, sequence length, seeds, threads;
see docs/distillation.md.

It also runs Finetune trials: the trial's settings name a model (the
teacher, or a student's files, by digest) and a GLUE task bundle; the worker
fine-tunes the model on the task and reports dev accuracy and F1 with the
majority baseline (docs/glue.md).

SIGINT or SIGTERM stops the worker cleanly (running trials are cancelled and
re-queued by the daemon); a second signal exits at once.

Exit status: 0 after a clean stop, 1 when the worker failed, 2 for bad flags.)";

}  // namespace

int main(int argc, char** argv) {
  distill::DistillWorkerOptions options;
  WorkerProgram program;
  program.name = "autodistill-distill-worker";
  program.role = wire::Role::Distill;
  program.usage = kUsage;
  program.add_flags = [&options](FlagParser& parser) {
    parser.add_int("threads",
                   "Intra-op threads per trial when the study's settings do not say\n"
                   "(default: hardware threads / slots).",
                   &options.threads, 1, 4096);
    parser.add("gang-host", "HOST",
               "This worker's address for the other ranks of a data-parallel gang:\n"
               "rank 0's rendezvous store listens on it and gradient connections\n"
               "bind to it (default 127.0.0.1: every rank on this host).",
               [&options](const std::string& v) {
                 if (v.empty()) return Status(Code::kInvalidArgument, "the host is empty");
                 options.gang_host = v;
                 return Status::ok();
               });
    parser.add("device", "DEVICE",
               "auto (CUDA when LibTorch sees a GPU), cpu or cuda (default auto).",
               [&options](const std::string& v) {
                 auto resolved = distill::resolve_device(v);
                 if (!resolved) return resolved.status();
                 options.device = v;
                 return Status::ok();
               });
  };
  program.check = [](WorkerFlags& flags) {
    if (!flags.options.studies.empty()) {
      return Status(Code::kInvalidArgument, "--study is for External workers", "--study");
    }
    return Status::ok();
  };
  program.describe_hardware = [&options](WorkerFlags& flags) {
    wire::HardwareT& hw = flags.options.hardware;
    hw.torch_version = std::to_string(TORCH_VERSION_MAJOR) + "." +
                       std::to_string(TORCH_VERSION_MINOR) + "." +
                       std::to_string(TORCH_VERSION_PATCH);
    auto device = distill::resolve_device(options.device);
    if (device && *device == "cuda") {
      hw.accelerator = "cuda x" + std::to_string(torch::cuda::device_count());
    }
    hw.fingerprint = hardware_fingerprint(hw);
  };
  program.make_evaluator = [&options](WorkerFlags& flags) -> Result<std::unique_ptr<Evaluator>> {
    options.slots = flags.options.slots;
    return std::unique_ptr<Evaluator>(std::make_unique<distill::DistillEvaluator>(options));
  };
  return run_worker_main(argc, argv, program);
}
