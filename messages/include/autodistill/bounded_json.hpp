#pragma once
// Bounded JSON parsing: the one way autodistill reads JSON that came from
// outside the process (a study spec's settings, a wire message, a stored row,
// a CLI input file, an evaluator's output, a teacher's config.json, ...).
//
// nlohmann::json parses nesting iteratively, but copying, comparing and
// dump() recurse once per level: a document nested 100,000 deep parses fine
// and then overflows the stack wherever it is re-serialized (issue #11,
// item 2). parse_json() therefore checks size and depth *before* nlohmann
// sees the text, with a linear, non-recursive scan, and turns every parse
// error (syntax, a number such as 1e999 that overflows a double, invalid
// UTF-8) into a Status naming the field. No exception escapes.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "autodistill/status.hpp"

namespace autodistill {

struct JsonLimits {
  size_t max_depth = 64;         // nested arrays and objects; a scalar is depth 0
  size_t max_bytes = 16u << 20;  // the whole text
};

// Checks the size and the nesting depth of `text` without parsing it (it
// need not be valid JSON). kInvalidArgument naming `field` when a limit is
// passed; ok otherwise.
Status check_json_limits(std::string_view text, const std::string& field,
                         const JsonLimits& limits = {});

// Parses `text` as one JSON document within `limits`. Errors are
// kInvalidArgument naming `field`, with nlohmann's description of the
// problem (what and where). Json: nlohmann::json or nlohmann::ordered_json.
template <class Json = nlohmann::json>
Result<Json> parse_json(std::string_view text, const std::string& field,
                        const JsonLimits& limits = {}) {
  if (Status s = check_json_limits(text, field, limits); !s) return s;
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const std::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 3, ...": the tag is noise.
    std::string what = e.what();
    if (what.rfind("[json.exception.", 0) == 0) {
      if (auto end = what.find("] "); end != std::string::npos) what.erase(0, end + 2);
    }
    return Status(Code::kInvalidArgument, "not valid JSON: " + what, field);
  }
}

}  // namespace autodistill
