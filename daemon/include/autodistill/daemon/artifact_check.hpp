#pragma once
// Checks of what a Regular trial delivers, before the trial completes: the
// student a release pipeline downloads must be what the worker says it is.
//
// A Regular result that names artifacts must deliver `model.safetensors`
// and `manifest.json`:
// - every artifact's announced size equals its blob's size;
// - model.safetensors has a well-formed header: an 8-byte little-endian
//   length, a JSON object within kMaxSafetensorsHeader bytes, every tensor's
//   dtype known, its shape's element count times the dtype size equal to its
//   data_offsets span, every span inside the file, no two spans overlapping;
// - manifest.json is a JSON object (at most kMaxManifestBytes, nesting at
//   most kMaxJsonDepth) whose "files" map records every other delivered file
//   as {"<name>": {"sha256": "<hex>", "size": N}}, and those digests and
//   sizes are the uploaded blobs' (a blob's name is its verified sha256).
// Only headers are read (no tensor data), with bounded reads. No LibTorch.
//
// Thread-safety: free functions over files; safe to call concurrently.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::daemon {

constexpr uint64_t kMaxSafetensorsHeader = 16ull << 20;
constexpr uint64_t kMaxManifestBytes = 1ull << 20;
constexpr int kMaxJsonDepth = 32;

// One delivered artifact: its name, the blob digest, the size the worker
// announced, and where the daemon holds the blob.
struct DeliveredFile {
  std::string name;
  std::string digest;
  uint64_t announced_size = 0;
  std::string path;
};

// The safetensors header check of the file at `path`. kInvalidArgument
// naming what is wrong, field "artifacts.model.safetensors"; kInternal when
// the file cannot be read.
Status check_safetensors_file(const std::string& path);

// Every check above over a Regular trial's artifacts (none: nothing to
// check). Errors name the artifact in `field` ("artifacts.manifest.json").
Status check_student_artifacts(const std::vector<DeliveredFile>& files);

}  // namespace autodistill::daemon
