// parse_json(): the bounded JSON parser every side uses for outside input
// (issue #11, item 2). Depth and size are checked before nlohmann parses,
// and every parse error is a Status naming the field, never an exception.
// check_hardware_tag(): hardware tags are names (item 8).
#include <catch2/catch.hpp>

#include <string>

#include "autodistill/bounded_json.hpp"
#include "autodistill/wire/hardware_tag.hpp"

using namespace autodistill;

namespace {

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

}  // namespace

TEST_CASE("bounded json: nesting beyond the limit is refused before parsing", "[messages][json]") {
  // 100,000 levels parse in nlohmann but crash its recursive dump().
  auto deep = parse_json(nested(100000), "spec.settings_json");
  REQUIRE_FALSE(deep);
  CHECK(deep.status().code() == Code::kInvalidArgument);
  CHECK(deep.status().field() == "spec.settings_json");
  CHECK(deep.status().message().find("deeper than 64") != std::string::npos);

  CHECK(parse_json(nested(64), "f"));
  CHECK_FALSE(parse_json(nested(65), "f"));
  JsonLimits tight;
  tight.max_depth = 2;
  CHECK(parse_json(R"({"a": [1, 2]})", "f", tight));
  CHECK_FALSE(parse_json(R"({"a": [[1]]})", "f", tight));
  // Objects count like arrays; closing brackets bring the depth back down.
  CHECK_FALSE(parse_json(R"({"a":{"b":{"c":1}}})", "f", tight));
  CHECK(parse_json(R"([[1],[2],{"x":4},[]])", "f", tight));
}

TEST_CASE("bounded json: brackets inside strings do not nest", "[messages][json]") {
  JsonLimits tight;
  tight.max_depth = 1;
  auto ok = parse_json(R"({"text": "[[[[{{{{ \" [[[[ \\"})", "f", tight);
  REQUIRE(ok);
  CHECK(ok.value()["text"] == "[[[[{{{{ \" [[[[ \\");
  // An escaped quote does not end the string; the bracket after it is text.
  CHECK(parse_json(R"(["\"[[["])", "f", tight));
}

TEST_CASE("bounded json: size beyond the limit is refused", "[messages][json]") {
  JsonLimits small;
  small.max_bytes = 16;
  CHECK(parse_json(R"({"a": 1})", "f", small));
  auto big = parse_json(R"({"a": "0123456789abcdef"})", "input.json", small);
  REQUIRE_FALSE(big);
  CHECK(big.status().field() == "input.json");
  CHECK(big.status().message().find("exceeds the limit of 16") != std::string::npos);
}

TEST_CASE("bounded json: every parse error is a field-named status", "[messages][json]") {
  for (const char* bad : {"1e999", "[1e999]", "-1e400", "{", "]", "", "nul", "[1,]", "\"\xff\"",
                          "{\"a\" 1}", "[1] [2]"}) {
    INFO(bad);
    auto r = parse_json(bad, "settings");
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().field() == "settings");
    CHECK(r.status().message().rfind("not valid JSON: ", 0) == 0);
  }
  auto overflow = parse_json("{\"x\": 1e999}", "settings");
  REQUIRE_FALSE(overflow);
  CHECK(overflow.status().message().find("number overflow") != std::string::npos);
}

TEST_CASE("bounded json: ordered_json keeps the key order", "[messages][json]") {
  auto r = parse_json<nlohmann::ordered_json>(R"({"b": 1, "a": 2})", "f");
  REQUIRE(r);
  CHECK(r.value().begin().key() == "b");
  CHECK(r.value().dump() == R"({"b":1,"a":2})");
}

TEST_CASE("hardware tags are names: charset and length", "[messages][tag]") {
  for (const char* good : {"", "cpu", "gpu-h100_v2:0.1", "A.b-C_d:9"}) {
    INFO(good);
    CHECK(wire::check_hardware_tag(good, "hardware.tag"));
  }
  CHECK(wire::check_hardware_tag(std::string(128, 'x'), "t"));
  Status long_tag = wire::check_hardware_tag(std::string(129, 'x'), "hardware.tag");
  CHECK(long_tag.code() == Code::kInvalidArgument);
  CHECK(long_tag.field() == "hardware.tag");
  for (const char* bad :
       {"gpu h100", "x\"}", "a\nb", "a\\b", "tag{", "caf\xc3\xa9", "a,b", "a=b"}) {
    INFO(bad);
    Status s = wire::check_hardware_tag(bad, "hardware.tag");
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.message().find("A-Z a-z 0-9 . _ : -") != std::string::npos);
  }
}
