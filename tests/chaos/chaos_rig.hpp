#pragma once
// A daemon for one chaos test case: the real autodistilld on a fresh data
// directory, a WireTap in front of its worker endpoint, a client, and real
// autodistill-test-worker processes started through the tap. Fails the
// test case (Catch2 REQUIRE) when the daemon does not start.

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "../daemon/temp_dir.hpp"
#include "chaos_client.hpp"
#include "chaos_daemon.hpp"
#include "chaos_spec.hpp"
#include "store_probe.hpp"
#include "wire_tap.hpp"

namespace autodistill::chaos {

class ChaosRig {
 public:
  // `lease_ms`: the daemon's --lease_ms; `data_dir` empty: <temp dir>/data;
  // `extra_args`: more "--key", "value" daemon flags; `wrapper`: a command
  // the daemon runs under (DaemonSettings::wrapper).
  explicit ChaosRig(uint32_t lease_ms = 1500, const std::string& data_dir = "",
                    std::vector<std::string> extra_args = {}, std::vector<std::string> wrapper = {})
      : daemon_(settings(lease_ms, data_dir.empty() ? dir_.path() + "/data" : data_dir,
                         std::move(extra_args), std::move(wrapper))),
        probe_(daemon_.db_path()) {
    auto up = daemon_.start();
    INFO((up ? "" : up.status().to_string()));
    REQUIRE(up);
    tap_ = std::make_unique<WireTap>(daemon_.worker_endpoint());
    client_ = std::make_unique<ChaosClient>(ctx_, daemon_.client_endpoint());
  }

  ChaosDaemon& daemon() { return daemon_; }
  ChaosClient& client() { return *client_; }
  WireTap& tap() { return *tap_; }
  const StoreProbe& probe() const { return probe_; }
  zmq::context_t& context() { return ctx_; }
  const std::string& dir() const { return dir_.path(); }

  uint64_t submit(const std::string& key, const wire::StudySpecT& spec) {
    auto reply = client_->submit(key, spec, std::chrono::seconds(10));
    REQUIRE(reply);
    INFO(describe(*reply));
    REQUIRE(reply->body.AsStudyReply());
    return reply->body.AsStudyReply()->study->study_id;
  }

  wire::StudyReplyT get(uint64_t study) {
    auto reply = client_->get(study, true, std::chrono::seconds(10));
    if (!reply) FAIL(logs());
    return std::move(*reply);
  }

  // Waits until the study is in `state`; fails the test case after `timeout`.
  wire::StudyReplyT wait_state(uint64_t study, wire::StudyState state,
                               std::chrono::milliseconds timeout) {
    wire::StudyReplyT last;
    const bool reached = testing::wait_until(
        [&] {
          last = get(study);
          return last.study->state == state;
        },
        timeout);
    INFO("study " << study << " is " << wire::EnumNameStudyState(last.study->state) << ", wanted "
                  << wire::EnumNameStudyState(state));
    if (!reached) FAIL_CHECK(logs());
    REQUIRE(reached);
    return last;
  }

  // An External autodistill-test-worker for `study` behind the tap, one
  // slot, each trial taking `delay_ms`. Returns its index.
  size_t start_worker(const std::string& id, uint64_t study, uint32_t delay_ms) {
    workers_.push_back(testing::Process::spawn(
        {AUTODISTILL_TEST_WORKER_PATH, "--endpoint", tap_->endpoint(), "--worker-id", id, "--role",
         "external", "--study", std::to_string(study), "--slots", "1", "--builtin", "quadratic",
         "--result-delay-ms", std::to_string(delay_ms), "--log", dir_.path() + "/" + id + ".trials",
         "--cache-dir", dir_.path() + "/" + id + ".cache"},
        worker_log(id)));
    worker_ids_.push_back(id);
    return workers_.size() - 1;
  }
  testing::Process& worker(size_t i) { return workers_.at(i); }

  // (trial, attempt) of every trial the worker finished evaluating.
  std::vector<TrialKey> finished_by(const std::string& id) const {
    std::vector<TrialKey> out;
    std::ifstream in(dir_.path() + "/" + id + ".trials");
    uint64_t trial;
    uint32_t attempt;
    while (in >> trial >> attempt) out.emplace_back(trial, attempt);
    return out;
  }
  std::string worker_log(const std::string& id) const { return dir_.path() + "/" + id + ".log"; }
  static std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // "the daemon runs", or how it ended ("... exit status 136 = 128 + SIGFPE").
  std::string status() {
    if (daemon_.running()) return "the daemon runs";
    const int code = daemon_.stop(SIGKILL);
    return "the daemon exited: exit status " + std::to_string(code) +
           (code > 128 ? std::string(" = 128 + ") + ::strsignal(code - 128) : std::string());
  }
  // The tails of the daemon's and the workers' logs: why a step failed (the
  // temporary directory goes away with the rig).
  std::string logs() const {
    std::string out = "daemon log (tail):\n" + tail(read_file(dir_.path() + "/daemon.log"));
    for (const std::string& id : worker_ids_) {
      out += "worker " + id + " log (tail):\n" + tail(read_file(worker_log(id)));
    }
    std::error_code ec;
    const auto space = std::filesystem::space(daemon_.settings().data_dir, ec);
    out += "data directory (" + std::to_string(ec ? 0 : space.available) + " bytes free):\n";
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(daemon_.settings().data_dir, ec)) {
      if (entry.is_regular_file()) {
        out += "  " + entry.path().string() + " " + std::to_string(entry.file_size()) + "\n";
      }
    }
    return out;
  }
  // The last `lines` lines of `text`.
  static std::string tail(const std::string& text, size_t lines = 25) {
    size_t at = text.size();
    for (size_t n = 0; n <= lines && at > 0; ++n) at = text.rfind('\n', at - 1);
    return at == std::string::npos ? text : text.substr(at + 1);
  }

 private:
  DaemonSettings settings(uint32_t lease_ms, const std::string& data_dir,
                          std::vector<std::string> extra_args,
                          std::vector<std::string> wrapper) const {
    DaemonSettings d;
    d.binary = AUTODISTILLD_PATH;
    d.data_dir = data_dir;
    d.log_path = dir_.path() + "/daemon.log";
    d.lease_ms = lease_ms;
    d.extra_args = std::move(extra_args);
    d.wrapper = std::move(wrapper);
    return d;
  }

  testing::TempDir dir_;
  ChaosDaemon daemon_;
  StoreProbe probe_;
  zmq::context_t ctx_;
  std::unique_ptr<WireTap> tap_;
  std::unique_ptr<ChaosClient> client_;
  std::vector<testing::Process> workers_;
  std::vector<std::string> worker_ids_;
};

}  // namespace autodistill::chaos
