#pragma once
// The probe's real model: the LibTorch student template
// (autodistill::model::Student, workers/model) behind the ProbeModel seam.
// This header does not include LibTorch; only student_model.cpp does.
//
// What is timed is what a serving encoder runs for one batch: the embeddings
// and the K blocks under c10::InferenceMode, on random token ids prepared
// before the timed region (no padding), without the pre-training heads or
// the attention maps. Weights are normally initialized (Student::create,
// seed 0): latency does not depend on trained values. The first model a
// process builds is preceded by use_steady_malloc_thresholds() and one
// forward pass of a tiny student, so neither the allocator's warm-up nor
// LibTorch's lazy initialization is in any probe's time or memory.
//
//   device "cpu"     the steady clock around the forward pass; threads set with
//                    at::set_num_threads on the probing thread; peak memory =
//                    resident-set growth from before the build (RssPeak)
//   device "cuda:N"  (only when LibTorch was built with CUDA) CUDA events
//                    recorded around the forward pass on the current stream,
//                    then a synchronize; peak memory = the caching allocator's
//                    peak allocated bytes since the build
//
// Thread-safety: the factory may be called from any thread; the models it
// makes are used by one thread at a time.

#include "autodistill/probe/probe_model.hpp"

namespace autodistill::probe {

// Builds students for requests. Errors: kInvalidArgument (validate(arch)),
// kFailedPrecondition (a CUDA device without CUDA in this LibTorch, or a
// device index that does not exist; field "settings.serving.device"),
// kResourceExhausted (out of memory), kInternal (any other LibTorch error).
ModelFactory student_model_factory();

// True when this build's LibTorch has CUDA (the CUDA path is compiled in).
bool cuda_compiled();

}  // namespace autodistill::probe
