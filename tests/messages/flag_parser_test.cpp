// The shared FlagParser's contract, as every binary relies on it: both value
// forms, refusals that name the flag at fault, repeated flags, the typed
// flags' ranges, and what main() does with --help, --version and errors.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "autodistill/flag_parser.hpp"
#include "autodistill/version.hpp"

using namespace autodistill;

namespace {

struct Parsed {
  std::string name = "unset";
  int64_t count = 7;
  double rate = 0.5;
  bool verbose = false;
  std::vector<std::string> items;
};

FlagParser make_parser(Parsed& p) {
  FlagParser parser("prog: a test program");
  parser.add_text("name", "NAME", "A name.", &p.name);
  parser.add_int("count", "A count in [1, 10].", &p.count, 1, 10);
  parser.add_real("rate", "A positive rate.", &p.rate, true);
  parser.add_switch("verbose", "Talk more.", [&p] { p.verbose = true; });
  parser.add("item", "ITEM", "Repeatable.", [&p](const std::string& v) {
    p.items.push_back(v);
    return Status::ok();
  });
  return parser;
}

// What `run` writes to the file descriptor `fd` (1: stdout, 2: stderr).
std::string captured(int fd, const std::function<void()>& run) {
  std::FILE* stream = fd == 1 ? stdout : stderr;
  std::fflush(stream);
  std::FILE* file = std::tmpfile();
  const int saved = dup(fd);
  dup2(fileno(file), fd);
  run();
  std::fflush(stream);
  dup2(saved, fd);
  close(saved);
  std::string text;
  std::rewind(file);
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  std::fclose(file);
  return text;
}

}  // namespace

TEST_CASE("FlagParser: --flag value and --flag=value are the same", "[flags]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--name", "a=b", "--count", "3", "--rate", "2.5e-1"},
        std::vector<std::string>{"--name=a=b", "--count=3", "--rate=2.5e-1"}}) {
    Parsed p;
    FlagParser parser = make_parser(p);
    REQUIRE(parser.parse(args).is_ok());
    CHECK(p.name == "a=b");
    CHECK(p.count == 3);
    CHECK(p.rate == 0.25);
  }
  // A value may look like a flag when it follows one that takes a value.
  Parsed p;
  FlagParser parser = make_parser(p);
  REQUIRE(parser.parse({"--name", "--count"}).is_ok());
  CHECK(p.name == "--count");
  CHECK(p.count == 7);
  // An empty text value is a value.
  REQUIRE(parser.parse({"--name="}).is_ok());
  CHECK(p.name.empty());
}

TEST_CASE("FlagParser: a repeated flag is applied again, the last value wins", "[flags]") {
  Parsed p;
  FlagParser parser = make_parser(p);
  REQUIRE(parser.parse({"--count", "2", "--item", "x", "--count=9", "--item=y"}).is_ok());
  CHECK(p.count == 9);
  CHECK(p.items == std::vector<std::string>{"x", "y"});
}

TEST_CASE("FlagParser: every refusal is kInvalidArgument naming the flag", "[flags]") {
  struct Case {
    std::vector<std::string> args;
    const char* field;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"--frobnicate"}, "--frobnicate", "unknown flag --frobnicate"},
      {{"--frobnicate=1"}, "--frobnicate", "unknown flag --frobnicate"},
      {{"--count"}, "--count", "--count needs a value (N)"},
      {{"--verbose", "--name"}, "--name", "--name needs a value (NAME)"},
      {{"--verbose=yes"}, "--verbose", "--verbose takes no value"},
      {{"--count", "0"}, "--count", "--count: \"0\" is not in [1, 10]"},
      {{"--count", "11"}, "--count", "--count: \"11\" is not in [1, 10]"},
      {{"--count", "-1"}, "--count", "--count: \"-1\" is not in [1, 10]"},
      {{"--count", "3x"}, "--count", "--count: \"3x\" is not a whole number"},
      {{"--count", "99999999999999999999"}, "--count", "is not a whole number"},
      {{"--count="}, "--count", "--count: \"\" is not a whole number"},
      {{"--rate", "0"}, "--rate", "--rate: \"0\" is not a positive number"},
      {{"--rate", "-0.5"}, "--rate", "is not a positive number"},
      {{"--rate", "fast"}, "--rate", "--rate: \"fast\" is not a number"},
      {{"--rate", "inf"}, "--rate", "is not a number"},
      {{"--rate", "nan"}, "--rate", "is not a number"},
      {{"stray"}, "stray", "unexpected argument \"stray\""},
  };
  for (const Case& c : cases) {
    INFO(c.args.back());
    Parsed p;
    FlagParser parser = make_parser(p);
    Status s = parser.parse(c.args);
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == c.field);
    CHECK_THAT(s.message(), Catch::Contains(c.message));
    // A refused value leaves the target as it was.
    CHECK(p.count == 7);
    CHECK(p.rate == 0.5);
  }
}

