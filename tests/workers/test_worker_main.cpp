// autodistill-test-worker: the shared pull loop with built-in evaluators,
// for integration tests. Unlike autodistill-worker it may claim any role
// (distill | probe | external) and tag, so tests can stand in for the
// LibTorch workers; --result-delay-ms makes trials slow enough to kill a
// worker mid-trial, and --log records each finished trial ("trial_id
// attempt" per line) so a test can count that every trial completed exactly
// once.

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/worker/builtin_evaluators.hpp"
#include "autodistill/worker/worker_main.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::worker;

constexpr const char* kUsage =
    R"(autodistill-test-worker: a worker for autodistill's integration tests.

Usage:
  autodistill-test-worker [--role distill|probe|external] [--study ID ...] [flags]

Runs the real pull loop with a built-in evaluator (objective j = sum over
numeric params of (x_i - j)^2). External workers need --study.)";

// Waits --result-delay-ms (waking on cancel), evaluates, and appends
// "trial_id attempt\n" to the log for every trial that finished.
class TestEvaluator : public Evaluator {
 public:
  TestEvaluator(std::unique_ptr<Evaluator> inner, std::chrono::milliseconds delay,
                std::string log_path)
      : inner_(std::move(inner)), delay_(delay), log_path_(std::move(log_path)) {}

  Result<TrialOutcome> evaluate(TrialContext& ctx) override {
    if (delay_.count() > 0) {
      ctx.report_progress(0.0, "delaying the result");
      if (ctx.wait_cancelled_for(delay_)) return Status(Code::kCancelled, "trial cancelled");
    }
    auto outcome = inner_->evaluate(ctx);
    if (outcome && !ctx.cancelled() && !log_path_.empty()) {
      if (Status s = append_line(ctx); !s) return s;
    }
    return outcome;
  }

 private:
  // One write() on an O_APPEND file: lines from concurrent processes do not interleave.
  Status append_line(const TrialContext& ctx) const {
    const std::string line =
        std::to_string(ctx.trial_id()) + " " + std::to_string(ctx.attempt()) + "\n";
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return retryable_failure("cannot open the trial log " + log_path_);
    ssize_t n = ::write(fd, line.data(), line.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size())) {
      return retryable_failure("cannot write the trial log " + log_path_);
    }
    return Status::ok();
  }

  std::unique_ptr<Evaluator> inner_;
  const std::chrono::milliseconds delay_;
  const std::string log_path_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string builtin = "quadratic";
  uint64_t delay_ms = 0;
  std::string log_path;
  WorkerProgram program;
  program.name = "autodistill-test-worker";
  program.any_role = true;
  program.usage = kUsage;
  program.add_flags = [&](FlagParser& parser) {
    parser.add("builtin", "NAME", "quadratic | sleep:MS (default quadratic).",
               [&builtin](const std::string& v) {
                 builtin = v;
                 return Status::ok();
               });
    parser.add("result-delay-ms", "MS",
               "Wait this long (interruptibly) before evaluating each trial (default 0).",
               [&delay_ms](const std::string& v) {
                 auto n = parse_uint(v, 0, std::numeric_limits<uint32_t>::max());
                 if (!n) return n.status();
                 delay_ms = n.value();
                 return Status::ok();
               });
    parser.add("log", "FILE", "Append \"trial_id attempt\" to FILE for every finished trial.",
               [&log_path](const std::string& v) {
                 log_path = v;
                 return Status::ok();
               });
  };
  program.make_evaluator = [&](WorkerFlags&) -> Result<std::unique_ptr<Evaluator>> {
    auto inner = make_builtin_evaluator(builtin);
    if (!inner) return Status(Code::kInvalidArgument, inner.status().message(), "--builtin");
    return std::unique_ptr<Evaluator>(std::make_unique<TestEvaluator>(
        std::move(inner.value()), std::chrono::milliseconds(delay_ms), log_path));
  };
  return run_worker_main(argc, argv, program);
}
