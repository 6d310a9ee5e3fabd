#pragma once
// `autodistill distill --wait` delivers every student with an ONNX file
// (<student>/onnx/model.onnx, the layout transformers.js loads) made by the
// exporter installed with the project, autodistill-export-onnx
// (tools/autodistill_export_onnx.py, python3-torch). The CLI runs it; the
// daemon and the workers are not involved.
//
// Thread-safety: free functions.

#include <filesystem>
#include <string>

#include "autodistill/status.hpp"

namespace autodistill::cli {

// The exporter: $AUTODISTILL_EXPORT_ONNX, else autodistill-export-onnx
// beside this executable (an installation), else ../tools/ of it (the build
// tree), else the name alone (found on PATH when run).
std::string find_onnx_exporter();

// Runs `exporter` on `student_dir` and returns the ONNX file it wrote.
// kInternal with the end of its output when it fails or writes nothing.
Result<std::filesystem::path> export_onnx(const std::string& exporter,
                                          const std::filesystem::path& student_dir);

}  // namespace autodistill::cli