TEST_CASE("parse_int and parse_real on their own", "[flags]") {
  CHECK(parse_int("-3", -5, 5).value() == -3);
  CHECK(parse_int("9223372036854775807", 0).value() == INT64_MAX);
  CHECK_THAT(parse_int("1", 4).status().message(), Catch::Contains("is not >= 4"));
  CHECK_THAT(parse_int("+1", 0).status().message(), Catch::Contains("not a whole number"));
  CHECK(parse_real("-2", false).value() == -2.0);
  CHECK(parse_real("3e-2", true).value() == 3e-2);
  CHECK_FALSE(parse_real("1.5 ", false).is_ok());
  CHECK_FALSE(parse_real("", false).is_ok());
}

TEST_CASE("FlagParser: typed flags fit their targets", "[flags]") {
  int narrow = 0;
  std::filesystem::path dir;
  FlagParser parser("prog");
  parser.add_int("narrow", "An int.", &narrow, 0, 100);
  parser.add_text("dir", "DIR", "A directory.", &dir);
  REQUIRE(parser.parse({"--narrow", "42", "--dir", "/tmp/x"}).is_ok());
  CHECK(narrow == 42);
  CHECK(dir == std::filesystem::path("/tmp/x"));
  const std::string usage = parser.usage();
  CHECK_THAT(usage, Catch::Contains("  --narrow N\n      An int.\n"));
  CHECK_THAT(usage, Catch::Contains("  --dir DIR\n      A directory.\n"));
}

TEST_CASE("FlagParser: a list flag replaces the list, every item is checked", "[flags]") {
  std::vector<int> threads = {1, 2};
  FlagParser parser("prog");
  parser.add_int_list("threads", "Thread counts.", &threads, 1, 64);
  REQUIRE(parser.parse({"--threads", "4,8,16"}).is_ok());
  CHECK(threads == std::vector<int>{4, 8, 16});
  REQUIRE(parser.parse({"--threads=3"}).is_ok());
  CHECK(threads == std::vector<int>{3});
  for (const char* bad : {"", "1,,2", "1,2,", "4,65", "0", "x"}) {
    INFO(bad);
    Status s = parser.parse({"--threads", bad});
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == "--threads");
    CHECK(threads == std::vector<int>{3});
  }
  CHECK_THAT(parser.parse({"--threads", "4,65"}).message(),
             Catch::Contains("--threads: \"65\" is not in [1, 64]"));
  CHECK_THAT(parser.usage(), Catch::Contains("  --threads LIST\n"));
}

TEST_CASE("FlagParser: main()'s arguments, --help, --version and usage errors", "[flags]") {
  Parsed p;
  FlagParser parser = make_parser(p);
  const char* argv[] = {"prog", "--count", "4", "--verbose"};
  REQUIRE(parser.parse(4, argv).is_ok());
  CHECK(p.count == 4);
  CHECK(p.verbose);
  CHECK_FALSE(parser.answer_help_or_version("prog").has_value());

  // The program name is not an argument, even when it looks like a flag.
  const char* only_name[] = {"--count"};
  CHECK(parser.parse(1, only_name).is_ok());

  FlagParser help = make_parser(p);
  const char* help_argv[] = {"prog", "--help"};
  REQUIRE(help.parse(2, help_argv).is_ok());
  std::optional<int> status;
  CHECK(captured(1, [&] { status = help.answer_help_or_version("prog"); }) == help.usage());
  CHECK(status == std::optional<int>(0));

  FlagParser version = make_parser(p);
  const char* version_argv[] = {"prog", "--version"};
  REQUIRE(version.parse(2, version_argv).is_ok());
  CHECK(captured(1, [&] { status = version.answer_help_or_version("prog"); }) ==
        version_line("prog"));
  CHECK(status == std::optional<int>(0));

  int exit_status = 0;
  const Status bad(Code::kInvalidArgument, "bad", "--count");
  CHECK(captured(2, [&] { exit_status = usage_error("prog", bad); }) ==
        "prog: " + bad.to_string() + "\n(see prog --help)\n");
  CHECK(exit_status == 2);
  CHECK(kUsageExitStatus == 2);
}
