#pragma once
// A loopback "cluster" for integration tests: the real autodistilld binary
// and real worker processes, each a child process, on fresh ports and a
// fresh data directory; a raw protocol client to drive and observe it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../daemon/spec_builder.hpp"
#include "../daemon/temp_dir.hpp"
#include "../support/process.hpp"
#include "../support/wire_peer.hpp"

namespace autodistill::testing {

// GET http://127.0.0.1:port/path; returns the whole response (head + body).
inline std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

class Cluster {
 public:
  // `extra` goes to every daemon start (e.g. {"--config", path}); `curve`
  // are the keys the cluster's own client uses (needed when the daemon
  // runs CURVE).
  explicit Cluster(std::vector<std::string> extra = {}, wire::CurveClientKeys curve = {})
      : curve_(std::move(curve)),
        worker_endpoint_(loopback(free_tcp_port())),
        client_endpoint_(loopback(free_tcp_port())),
        http_port_(free_tcp_port()),
        extra_args_(std::move(extra)) {
    start_daemon();
    client_ = std::make_unique<WirePeer>(ctx_, client_endpoint_, curve_);
  }

  ~Cluster() {
    workers_.clear();
    if (daemon_.running()) {
      daemon_.signal(SIGTERM);
      daemon_.wait(std::chrono::seconds(10));
    }
  }

  void start_daemon() {
    std::vector<std::string> argv = {AUTODISTILLD_PATH,
                                     "--data_dir",
                                     data_dir(),
                                     "--worker_endpoint",
                                     worker_endpoint_,
                                     "--client_endpoint",
                                     client_endpoint_,
                                     "--http_listen",
                                     "127.0.0.1:" + std::to_string(http_port_),
                                     "--heartbeat_interval_ms",
                                     "200",
                                     "--liveness",
                                     "3",
                                     "--lease_ms",
                                     "1500",
                                     "--tick_ms",
                                     "50"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    daemon_ = Process::spawn(argv, dir_.path() + "/daemon.log");
    // Ready when it answers a request.
    WirePeer probe(ctx_, client_endpoint_, curve_);
    REQUIRE(wait_until([&] {
      return probe.call(wire::ListStudiesT{}, std::chrono::milliseconds(200)).has_value();
    }));
  }

  void kill_daemon(int sig = SIGKILL) {
    daemon_.signal(sig);
    last_daemon_exit_ = daemon_.wait(std::chrono::seconds(10));
  }
  int last_daemon_exit() const { return last_daemon_exit_; }
  Process& daemon() { return daemon_; }

  // Starts autodistill-test-worker; returns its index.
  size_t start_worker(const std::string& id, const std::string& role,
                      const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {AUTODISTILL_TEST_WORKER_PATH,
                                     "--endpoint",
                                     worker_endpoint_,
                                     "--worker-id",
                                     id,
                                     "--role",
                                     role,
                                     "--log",
                                     trial_log(id),
                                     "--cache-dir",
                                     dir_.path() + "/cache-" + id};
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_.push_back(Process::spawn(argv, dir_.path() + "/worker-" + id + ".log"));
    return workers_.size() - 1;
  }
  Process& worker(size_t i) { return workers_.at(i); }

  // Lines "trial_id attempt" the worker wrote for each trial it finished.
  std::vector<std::pair<uint64_t, uint32_t>> finished_by(const std::string& id) const {
    std::vector<std::pair<uint64_t, uint32_t>> out;
    std::ifstream in(trial_log(id));
    uint64_t trial;
    uint32_t attempt;
    while (in >> trial >> attempt) out.emplace_back(trial, attempt);
    return out;
  }

  WirePeer& client() { return *client_; }

  wire::EnvelopeT call_ok(wire::MessageUnion body) {
    std::optional<wire::EnvelopeT> reply;
    REQUIRE(wait_until([&] {
      wire::MessageUnion copy = body;
      reply = call_union(std::move(copy));
      return reply.has_value();
    }));
    return std::move(*reply);
  }

  uint64_t submit(wire::StudySpecT spec, const std::string& key = "") {
    wire::SubmitT submit;
    submit.idempotency_key = key;
    submit.spec = std::make_unique<wire::StudySpecT>(std::move(spec));
    wire::MessageUnion body;
    body.Set(std::move(submit));
    auto reply = call_ok(std::move(body));
    INFO(describe(reply));
    REQUIRE(reply.body.AsStudyReply());
    return reply.body.AsStudyReply()->study->study_id;
  }

  wire::StudyReplyT get(uint64_t study) {
    wire::GetStudyT get;
    get.study_id = study;
    wire::MessageUnion body;
    body.Set(std::move(get));
    auto reply = call_ok(std::move(body));
    REQUIRE(reply.body.AsStudyReply());
    return std::move(*reply.body.AsStudyReply());
  }

  // Waits until the study is in `state`; fails the test after `timeout`.
  wire::StudyReplyT wait_state(uint64_t study, wire::StudyState state,
                               std::chrono::seconds timeout = std::chrono::seconds(60)) {
    wire::StudyReplyT last;
    bool reached = wait_until(
        [&] {
          last = get(study);
          return last.study->state == state;
        },
        timeout);
    INFO("study " << study << " is " << wire::EnumNameStudyState(last.study->state) << " (wanted "
                  << wire::EnumNameStudyState(state) << "): " << last.study->message);
    REQUIRE(reached);
    return last;
  }

  // Result rows per trial in the store (read-only, beside the live daemon).
  std::map<uint64_t, int> result_rows() const {
    std::map<uint64_t, int> out;
    sqlite3* db = nullptr;
    std::string path = dir_.path() + "/data/autodistill.db";
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT trial_id, COUNT(*) FROM results WHERE kind = 'result' "
                       "GROUP BY trial_id",
                       -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
      out[static_cast<uint64_t>(sqlite3_column_int64(s, 0))] = sqlite3_column_int(s, 1);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }

  static std::string describe(const wire::EnvelopeT& env) {
    if (auto* e = env.body.AsError()) {
      return std::string("Error ") + wire::EnumNameErrorCode(e->code) + ": " + e->message +
             " (field " + e->field + ")";
    }
    return wire::message_name(env.body.type);
  }

  std::string data_dir() const { return dir_.path() + "/data"; }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  int http_port() const { return http_port_; }
  const std::string& worker_endpoint() const { return worker_endpoint_; }
  const std::string& client_endpoint() const { return client_endpoint_; }
  zmq::context_t& context() { return ctx_; }

 private:
  std::optional<wire::EnvelopeT> call_union(wire::MessageUnion body) {
    switch (body.type) {
      case wire::Message::Submit:
        return client_->call(*body.AsSubmit(), std::chrono::seconds(2));
      case wire::Message::GetStudy:
        return client_->call(*body.AsGetStudy(), std::chrono::seconds(2));
      default:
        return std::nullopt;
    }
  }
  std::string trial_log(const std::string& id) const { return dir_.path() + "/trials-" + id; }

  TempDir dir_;
  wire::CurveClientKeys curve_;
  std::string worker_endpoint_, client_endpoint_;
  int http_port_;
  std::vector<std::string> extra_args_;
  zmq::context_t ctx_;
  Process daemon_;
  int last_daemon_exit_ = -1;
  std::vector<Process> workers_;
  std::unique_ptr<WirePeer> client_;
};

}  // namespace autodistill::testing
