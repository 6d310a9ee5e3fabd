#pragma once
// Helpers shared by the worker tests: a temporary directory, an evaluator
// made from a lambda, and a PullWorker running on its own thread.

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "autodistill/worker/evaluator.hpp"
#include "autodistill/worker/hardware.hpp"
#include "autodistill/worker/pull_worker.hpp"

namespace autodistill::test {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ad-worker-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class FunctionEvaluator : public worker::Evaluator {
 public:
  using Fn = std::function<Result<worker::TrialOutcome>(worker::TrialContext&)>;
  explicit FunctionEvaluator(Fn fn) : fn_(std::move(fn)) {}
  Result<worker::TrialOutcome> evaluate(worker::TrialContext& ctx) override { return fn_(ctx); }

 private:
  Fn fn_;
};

// Options for a worker of study 7 with tag "tagX", two slots, quiet logs
// (set AUTODISTILL_TEST_VERBOSE to see them).
inline worker::PullWorkerOptions test_options(const std::string& endpoint, const TempDir& dir) {
  worker::PullWorkerOptions options;
  options.endpoint = endpoint;
  options.worker_id = "test-worker";
  options.role = wire::Role::External;
  options.hardware = worker::describe_host("tagX");
  options.slots = 2;
  options.studies = {7};
  options.cache_dir = dir.path() / "cache";
  options.scratch_dir = dir.path() / "scratch";
  options.reconnect_max = std::chrono::milliseconds(200);
  options.blob_timeout = std::chrono::milliseconds(2000);
  options.drain_timeout = std::chrono::milliseconds(200);
  if (std::getenv("AUTODISTILL_TEST_VERBOSE") != nullptr) {
    options.log = [](const std::string& line) {
      std::fprintf(stderr, "worker: %s\n", line.c_str());
    };
  } else {
    options.log = [](const std::string&) {};
  }
  return options;
}

// Runs a PullWorker on a thread; stop() returns what run() returned.
class WorkerThread {
 public:
  WorkerThread(worker::PullWorkerOptions options, worker::Evaluator& evaluator)
      : worker_(std::move(options), evaluator), thread_([this] { result_ = worker_.run(); }) {}
  ~WorkerThread() {
    if (thread_.joinable()) stop();
  }
  Status stop() {
    worker_.stop();
    thread_.join();
    return result_;
  }
  // Waits for run() to return on its own.
  Status join() {
    thread_.join();
    return result_;
  }

 private:
  worker::PullWorker worker_;
  Status result_;
  std::thread thread_;
};

}  // namespace autodistill::test
