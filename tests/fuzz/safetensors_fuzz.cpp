// libFuzzer target: the safetensors header parser of the model library
// (workers/model/include/autodistill/model/safetensors.hpp), which the
// distillation and probe workers run on teacher checkpoints they download.
// The input is a whole file; SafetensorsFile::open() maps it from a memfd.
//
// Properties checked beyond "no crash, no sanitizer report":
//   - a refusal is kMalformed (the file always opens);
//   - an accepted file's entries are sorted by name, unique, inside the data
//     section, not overlapping, and each spans numel * dtype size bytes;
//   - read_float() succeeds on every F32 / F16 / BF16 entry (of at most 2^16
//     elements, to keep runs fast) and refuses every other dtype.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "autodistill/model/safetensors.hpp"

using namespace autodistill;
using namespace autodistill::model;

namespace {

// The same memfd for every input: rewritten, then opened by path.
const std::string& input_path() {
  static const std::string path = [] {
    const int fd = ::memfd_create("safetensors-fuzz", 0);
    if (fd < 0) __builtin_trap();
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

void write_input(const uint8_t* data, size_t size) {
  const int fd = std::stoi(input_path().substr(std::string("/proc/self/fd/").size()));
  if (::ftruncate(fd, 0) != 0) __builtin_trap();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) __builtin_trap();
    done += static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_input(data, size);
  auto file = SafetensorsFile::open(input_path());
  if (!file) {
    if (file.status().code() != Code::kMalformed) __builtin_trap();
    return 0;
  }
  uint64_t header = 0;
  std::memcpy(&header, data, sizeof header);  // open() accepted: at least 8 bytes
  const uint64_t data_size = size - 8 - header;
  const auto& entries = file->entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const TensorEntry& e = entries[i];
    if (i > 0 && !(entries[i - 1].name < e.name)) __builtin_trap();
    if (e.begin > e.end || e.end > data_size) __builtin_trap();
    if (e.end - e.begin != static_cast<uint64_t>(e.numel()) * dtype_size(e.dtype)) {
      __builtin_trap();
    }
    if (file->find(e.name) != &e) __builtin_trap();
  }
  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->end > by_offset[i]->begin && by_offset[i]->end > by_offset[i]->begin) {
      __builtin_trap();
    }
  }
  std::vector<float> out;
  for (const auto& e : entries) {
    if (e.numel() > (1 << 16)) continue;
    out.assign(static_cast<size_t>(e.numel()), 0.0f);
    const bool floating =
        e.dtype == DType::kF32 || e.dtype == DType::kF16 || e.dtype == DType::kBF16;
    if (file->read_float(e, out.data()).is_ok() != floating) __builtin_trap();
  }
  return 0;
}
