// Objective transforms and hypervolume references (issue #13 item 1) from a
// spec file through the real CLI to the real daemon: refused with the field
// at fault, or stored and read back as declared.
#include <fstream>

#include <nlohmann/json.hpp>

#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// An External study over one integer factor with the given objectives.
std::string spec_with(const std::string& objectives) {
  return R"({"name": "objectives", "kind": "external",
             "factors": [{"name": "level", "kind": "integer", "low": 1, "high": 9}],
             "objectives": )" +
         objectives + R"(, "max_trials": 4})";
}

}  // namespace

TEST_CASE("integration: objective transforms and references from a spec file", "[integration]") {
  Cluster c;
  int runs = 0;
  // Runs `autodistill --json ARGS`; returns the exit code and stdout+stderr.
  auto cli = [&](std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {AUTODISTILL_CLI_PATH, "--endpoint", c.client_endpoint(),
                                     "--timeout-ms",       "5000",       "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = c.path("cli-" + std::to_string(++runs) + ".log");
    Process p = Process::spawn(argv, log);
    const int code = p.wait(30s);
    *out = slurp(log);
    return code;
  };
  auto submit = [&](const std::string& spec, std::string* out) {
    const std::string file = c.path("spec-" + std::to_string(runs) + ".json");
    std::ofstream(file) << spec;
    return cli({"submit", "--spec", file, "--key", "k" + std::to_string(runs)}, out);
  };

  struct Refused {
    const char* objectives;
    const char* field;
  };
  const Refused refused[] = {
      // A log-transformed objective needs a positive reference.
      {R"([{"name": "ratio", "direction": "maximize", "transform": "log", "reference": -1}])",
       "spec.objectives[0].reference"},
      // ... also when the naming rule (latency) makes it log-transformed.
      {R"([{"name": "latency_ms", "direction": "minimize", "reference": 0}])",
       "spec.objectives[0].reference"},
      // The baseline's values need a baseline architecture (Distill studies).
      {R"([{"name": "ratio", "direction": "maximize", "reference": "baseline"}])",
       "spec.objectives[0].reference_baseline"},
  };
  for (const auto& r : refused) {
    INFO(r.objectives);
    std::string out;
    CHECK(submit(spec_with(r.objectives), &out) == 3);
    INFO(out);
    CHECK(out.find("INVALID_ARGUMENT") != std::string::npos);
    CHECK(out.find(std::string("\"field\":\"") + r.field + "\"") != std::string::npos);
  }
  std::string out;
  REQUIRE(cli({"list"}, &out) == 0);
  CHECK(out.find("\"study_id\"") == std::string::npos);  // nothing stored

  // Declared transforms and references are stored as declared: a metric that
  // can be negative under "none" with a negative reference, a latency under
  // "none" although its name would make it log-transformed.
  const std::string good =
      R"([{"name": "delta", "direction": "maximize", "transform": "none", "reference": -2.5},
          {"name": "latency_ms", "direction": "minimize", "transform": "none"},
          {"name": "size", "direction": "minimize", "transform": "log", "reference": 3}])";
  REQUIRE(submit(spec_with(good), &out) == 0);
  const auto at = out.find("\"study_id\":");
  REQUIRE(at != std::string::npos);
  const std::string id = std::to_string(std::stoull(out.substr(at + 11)));
  REQUIRE(cli({"get", id}, &out) == 0);
  const auto open = out.find('{');
  REQUIRE(open != std::string::npos);
  const nlohmann::json study = nlohmann::json::parse(out.substr(open));
  INFO(study.dump());
  const nlohmann::json& objectives = study.at("study").at("spec").at("objectives");
  REQUIRE(objectives.size() == 3);
  CHECK(objectives[0].at("transform") == "none");
  CHECK(objectives[0].at("reference") == -2.5);
  CHECK(objectives[1].at("transform") == "none");
  CHECK_FALSE(objectives[1].contains("reference"));
  CHECK(objectives[2].at("transform") == "log");
  CHECK(objectives[2].at("reference") == 3);
  CHECK(c.daemon().running());
}
