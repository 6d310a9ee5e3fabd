#include "autodistill/bounded_json.hpp"

namespace autodistill {

Status check_json_limits(std::string_view text, const std::string& field,
                         const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status(Code::kInvalidArgument,
                  "JSON text of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                      std::to_string(limits.max_bytes),
                  field);
  }
  // Brackets inside strings do not nest; a backslash escapes the next byte.
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > limits.max_depth) {
          return Status(Code::kInvalidArgument,
                        "JSON nests deeper than " + std::to_string(limits.max_depth) +
                            " levels (at byte " + std::to_string(i) + ")",
                        field);
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return Status::ok();
}

}  // namespace autodistill
