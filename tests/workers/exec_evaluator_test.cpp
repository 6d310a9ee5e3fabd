// ExecEvaluator: the --exec JSON contract with real /bin/sh commands.

#include <signal.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "autodistill/worker/exec_evaluator.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace std::chrono_literals;
using test::TempDir;
using worker::ExecEvaluator;
using worker::TrialContext;
using worker::TrialSpec;

TrialSpec spec() {
  TrialSpec s;
  s.trial_id = 12;
  s.attempt = 2;
  s.study_id = 3;
  s.kind = wire::TrialKind::External;
  s.params = {{"x", 1.5}, {"layers", 4.0}, {"optimizer", std::string("adam")}};
  s.objectives = {"loss", "cost"};
  s.settings_json = R"({"epochs": 3})";
  return s;
}

Result<worker::TrialOutcome> run(const std::string& command, TrialContext& ctx) {
  ExecEvaluator evaluator(command, 500ms);
  return evaluator.evaluate(ctx);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Gone, or a zombie nobody has reaped yet.
bool process_dead(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

}  // namespace

TEST_CASE("exec evaluator: the trial goes in as JSON and the objectives come out",
          "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  auto outcome = run(R"(cat > "$AUTODISTILL_SCRATCH_DIR/in.json"
echo "trial $AUTODISTILL_TRIAL_ID attempt $AUTODISTILL_ATTEMPT" >&2
echo '{"objectives": {"loss": 0.5, "cost": 2}, "metrics": {"epochs": 3}}')",
                     ctx);
  REQUIRE(outcome.status().to_string() == "OK");
  CHECK(outcome->objectives == std::map<std::string, double>{{"loss", 0.5}, {"cost", 2.0}});
  CHECK(outcome->metrics == std::map<std::string, double>{{"epochs", 3.0}});
  CHECK(outcome->artifacts.empty());

  auto input = nlohmann::json::parse(read_file(dir.path() / "in.json"));
  CHECK(input["trial_id"] == 12);
  CHECK(input["attempt"] == 2);
  CHECK(input["study_id"] == 3);
  CHECK(input["kind"] == "external");
  CHECK(input["params"]["x"] == 1.5);
  CHECK(input["params"]["optimizer"] == "adam");
  CHECK(input["params"]["layers"].is_number_integer());
  CHECK(input["params"]["layers"] == 4);
  CHECK(input["objectives"] == nlohmann::json::array({"loss", "cost"}));
  CHECK(input["settings"]["epochs"] == 3);
  CHECK(input["scratch_dir"] == dir.path().string());
}

TEST_CASE("exec evaluator: artifact paths are relative to the scratch directory",
          "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  auto outcome = run(R"(echo weights > "$AUTODISTILL_SCRATCH_DIR/model.bin"
echo '{"objectives": {"loss": 1, "cost": 1}, "artifacts": {"model.bin": "model.bin", "abs": "/etc/hostname"}}')",
                     ctx);
  REQUIRE(outcome.is_ok());
  REQUIRE(outcome->artifacts.size() == 2);
  std::map<std::string, std::filesystem::path> artifacts;
  for (const auto& a : outcome->artifacts) artifacts[a.name] = a.path;
  CHECK(artifacts["model.bin"] == dir.path() / "model.bin");
  CHECK(artifacts["abs"] == "/etc/hostname");
}

TEST_CASE(
    "exec evaluator: a reported error is a Failure that is retryable unless it says otherwise",
    "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  auto permanent = run(R"(echo '{"error": "invalid architecture", "retryable": false}')", ctx);
  REQUIRE_FALSE(permanent.is_ok());
  CHECK_FALSE(worker::is_retryable(permanent.status()));
  CHECK_THAT(permanent.status().message(), Catch::Contains("invalid architecture"));

  auto retryable = run(R"(echo '{"error": "GPU busy"}')", ctx);
  REQUIRE_FALSE(retryable.is_ok());
  CHECK(worker::is_retryable(retryable.status()));
  CHECK_THAT(retryable.status().message(), Catch::Contains("GPU busy"));
}

TEST_CASE("exec evaluator: output that breaks the contract is a clear permanent Failure",
          "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  struct Case {
    const char* command;
    const char* message;
    const char* field;
  };
  const Case cases[] = {
      {"echo starting; echo done", "not one JSON object: \"starting", ""},
      {"true", "not one JSON object", ""},
      {R"(echo '[1, 2]')", "not one JSON object", ""},
      {R"(echo '{"metrics": {}}')", "no \"objectives\" object", "objectives"},
      {R"(echo '{"objectives": {"loss": 1}}')", "lacks objective \"cost\"", "objectives.cost"},
      {R"(echo '{"objectives": {"loss": "low", "cost": 1}}')", "objectives.loss is not a finite",
       "objectives.loss"},
      {R"(echo '{"objectives": {"loss": 1, "cost": 1}, "metrics": [1]}')",
       "\"metrics\" in the command's output is not an object", "metrics"},
      {R"(echo '{"error": 42}')", "\"error\" must be a string", "error"},
  };
  for (const Case& c : cases) {
    INFO(c.command);
    auto outcome = run(c.command, ctx);
    REQUIRE_FALSE(outcome.is_ok());
    CHECK_FALSE(worker::is_retryable(outcome.status()));
    CHECK_THAT(outcome.status().message(), Catch::Contains(c.message));
    CHECK(outcome.status().field() == c.field);
  }
}

