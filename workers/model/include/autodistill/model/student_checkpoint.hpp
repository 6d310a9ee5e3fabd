#pragma once
// A distilled student on disk, in Hugging Face's layout for MobileBERT:
//   model.safetensors   every parameter (F32) under transformers' names
//                       (student.hpp), metadata {"format": "pt"}
//   config.json         a MobileBertConfig (model_type "mobilebert",
//                       architectures ["MobileBertForPreTraining"])
//   vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json
//                       the teacher's tokenizer (tokenizer_files.hpp)
//   manifest.json       what the writer says about it (accuracy, latency, ...)
//                       and the sha256 and size of every other file
// so MobileBertForPreTraining / AutoModelForMaskedLM / AutoTokenizer
// .from_pretrained(dir) load it; load_student_directory() rebuilds the exact
// model and tokenizer here. Directories of the earlier format (config
// model_type "autodistill-student", only vocab.txt) keep loading, as
// StudentLayout::kLegacy students. docs/distillation.md shows both loaders.
//
// Thread-safety: free functions; concurrent saves must use different directories.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/model/student.hpp"
#include "autodistill/model/tokenizer_files.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill::model {

struct StudentConfig {
  StudentArch arch;
  StudentLayout layout = StudentLayout::kMobileBert;
  int64_t pad_token_id = 0;
};

// The MobileBertConfig of `arch`: model_type, architectures, vocab_size,
// hidden_size, embedding_size, intra_bottleneck_size, true_hidden_size,
// num_hidden_layers, num_attention_heads, intermediate_size,
// num_feedforward_networks, trigram_input, use_bottleneck,
// use_bottleneck_attention, key_query_shared_bottleneck,
// normalization_type, hidden_act "gelu", classifier_activation,
// max_position_embeddings, type_vocab_size, layer_norm_eps, pad_token_id,
// tie_word_embeddings, dropout probabilities, initializer_range.
std::string student_config_json(const StudentArch& arch, int64_t pad_token_id = 0);

// Parses a student's config.json: a MobileBertConfig (keys missing take
// transformers' MobileBertConfig defaults, except the six sizes, which are
// required) or the earlier "autodistill-student" format. kMalformed when not
// a JSON object; kInvalidArgument naming the key for a missing or mistyped
// value, another model_type, what this template does not build
// (use_bottleneck false, hidden_act other than gelu, classifier_activation
// false, tie_word_embeddings false, layer_norm_eps other than 1e-12), or
// validate() failing.
Result<StudentConfig> parse_student_config(std::string_view json_text);

// The files of a student directory besides manifest.json, in upload order:
// model.safetensors, config.json and the tokenizer files.
std::vector<std::string> student_files();

// Writes model.safetensors, config.json, the tokenizer files and
// manifest.json into `dir` (created if missing). `manifest_json` must be a
// JSON object (kInvalidArgument otherwise); manifest.json is it plus
// "files": {"<name>": {"sha256": "<hex>", "size": N}} for every other file
// (the daemon checks a Regular trial's delivery against it); kInvalidArgument for a legacy
// student (it has no MobileBERT form) or a vocabulary without the special
// tokens; kInternal when a file cannot be written.
Status save_student(const Student& student, const std::filesystem::path& dir,
                    const WordPieceTokenizer& tokenizer, const std::string& manifest_json);

// Reads config.json and model.safetensors from `dir` onto the CPU. Errors
// name the file: kNotFound, kMalformed, kInvalidArgument (as
// parse_student_config, SafetensorsFile::open and Student::load).
Result<Student> load_student(const std::filesystem::path& dir);

// A student directory as a whole: the model (on the CPU), its config and
// its tokenizer (vocab.txt + tokenizer_config.json). Errors as
// load_student() and read_tokenizer(); kInvalidArgument (field
// "vocab.txt") when the vocabulary has more tokens than the model's
// vocab_size.
struct LoadedStudent {
  Student model;
  StudentConfig config;
  WordPieceTokenizer tokenizer;
};
Result<LoadedStudent> load_student_directory(const std::filesystem::path& dir);

// The name a parameter of the earlier format had in the current one
// (student.hpp), given the block's FFN count; names it does not know are
// returned unchanged.
std::string legacy_parameter_name(const std::string& name, int64_t num_stacked_ffn);

}  // namespace autodistill::model
