// The shared FlagParser (positionals, --version, `-` = `_`), the version
// string and the shared log line format.

#include <catch2/catch.hpp>
#include <regex>

#include "autodistill/flag_parser.hpp"
#include "autodistill/log.hpp"
#include "autodistill/version.hpp"

using namespace autodistill;

TEST_CASE("FlagParser: positionals, --version, and dashes equal underscores", "[flags]") {
  std::vector<std::string> positionals;
  std::string dir;
  FlagParser parser("test");
  parser.add("data-dir", "DIR", "where", [&dir](const std::string& v) {
    dir = v;
    return Status::ok();
  });
  parser.set_positionals("ID", [&positionals](const std::string& v) {
    if (v == "bad") return Status(Code::kInvalidArgument, "not an id");
    positionals.push_back(v);
    return Status::ok();
  });
  REQUIRE(parser.parse({"12", "--data_dir", "/d", "13", "--version"}).is_ok());
  CHECK(dir == "/d");
  CHECK(positionals == std::vector<std::string>{"12", "13"});
  CHECK(parser.version_requested());
  CHECK_FALSE(parser.help_requested());
  CHECK(parser.usage().find("--version") != std::string::npos);

  FlagParser strict("test");
  Status refused = strict.parse({"stray"});
  CHECK(refused.code() == Code::kInvalidArgument);
  CHECK(refused.field() == "stray");
  Status bad = parser.parse({"bad"});
  CHECK(bad.field() == "ID");
  // A flag after --help is still checked.
  CHECK(parser.parse({"--help", "--no-such"}).field() == "--no-such");
}

TEST_CASE("the version names the project version", "[flags]") {
  CHECK(std::string(version_string()).rfind(AUTODISTILL_PROJECT_VERSION, 0) == 0);
  CHECK(version_line("autodistilld") == std::string("autodistilld ") + version_string() + "\n");
}

TEST_CASE("log lines carry the syslog priority, the UTC time in ISO 8601, the level", "[log]") {
  // 2026-12-03T11:40:32.123Z
  const int64_t ms = 1796298032123;
  CHECK(format_log_line(LogLevel::kWarn, ms, "autodistill-worker", "slow") ==
        "<4>2026-12-03T11:40:32.123Z warn autodistill-worker: slow");
  CHECK(format_log_line(LogLevel::kInfo, 5, "p", "m") == "<6>1970-01-01T00:00:00.005Z info p: m");
  LogLevel level;
  CHECK(parse_log_level("error", &level));
  CHECK(level == LogLevel::kError);
  CHECK_FALSE(parse_log_level("loud", &level));
  set_log_level(LogLevel::kWarn);
  CHECK_FALSE(log_enabled(LogLevel::kInfo));
  CHECK(log_enabled(LogLevel::kError));
  set_log_level(LogLevel::kInfo);
}
