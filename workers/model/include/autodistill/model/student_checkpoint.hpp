#pragma once
// A distilled student on disk: a directory with
//   model.safetensors  every parameter (F32) under the Student checkpoint names
//   config.json        the architecture (model_type "autodistill-student")
//   vocab.txt          the teacher's vocabulary
//   manifest.json      what the writer says about it (accuracy, teacher, ...)
//                      and the sha256 and size of the other three files
// load_student() rebuilds the exact model; docs/distillation.md shows how
// to load it in PyTorch.
//
// Thread-safety: free functions; concurrent saves must use different directories.

#include <filesystem>
#include <string>
#include <string_view>

#include "autodistill/model/student.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill::model {

// {"model_type": "autodistill-student", "num_blocks": K, "hidden_size": H,
//  "bottleneck_size": B, "num_heads": A, "intermediate_size": I,
//  "num_stacked_ffn": F, "vocab_size": V, "max_position_embeddings": P,
//  "type_vocab_size": T, "hidden_act": "gelu", "layer_norm_eps": 1e-12}
std::string student_config_json(const StudentArch& arch);
// kMalformed when not a JSON object, kInvalidArgument naming the key for a
// missing or non-integer size, another model_type, or validate() failing.
Result<StudentArch> parse_student_config(std::string_view json_text);

// Writes the four files into `dir` (created if missing). `manifest_json`
// must be a JSON object (kInvalidArgument otherwise); manifest.json is it
// plus "files": {"<name>": {"sha256": "<hex>", "size": N}} for the other
// three files (the daemon checks a Regular trial's delivery against it).
// kInternal when a file cannot be written.
Status save_student(const Student& student, const std::filesystem::path& dir, const Vocab& vocab,
                    const std::string& manifest_json);

// Reads config.json and model.safetensors from `dir` onto the CPU. Errors
// name the file: kNotFound, kMalformed, kInvalidArgument (as
// parse_student_config, SafetensorsFile::open and Student::load).
Result<Student> load_student(const std::filesystem::path& dir);

}  // namespace autodistill::model
