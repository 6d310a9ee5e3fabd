#include "autodistill/model/tensor_io.hpp"

#include <ATen/ATen.h>

namespace autodistill::model {

Result<at::Tensor> read_tensor(const SafetensorsFile& file, std::string_view name) {
  const TensorEntry* entry = file.find(name);
  if (entry == nullptr) {
    return Status(Code::kNotFound, "checkpoint lacks tensor \"" + std::string(name) + "\"",
                  std::string(name));
  }
  at::Tensor out = at::empty(entry->shape, at::kFloat);
  if (Status read = file.read_float(*entry, out.data_ptr<float>()); !read) return read;
  return out;
}

Result<std::map<std::string, at::Tensor>> read_float_tensors(const SafetensorsFile& file) {
  std::map<std::string, at::Tensor> out;
  for (const TensorEntry& entry : file.entries()) {
    if (entry.dtype != DType::kF32 && entry.dtype != DType::kF16 && entry.dtype != DType::kBF16) {
      continue;
    }
    auto tensor = read_tensor(file, entry.name);
    if (!tensor) return tensor.status();
    out.emplace(entry.name, std::move(tensor.value()));
  }
  return out;
}

Status save_tensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                    DType dtype, const std::map<std::string, std::string>& metadata) {
  at::ScalarType type;
  switch (dtype) {
    case DType::kF32:
      type = at::kFloat;
      break;
    case DType::kF16:
      type = at::kHalf;
      break;
    case DType::kBF16:
      type = at::kBFloat16;
      break;
    default:
      return Status(Code::kInvalidArgument, std::string("cannot save tensors as ") +
                                                dtype_name(dtype) + " (want F32, F16 or BF16)");
  }
  std::vector<at::Tensor> keep;
  std::vector<TensorToWrite> writes;
  for (const auto& [name, tensor] : tensors) {
    keep.push_back(tensor.detach().to(at::kCPU, type).contiguous());
    TensorToWrite w;
    w.name = name;
    w.dtype = dtype;
    w.shape.assign(keep.back().sizes().begin(), keep.back().sizes().end());
    w.data = keep.back().data_ptr();
    writes.push_back(std::move(w));
  }
  return write_safetensors(path, writes, metadata);
}

}  // namespace autodistill::model
