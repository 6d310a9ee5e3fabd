// The built-in evaluators: the quadratic's values and the sleep's cancel.

#include <thread>

#include <catch2/catch.hpp>

#include "autodistill/worker/builtin_evaluators.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace std::chrono_literals;
using test::TempDir;
using worker::TrialContext;
using worker::TrialSpec;

TrialSpec spec() {
  TrialSpec s;
  s.params = {{"x", 1.0}, {"y", 3.0}, {"kind", std::string("adam")}};
  s.objectives = {"f0", "f1", "f2"};
  return s;
}

}  // namespace

TEST_CASE("quadratic: objective j is sum_i (x_i - j)^2 over numeric params", "[workers][builtin]") {
  TempDir dir;
  TrialContext ctx(spec(), dir.path());
  auto made = worker::make_builtin_evaluator("quadratic");
  REQUIRE(made.is_ok());
  auto outcome = made.value()->evaluate(ctx);
  REQUIRE(outcome.is_ok());
  CHECK(outcome->objectives.at("f0") == Approx(1.0 + 9.0));
  CHECK(outcome->objectives.at("f1") == Approx(0.0 + 4.0));
  CHECK(outcome->objectives.at("f2") == Approx(1.0 + 1.0));
  CHECK(worker::quadratic_objectives(ctx.spec()) == outcome->objectives);
}

TEST_CASE("sleep:MS sleeps and reports progress and stops at once on cancel",
          "[workers][builtin]") {
  TempDir dir;
  auto made = worker::make_builtin_evaluator("sleep:150");
  REQUIRE(made.is_ok());
  TrialContext ctx(spec(), dir.path());
  const auto start = std::chrono::steady_clock::now();
  auto outcome = made.value()->evaluate(ctx);
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
  REQUIRE(outcome.is_ok());
  CHECK(outcome->objectives == worker::quadratic_objectives(ctx.spec()));
  CHECK(ctx.progress().fraction == 1.0);

  auto long_sleep = worker::make_builtin_evaluator("sleep:60000");
  REQUIRE(long_sleep.is_ok());
  TrialContext cancelled(spec(), dir.path());
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    cancelled.cancel();
  });
  const auto begin = std::chrono::steady_clock::now();
  auto stopped = long_sleep.value()->evaluate(cancelled);
  canceller.join();
  CHECK(std::chrono::steady_clock::now() - begin < 2s);
  CHECK(stopped.status().code() == Code::kCancelled);
  CHECK(cancelled.progress().fraction < 0.1);
}

TEST_CASE("unknown builtin names are refused with a clear error", "[workers][builtin]") {
  for (const char* name : {"cubic", "sleep:", "sleep:abc", "sleep:-5", "sleep:10ms", ""}) {
    INFO(name);
    auto made = worker::make_builtin_evaluator(name);
    REQUIRE_FALSE(made.is_ok());
    CHECK(made.status().code() == Code::kInvalidArgument);
    CHECK(made.status().field() == "builtin");
  }
}