TEST_CASE("exec evaluator: a non-zero exit is a retryable Failure with the end of stderr",
          "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  auto exited = run("echo 'Traceback: ZeroDivisionError' >&2; exit 3", ctx);
  REQUIRE_FALSE(exited.is_ok());
  CHECK(worker::is_retryable(exited.status()));
  CHECK_THAT(exited.status().message(), Catch::Contains("exited with status 3"));
  CHECK_THAT(exited.status().message(), Catch::Contains("ZeroDivisionError"));

  auto killed = run("kill -9 $$", ctx);
  REQUIRE_FALSE(killed.is_ok());
  CHECK(worker::is_retryable(killed.status()));
  CHECK_THAT(killed.status().message(), Catch::Contains("killed by signal 9"));
}

TEST_CASE("exec evaluator: a command that ignores a large input does not hurt the worker",
          "[workers][exec]") {
  TempDir dir;
  TrialSpec big = spec();
  big.settings_json = R"({"blob": ")" + std::string(1 << 20, 'x') + R"("})";
  TrialContext ctx(big, dir.path());
  auto outcome = run(R"(echo '{"objectives": {"loss": 1, "cost": 2}}')", ctx);
  REQUIRE(outcome.is_ok());  // EPIPE on its stdin, no SIGPIPE death
  CHECK(outcome->objectives.at("cost") == 2.0);

  TrialSpec bad = spec();
  bad.settings_json = "{not json";
  TrialContext bad_ctx(bad, dir.path());
  auto refused = run("true", bad_ctx);
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().field() == "settings_json");
}

TEST_CASE("exec evaluator: hostile output and settings are bounded JSON, never a crash",
          "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::ofstream(dir.path() / "deep.json")
      << R"({"objectives": {"loss": )" + deep + R"(, "cost": 1}})";
  std::ofstream(dir.path() / "overflow.json") << R"({"objectives": {"loss": 1e999, "cost": 1}})";
  struct Case {
    std::string command;
    const char* message;
  };
  const Case cases[] = {
      {"cat " + (dir.path() / "deep.json").string(), "deeper than 64"},
      {"cat " + (dir.path() / "overflow.json").string(), "number overflow"},
  };
  for (const Case& c : cases) {
    INFO(c.command);
    auto outcome = run(c.command, ctx);
    REQUIRE_FALSE(outcome.is_ok());
    CHECK_FALSE(worker::is_retryable(outcome.status()));
    CHECK_THAT(outcome.status().message(), Catch::Contains("not one JSON object"));
    CHECK_THAT(outcome.status().message(), Catch::Contains(c.message));
  }

  TrialSpec deep_settings = spec();
  deep_settings.settings_json = "{\"a\": " + deep + "}";
  TrialContext deep_ctx(deep_settings, dir.path());
  auto refused = run("true", deep_ctx);
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().field() == "settings_json");
  CHECK_THAT(refused.status().message(), Catch::Contains("deeper than 64"));

  // A category that is not UTF-8 reaches the command as U+FFFD.
  TrialSpec odd = spec();
  odd.params = {{"optimizer", std::string("ad\xff"
                                          "am")}};
  TrialContext odd_ctx(odd, dir.path());
  auto input = worker::exec_input_json(odd_ctx);
  REQUIRE(input);
  CHECK(nlohmann::json::parse(input.value())["params"]["optimizer"] ==
        "ad\xef\xbf\xbd"
        "am");
}

TEST_CASE("exec evaluator: cancelling kills the command's whole process group", "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  std::thread canceller([&] {
    // Wait for the background sleep to exist, then cancel.
    for (int i = 0; i < 200 && !std::filesystem::exists(dir.path() / "pid"); ++i) {
      std::this_thread::sleep_for(10ms);
    }
    std::this_thread::sleep_for(50ms);
    ctx.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto outcome = run(R"(sleep 30 & echo $! > "$AUTODISTILL_SCRATCH_DIR/pid.tmp"
mv "$AUTODISTILL_SCRATCH_DIR/pid.tmp" "$AUTODISTILL_SCRATCH_DIR/pid"; wait)",
                     ctx);
  canceller.join();
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  REQUIRE_FALSE(outcome.is_ok());
  CHECK(outcome.status().code() == Code::kCancelled);
  pid_t sleeper = std::stoi(read_file(dir.path() / "pid"));
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    dead = process_dead(sleeper);
    if (!dead) std::this_thread::sleep_for(10ms);
  }
  CHECK(dead);
}

TEST_CASE("exec evaluator: processes the command leaves behind are killed when it exits",
          "[workers][exec]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  const auto start = std::chrono::steady_clock::now();
  // The background sleep keeps stdout open after the shell exits.
  auto outcome = run(R"(sleep 30 & echo $! > "$AUTODISTILL_SCRATCH_DIR/pid"
echo '{"objectives": {"loss": 1, "cost": 2}}')",
                     ctx);
  CHECK(std::chrono::steady_clock::now() - start < 4s);
  REQUIRE(outcome.is_ok());
  CHECK(outcome->objectives.at("cost") == 2.0);
  pid_t sleeper = std::stoi(read_file(dir.path() / "pid"));
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    dead = process_dead(sleeper);
    if (!dead) std::this_thread::sleep_for(10ms);
  }
  CHECK(dead);
}
