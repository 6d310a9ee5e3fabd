#include <catch2/catch.hpp>
#include <fstream>

#include "autodistill/daemon/config.hpp"
#include "temp_dir.hpp"

using namespace autodistill;
using namespace autodistill::daemon;

TEST_CASE("config: file then command line, in that order", "[config]") {
  testing::TempDir dir;
  const std::string file = dir.path() + "/autodistilld.conf";
  std::ofstream(file) << "# comment\nlease_ms = 20000\nworker_endpoint = tcp://127.0.0.1:7000 "
                         "# trailing\n\nmax_attempts=5\n";
  auto cl = parse_command_line({"--max-attempts", "7", "--config", file, "--tick_ms=50"});
  REQUIRE(cl);
  CHECK(cl->config.lease_ms == 20000);
  CHECK(cl->config.worker_endpoint == "tcp://127.0.0.1:7000");
  CHECK(cl->config.max_attempts == 7);  // the command line wins over the file
  CHECK(cl->config.tick_ms == 50);
}

TEST_CASE("config: bad keys and values name the field", "[config]") {
  auto unknown = parse_command_line({"--no-such-key", "1"});
  CHECK(unknown.status().code() == Code::kInvalidArgument);
  CHECK(unknown.status().field() == "--no-such-key");
  auto bad = parse_command_line({"--lease_ms", "soon"});
  CHECK(bad.status().field() == "lease_ms");
  auto cross = parse_command_line({"--lease_ms", "500", "--heartbeat_interval_ms", "1000"});
  CHECK(cross.status().field() == "lease_ms");
  auto level = parse_command_line({"--log_level", "loud"});
  CHECK(level.status().field() == "log_level");
}

TEST_CASE("config: --help reads no config file but still checks the keys", "[config]") {
  // The systemd unit's and the docs' command lines are checked with --help
  // (tests/systemd, tests/docs) on hosts without /etc/autodistill.
  auto help = parse_command_line({"--config", "/no/such/autodistilld.conf", "--help"});
  REQUIRE(help);
  CHECK(help->help);
  auto without = parse_command_line({"--config", "/no/such/autodistilld.conf"});
  CHECK(without.status().code() == Code::kNotFound);
  auto unknown = parse_command_line({"--no-such-key", "1", "--help"});
  CHECK(unknown.status().field() == "--no-such-key");
}

TEST_CASE("config: render documents every field and parses back", "[config]") {
  testing::TempDir dir;
  Config c;
  c.data_dir = dir.path();
  c.lease_ms = 12345;
  const std::string text = c.render();
  CHECK(text.find("# default: 15000") != std::string::npos);
  const std::string file = dir.path() + "/round.conf";
  std::ofstream(file) << text;
  Config back;
  REQUIRE(back.load_file(file));
  CHECK(back.lease_ms == 12345);
  CHECK(back.data_dir == dir.path());
}
