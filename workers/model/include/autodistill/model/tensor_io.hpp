#pragma once
// safetensors <-> at::Tensor: reading entries as float32 tensors and saving
// named tensors (the student export, test teachers).
//
// Thread-safety: free functions without shared state.

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/model/forward.hpp"
#include "autodistill/model/safetensors.hpp"
#include "autodistill/status.hpp"

namespace autodistill::model {

// Entry `name` (F32, F16 or BF16) as a float32 CPU tensor of its shape.
// kNotFound (field: the name) when absent, kInvalidArgument for another dtype.
Result<at::Tensor> read_tensor(const SafetensorsFile& file, std::string_view name);

// Every F32/F16/BF16 entry as float32 CPU tensors; entries of other dtypes
// (integer buffers such as position_ids) are skipped.
Result<std::map<std::string, at::Tensor>> read_float_tensors(const SafetensorsFile& file);

// Writes `tensors` (any device; converted to `dtype`: F32, F16 or BF16) to a
// safetensors file. kInvalidArgument for another dtype or a bad name.
Status save_tensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                    DType dtype = DType::kF32,
                    const std::map<std::string, std::string>& metadata = {});

}  // namespace autodistill::model
