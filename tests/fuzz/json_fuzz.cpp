// libFuzzer target: parse_json(), the bounded JSON parser every side uses
// for input from outside (messages/include/autodistill/bounded_json.hpp).
//
// The first input byte picks the limits (max_depth 0..63, or the default
// 64), the rest is the text. Properties, beyond "no crash, no sanitizer
// report" (a document that nests too deep would overflow the stack in
// dump() below):
//   - a refusal is InvalidArgument naming the given field;
//   - an accepted document nests at most max_depth arrays and objects;
//   - it re-serializes (dump) and parses back, within the same limits, to
//     an equal value (so nothing it accepts can break the daemon later,
//     when it is stored and read back);
//   - when the text is within the limits, parse_json accepts exactly what
//     nlohmann accepts (the bound refuses nothing else).
#include <cstddef>
#include <cstdint>
#include <string>

#include "autodistill/bounded_json.hpp"

using namespace autodistill;

namespace {

size_t depth(const nlohmann::json& v) {
  if (!v.is_structured()) return 0;
  size_t deepest = 0;
  for (const auto& child : v) deepest = std::max(deepest, depth(child));
  return deepest + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  JsonLimits limits;
  if (data[0] < 64) limits.max_depth = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto parsed = parse_json(text, "input", limits);
  const bool within = check_json_limits(text, "input", limits).is_ok();
  if (within && parsed.is_ok() != nlohmann::json::accept(text)) __builtin_trap();
  if (!parsed) {
    if (parsed.status().code() != Code::kInvalidArgument || parsed.status().field() != "input") {
      __builtin_trap();
    }
    return 0;
  }
  if (depth(parsed.value()) > limits.max_depth) __builtin_trap();
  const std::string again = parsed.value().dump();
  auto back = parse_json(again, "input", limits);
  if (!back || back.value() != parsed.value()) __builtin_trap();
  return 0;
}
