// The landscape export: reading a design space from a study spec file,
// enumerating its points, and the CSV it writes (with a stand-in model).

#include <sstream>

#include <catch2/catch.hpp>

#include "autodistill/probe/landscape.hpp"
#include "probe_test_support.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;
using test::TempDir;

constexpr const char* kSpace = R"({
  "name": "landscape", "kind": "distill", "max_trials": 4,
  "factors": [
    {"name": "num_blocks", "kind": "ordinal", "values": [1, 2]},
    {"name": "hidden_size", "kind": "ordinal", "values": [64]},
    {"name": "bottleneck_size", "kind": "ordinal", "values": [32]},
    {"name": "num_heads", "kind": "ordinal", "values": [2, 3]},
    {"name": "intermediate_size", "kind": "ordinal", "values": [64]},
    {"name": "num_stacked_ffn", "kind": "integer", "low": 1, "high": 1}],
  "settings": {"student": {"vocab_size": 1000, "max_positions": 64},
               "serving": {"seq_len": 32}}})";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(cell);
  return cells;
}

}  // namespace

TEST_CASE("a study spec file's design space enumerates every point", "[probe][landscape]") {
  auto space = parse_design_space(kSpace);
  REQUIRE(space.is_ok());
  REQUIRE(space->factors.size() == 6);
  CHECK(space->size() == 4);
  CHECK(space->point(0).at("num_blocks") == 1);
  CHECK(space->point(0).at("num_heads") == 2);
  CHECK(space->point(1).at("num_heads") == 3);  // the last factor that varies is fastest
  CHECK(space->point(2).at("num_blocks") == 2);
  CHECK(space->point(3).at("num_stacked_ffn") == 1);
  CHECK(space->settings_json.find("\"seq_len\":32") != std::string::npos);

  auto integer = parse_design_space(
      R"({"factors": [{"name": "num_blocks", "kind": "integer", "low": 2, "high": 5}]})");
  REQUIRE(integer.is_ok());
  CHECK(integer->factors[0].values == std::vector<double>{2, 3, 4, 5});
}

TEST_CASE("a bad design space is refused with its JSON path", "[probe][landscape]") {
  auto field_of = [](const std::string& text) {
    auto space = parse_design_space(text);
    CHECK(space.status().code() == Code::kInvalidArgument);
    return space.status().field();
  };
  CHECK(field_of("nope") == "");
  CHECK(field_of(R"({"factors": []})") == "factors");
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "categorical", "categories": ["x"]}]})") ==
        "factors[0].kind");
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "ordinal", "values": [1, "x"]}]})") ==
        "factors[0].values[1]");
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "integer", "low": 3, "high": 1}]})") ==
        "factors[0].high");
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "integer", "low": 0, "high": 9999}]})") ==
        "factors[0].high");
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "ordinal", "values": [1]},
                                 {"name": "a", "kind": "ordinal", "values": [2]}]})") ==
        "factors[1].name");
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "ordinal", "values": [1]}],
                     "settings": 3})") == "settings");
  // Bounded JSON (issue #11).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "ordinal", "values": )" + deep + "}]}") ==
        "");
  CHECK(field_of(R"({"factors": [{"name": "a", "kind": "ordinal", "values": [1e999]}]})") == "");
}

TEST_CASE("the landscape CSV has a row per point, errors included", "[probe][landscape]") {
  TempDir dir;
  auto space = parse_design_space(kSpace);
  REQUIRE(space.is_ok());
  std::ostringstream csv;
  std::vector<std::string> log;
  Status status = write_landscape(space.value(), test::quick_options(dir.path() / "probe.lock"),
                                  test::spin_factory(), "fp", csv,
                                  [&log](const std::string& line) { log.push_back(line); });
  REQUIRE(status.is_ok());
  CHECK(log.size() == 4);
  CHECK(log[0].rfind("1/4 num_blocks=1 ", 0) == 0);

  const auto lines = lines_of(csv.str());
  REQUIRE(lines.size() == 5);
  const auto header = cells_of(lines[0]);
  REQUIRE(header.size() == 25);
  CHECK(header[0] == "num_blocks");
  CHECK(header[6] == "params");
  CHECK(header[8] == "latency_ms");
  CHECK(header[13] == "min_ms");
  CHECK(header[14] == "runs");
  CHECK(header[18] == "timed_runs");
  CHECK(header[19] == "preempted_runs");
  CHECK(header[20] == "attempts");
  CHECK(header[23] == "hardware_fingerprint");
  CHECK(header[24] == "error");
  for (size_t row = 1; row < lines.size(); ++row) {
    INFO(lines[row]);
    const auto cells = cells_of(lines[row]);
    REQUIRE(cells.size() == header.size());
    CHECK(cells[23] == "fp");
    const bool valid = cells[3] == "2";  // num_heads 3 does not divide 32
    if (valid) {
      CHECK(std::stod(cells[8]) > 0);
      CHECK(std::stod(cells[6]) > 0);
      CHECK(std::stod(cells[13]) > 0);
      CHECK(std::stod(cells[13]) <= std::stod(cells[8]));   // min <= median
      CHECK(std::stod(cells[18]) >= std::stod(cells[14]));  // timed runs >= kept runs
      CHECK(std::stod(cells[18]) >= std::stod(cells[19]));  // of which preempted
      CHECK(std::stod(cells[20]) >= 1);
      CHECK(cells[24].empty());
    } else {
      CHECK(cells[8].empty());
      CHECK(cells[13].empty());
      CHECK(cells[24].find("params.num_heads") != std::string::npos);
    }
  }
  // Deeper students measure slower, with the FLOP-proportional stand-in.
  CHECK(std::stod(cells_of(lines[3])[8]) > std::stod(cells_of(lines[1])[8]));
}
