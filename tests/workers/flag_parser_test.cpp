// FlagParser and the common worker flags.

#include <catch2/catch.hpp>

#include "autodistill/flag_parser.hpp"
#include "autodistill/worker/worker_flags.hpp"

namespace {

using namespace autodistill;
using autodistill::FlagParser;
using worker::WorkerFlags;

}  // namespace

TEST_CASE("worker flags fill PullWorkerOptions and the study flag repeats", "[workers][flags]") {
  WorkerFlags flags;
  FlagParser parser("test");
  worker::add_worker_flags(parser, flags);
  Status s = parser.parse({"--endpoint", "tcp://10.0.0.1:7000", "--slots=3", "--study", "4",
                           "--study=9", "--tag", "a100", "--instance", "2", "--cache-dir", "/c"});
  REQUIRE(s.is_ok());
  CHECK_FALSE(parser.help_requested());
  CHECK(flags.options.endpoint == "tcp://10.0.0.1:7000");
  CHECK(flags.options.slots == 3);
  CHECK(flags.options.studies == std::vector<uint64_t>{4, 9});
  CHECK(flags.options.cache_dir == "/c");
  worker::finish_worker_flags(flags);
  CHECK(flags.options.hardware.tag == "a100");
  CHECK(flags.options.hardware.fingerprint.size() == 64);
  CHECK(flags.options.worker_id.size() > std::string("-external-2").size());
  CHECK(flags.options.worker_id.substr(flags.options.worker_id.size() - 11) == "-external-2");
}

TEST_CASE("bad flags are refused naming the flag", "[workers][flags]") {
  struct Case {
    std::vector<std::string> args;
    const char* field;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"--slots", "0"}, "--slots", "not in [1, 1024]"},
      {{"--slots", "two"}, "--slots", "not a whole number"},
      {{"--study", "-1"}, "--study", "not a whole number"},
      {{"--study"}, "--study", "needs a value"},
      {{"--frobnicate", "1"}, "--frobnicate", "unknown flag"},
      {{"stray"}, "stray", "unexpected argument"},
      {{"--tag="}, "--tag", "needs a tag"},
      {{"--tag", "gpu h100"}, "--tag", "A-Z a-z 0-9 . _ : - only"},
      {{"--tag", "x\"} 1"}, "--tag", "A-Z a-z 0-9 . _ : - only"},
  };
  for (const Case& c : cases) {
    INFO(c.args[0]);
    WorkerFlags flags;
    FlagParser parser("test");
    worker::add_worker_flags(parser, flags);
    Status s = parser.parse(c.args);
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == c.field);
    CHECK_THAT(s.message(), Catch::Contains(c.message));
  }
}

TEST_CASE("the help flag is recognised and the usage lists every flag", "[workers][flags]") {
  WorkerFlags flags;
  FlagParser parser("my-worker: does things");
  worker::add_worker_flags(parser, flags);
  bool verbose = false;
  parser.add_switch("verbose", "Talk more.", [&] { verbose = true; });
  REQUIRE(parser.parse({"--verbose", "--help"}).is_ok());
  CHECK(verbose);
  CHECK(parser.help_requested());
  std::string usage = parser.usage();
  CHECK_THAT(usage, Catch::StartsWith("my-worker: does things"));
  for (const char* flag :
       {"--endpoint URL", "--worker-id ID", "--instance N", "--slots N", "--tag TAG",
        "--cache-dir DIR", "--scratch-dir DIR", "--study ID", "--verbose", "--help"}) {
    CHECK_THAT(usage, Catch::Contains(flag));
  }
  CHECK_FALSE(parser.parse({"--verbose=yes"}).is_ok());
}

TEST_CASE("roles parse by name", "[workers][flags]") {
  CHECK(worker::parse_role("distill").value() == wire::Role::Distill);
  CHECK(worker::parse_role("probe").value() == wire::Role::Probe);
  CHECK(worker::parse_role("external").value() == wire::Role::External);
  CHECK(worker::parse_role("gpu").status().field() == "role");
  CHECK(std::string(worker::role_name(wire::Role::Probe)) == "probe");
}
