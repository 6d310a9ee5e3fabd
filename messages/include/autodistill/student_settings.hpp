#pragma once
// The student template options in a study's settings.student object
// (docs/distillation.md). The one settings codec (study_settings.hpp) reads
// settings.student with set_student_option, so the distillation worker, the
// latency probe, the BO engine's analytic counts (daemon) and the client's
// report all see the same architecture:
//
//   {"student": {"embedding_size": 32, "trigram_input": true,
//                "normalization_type": "no_norm",
//                "use_bottleneck_attention": false, "key_query_shared_bottleneck": true}}
//
// They are MobileBERT's config keys (student_arch.hpp); unlike the six
// factors they are not searched. Header-only (nlohmann::json).
//
// Thread-safety: pure functions.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill {

inline constexpr const char* kStudentOptionKeys[] = {
    "embedding_size", "trigram_input", "normalization_type", "use_bottleneck_attention",
    "key_query_shared_bottleneck"};

inline bool is_student_option(std::string_view key) {
  for (const char* k : kStudentOptionKeys) {
    if (key == k) return true;
  }
  return false;
}

// Sets option `key` (one of kStudentOptionKeys) on `arch` from `value`.
// kInvalidArgument with field `field_prefix + key` for a wrong type or
// value (embedding_size: a non-negative integer; normalization_type:
// "layer_norm" or "no_norm"; the others booleans) or an unknown key.
inline Status set_student_option(StudentArch& arch, const std::string& key,
                                 const nlohmann::json& value,
                                 const std::string& field_prefix = "settings.student.") {
  const std::string field = field_prefix + key;
  auto boolean = [&](bool* out) {
    if (!value.is_boolean()) {
      return Status(Code::kInvalidArgument, field + " must be true or false", field);
    }
    *out = value.get<bool>();
    return Status::ok();
  };
  if (key == "embedding_size") {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > kMaxStudentWidth) {
      return Status(Code::kInvalidArgument,
                    field + " must be an integer from 0 (the hidden size) to " +
                        std::to_string(kMaxStudentWidth),
                    field);
    }
    arch.embedding_size = value.get<int64_t>();
    return Status::ok();
  }
  if (key == "trigram_input") return boolean(&arch.trigram_input);
  if (key == "use_bottleneck_attention") return boolean(&arch.use_bottleneck_attention);
  if (key == "key_query_shared_bottleneck") return boolean(&arch.key_query_shared_bottleneck);
  if (key == "normalization_type") {
    if (value == "layer_norm") {
      arch.normalization = Normalization::kLayerNorm;
    } else if (value == "no_norm") {
      arch.normalization = Normalization::kNoNorm;
    } else {
      return Status(Code::kInvalidArgument, field + " must be \"layer_norm\" or \"no_norm\"",
                    field);
    }
    return Status::ok();
  }
  return Status(Code::kInvalidArgument, field + " is not a student template option", field);
}

// Copies the options (not the sizes) of `from` onto `to`.
inline void copy_student_options(const StudentArch& from, StudentArch& to) {
  to.embedding_size = from.embedding_size;
  to.trigram_input = from.trigram_input;
  to.normalization = from.normalization;
  to.use_bottleneck_attention = from.use_bottleneck_attention;
  to.key_query_shared_bottleneck = from.key_query_shared_bottleneck;
}

}  // namespace autodistill
