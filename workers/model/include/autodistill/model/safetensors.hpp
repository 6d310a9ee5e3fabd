#pragma once
// The safetensors format (Hugging Face): an 8-byte little-endian header
// length N, N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//    ..., "__metadata__": {"<key>": "<string>"}}
// and the tensor bytes (offsets relative to the end of the header),
// little-endian, row-major. No LibTorch here: the reader maps the file and
// validates every header field against the file before anything reads data;
// tensor_io.hpp turns entries into at::Tensors.
//
// Thread-safety: a SafetensorsFile is immutable after open(); any number of
// threads may read from it at once.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::model {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32" etc. and back; bytes per element.
const char* dtype_name(DType dtype);
Result<DType> parse_dtype(std::string_view name);
size_t dtype_size(DType dtype);

struct TensorEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;

  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Opens and validates `path`: header length within the file and at most
  // 100 MiB, the header a JSON object, every entry with a known dtype, a
  // shape of non-negative integers and offsets inside the data section whose
  // length matches shape and dtype, entries not overlapping, metadata
  // string-valued. kNotFound when the file cannot be opened, kMalformed
  // (naming the tensor as the field) for anything corrupt or truncated.
  static Result<SafetensorsFile> open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  // Entries sorted by name.
  const std::vector<TensorEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const TensorEntry* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Converts an F32, F16 or BF16 entry to float32 into out[0, numel).
  // kInvalidArgument for other dtypes.
  Status read_float(const TensorEntry& entry, float* out) const;
  // The entry's raw bytes (entry.end - entry.begin of them, little-endian,
  // any dtype), valid while this file lives.
  const std::byte* bytes(const TensorEntry& entry) const { return data_ + entry.begin; }

 private:
  SafetensorsFile() = default;
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  const std::byte* data_ = nullptr;  // start of the data section
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: `data` holds numel * dtype_size bytes, little-endian.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

// Writes a safetensors file (tensors in the given order, the header padded
// with spaces to a multiple of 8 bytes), through a temporary file renamed
// into place. kInvalidArgument for duplicate or empty names, "__metadata__"
// or a negative dimension; kInternal when the file cannot be written.
Status write_safetensors(const std::filesystem::path& path,
                         const std::vector<TensorToWrite>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

// IEEE half and bfloat16 to float (exact).
float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);

}  // namespace autodistill::model
