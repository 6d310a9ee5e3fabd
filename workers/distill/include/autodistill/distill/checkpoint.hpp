#pragma once
// A distillation checkpoint file: a TrainingState (distiller.hpp) as one
// safetensors file, so any safetensors reader can inspect it:
//
//   student/<name>        F32  every student parameter
//   projection/<name>     F32  the feature-map projections
//   optimizer.m/<name>    F32  LAMB first moments of the phase's parameters
//   optimizer.v/<name>    F32  LAMB second moments
//   losses                F64  every step's training loss so far
//   data_state            U8   the batch position (BatchLoader::save_state)
//   __metadata__          {"format": "autodistill-checkpoint/1",
//                          "state": "<JSON: identity, phase, phase_step, done,
//                                    total, finished phases, tensor order,
//                                    optimizer step counts>"}
//
// Serialization is deterministic: the same state gives the same bytes (the
// header's keys are sorted, tensors follow the state's order, nothing
// depends on time or the host), so a checkpoint's digest names the
// training state, and a resumed run's checkpoint at step s equals the
// uninterrupted run's.
//
// Thread-safety: free functions without shared state.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/model/forward.hpp"
#include "autodistill/status.hpp"

namespace autodistill::distill {

// Checkpoint.format on the wire and in the file's metadata.
inline constexpr const char* kCheckpointFormat = "autodistill-checkpoint/1";
// The checkpoint's blob name on the wire.
inline constexpr const char* kCheckpointBlobName = "checkpoint.safetensors";

// Writes `state` to `path` (through a temporary file renamed into place).
// kInternal when the file cannot be written.
Status write_checkpoint(const std::filesystem::path& path, const TrainingState& state);

// Reads a checkpoint written by write_checkpoint. kMalformed (field
// "checkpoint" or the tensor's name) for a file that is not a version-1
// autodistill checkpoint or whose tensors do not match its metadata;
// kNotFound when it cannot be opened.
Result<TrainingState> read_checkpoint(const std::filesystem::path& path);

// FNV-1a 64 over the tensors' shapes and raw bytes (contiguous CPU copies),
// in order: two ranks of a gang hold the same weights iff these agree
// (up to a 2^-64 collision).
uint64_t fingerprint(const std::vector<at::Tensor>& tensors);

}  // namespace autodistill::distill
