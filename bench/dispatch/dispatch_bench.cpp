// bench/dispatch: N simulated External workers with zero-cost evaluation
// against the real autodistilld binary and its durable store, on loopback.
//
// For each N it starts a fresh daemon, submits one study of T trials and
// runs N workers (one DEALER each, multiplexed on one thread) that answer
// every Assign at once with a Result and a Pull. It reports trials/s,
// Assign latency (Pull sent -> Assign received) p50/p99, the daemon's RSS at
// the end, and checks that every trial completed exactly once.
//
// Baseline, measured in the same run: the same daemon with group commit off
// (--max_batch_messages 1: one fsync per message) at N = 16. For scale, the
// raw rate of one-row SQLite transactions (WAL, synchronous=FULL) on the
// same disk is printed too.
//
// usage: dispatch_bench [--daemon PATH] [--trials T] [--workers 1,16,256]
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "../../tests/support/process.hpp"
#include "../../tests/support/wire_peer.hpp"
#include "autodistill/flag_parser.hpp"

using namespace autodistill;
using autodistill::testing::Process;
using autodistill::testing::WirePeer;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// Transactions per second when each trial is its own durable commit.
double baseline_commits_per_second(const std::string& dir) {
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/baseline.db").c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE results (trial INTEGER PRIMARY KEY, payload TEXT)",
               nullptr, nullptr, nullptr);
  auto start = Clock::now();
  int n = 0;
  while (ms_since(start) < 1500) {
    std::string sql = "INSERT INTO results VALUES (" + std::to_string(n++) + ", '{}')";
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);  // autocommit: one fsync each
  }
  double rate = n / (ms_since(start) / 1000.0);
  sqlite3_close(db);
  return rate;
}

struct Row {
  int workers = 0;
  int trials = 0;
  double seconds = 0;
  double p50 = 0, p99 = 0;
  long rss_kib = 0;
  int completed = 0;
  bool clean_exit = false;
};

Row run(const std::string& daemon, int workers, int trials, uint32_t batch) {
  Row row;
  row.workers = workers;
  row.trials = trials;
  std::string dir =
      (std::filesystem::temp_directory_path() /
       ("autodistill-bench-" + std::to_string(::getpid()) + "-" + std::to_string(workers)))
          .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string wep = testing::loopback(testing::free_tcp_port());
  const std::string cep = testing::loopback(testing::free_tcp_port());
  Process d = Process::spawn(
      {daemon, "--data_dir", dir, "--worker_endpoint", wep, "--client_endpoint", cep, "--log_level",
       "warn", "--http_listen", "", "--max_batch_messages", std::to_string(batch)},
      dir + "/daemon.log");
  zmq::context_t ctx;
  WirePeer client(ctx, cep);
  wire::StudySpecT spec;
  spec.name = "dispatch-bench";
  spec.kind = wire::StudyKind::External;
  auto x = std::make_unique<wire::FactorT>();
  x->name = "x";
  x->kind = wire::FactorKind::Continuous;
  x->low = 0;
  x->high = 1;
  spec.factors.push_back(std::move(x));
  auto f = std::make_unique<wire::ObjectiveT>();
  f->name = "f";
  spec.objectives.push_back(std::move(f));
  spec.max_trials = static_cast<uint32_t>(trials);
  spec.algorithm = "random";  // the queue is measured, not the search
  spec.parallelism = static_cast<uint32_t>(std::max(32, 2 * workers));
  wire::SubmitT submit;
  submit.spec = std::make_unique<wire::StudySpecT>(spec);
  std::optional<wire::EnvelopeT> reply;
  testing::wait_until([&] {
    reply = client.call(submit, std::chrono::milliseconds(200));
    return reply.has_value();
  });
  if (!reply || !reply->body.AsStudyReply()) {
    std::fprintf(stderr, "daemon did not accept the study (see %s/daemon.log)\n", dir.c_str());
    return row;
  }
  const uint64_t study = reply->body.AsStudyReply()->study->study_id;

  std::vector<std::unique_ptr<WirePeer>> peers;
  std::vector<Clock::time_point> pulled(workers);
  for (int i = 0; i < workers; ++i) {
    peers.push_back(std::make_unique<WirePeer>(ctx, wep));
    wire::HelloT hello;
    hello.worker_id = "sim-" + std::to_string(i);
    hello.role = wire::Role::External;
    hello.slots = 1;
    hello.studies = {study};
    peers.back()->send(std::move(hello), 1);
  }
  std::vector<zmq::pollitem_t> items;
  for (auto& p : peers) items.push_back({p->socket().handle(), 0, ZMQ_POLLIN, 0});
  std::vector<double> latencies;
  latencies.reserve(trials);
  int acked = 0;
  auto start = Clock::now();
  auto last_progress = Clock::now();
  while (acked < trials &&
         std::chrono::duration<double>(Clock::now() - last_progress).count() < 30) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    for (int i = 0; i < workers; ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      while (auto env = peers[i]->receive(std::chrono::milliseconds(0))) {
        if (env->body.AsWelcome()) {
          wire::PullT pull;
          pull.credits = 1;
          pulled[i] = Clock::now();
          peers[i]->send(pull);
        } else if (auto* a = env->body.AsAssign()) {
          latencies.push_back(ms_since(pulled[i]));
          wire::ResultT r;
          r.trial_id = a->trial_id;
          r.attempt = a->attempt;
          auto m = std::make_unique<wire::MetricT>();
          m->name = "f";
          m->value = 0;
          r.objectives.push_back(std::move(m));
          peers[i]->send(std::move(r));
          wire::PullT pull;
          pull.credits = 1;
          pulled[i] = Clock::now();
          peers[i]->send(pull);
        } else if (env->body.AsAck()) {
          ++acked;
          last_progress = Clock::now();
        }
      }
    }
  }
  row.seconds = ms_since(start) / 1000.0;
  row.p50 = percentile(latencies, 0.50);
  row.p99 = percentile(latencies, 0.99);
  row.rss_kib = d.rss_kib();
  wire::GetStudyT get;
  get.study_id = study;
  get.include_trials = false;
  if (auto info = client.call(get); info && info->body.AsStudyReply()) {
    row.completed = static_cast<int>(info->body.AsStudyReply()->study->trials_completed);
  }
  peers.clear();
  d.signal(SIGTERM);
  row.clean_exit = d.wait(std::chrono::seconds(30)) == 0;
  std::filesystem::remove_all(dir);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::string daemon = AUTODISTILLD_PATH;
  int trials = 10000;
  std::vector<int> workers = {1, 16, 256};
  autodistill::FlagParser parser(
      "dispatch_bench: N zero-cost External workers against the real autodistilld.\n\n"
      "Usage:\n  dispatch_bench [flags]");
  parser.add_text("daemon", "PATH", "The autodistilld binary (default: this build's).", &daemon);
  parser.add_int("trials", "Trials per row (default 10000).", &trials, 1, 100000000);
  parser.add_int_list("workers", "Worker counts N, one row each (default 1,16,256).", &workers, 1,
                      100000);
  const Status parsed = parser.parse(argc, argv);
  if (!parsed) return autodistill::usage_error("dispatch_bench", parsed);
  if (auto status = parser.answer_help_or_version("dispatch_bench")) return *status;
  std::printf("dispatch benchmark: %d zero-cost trials per row, real autodistilld (%s)\n", trials,
              daemon.c_str());
  const double raw = baseline_commits_per_second(std::filesystem::temp_directory_path());
  std::printf("for scale: one-row SQLite transactions (WAL, synchronous=FULL): %.0f/s\n", raw);
  Row base = run(daemon, 16, trials, 1);
  const double baseline = base.seconds > 0 ? base.completed / base.seconds : 0;
  std::printf(
      "baseline: the daemon without group commit (max_batch_messages=1), 16 workers: "
      "%.0f trials/s, Assign p50 %.2f ms, p99 %.2f ms\n\n",
      baseline, base.p50, base.p99);
  std::printf(
      "| workers | trials | completed | seconds | trials/s | x baseline | Assign p50 ms | "
      "Assign p99 ms | daemon RSS MiB | clean exit |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n");
  bool ok = true;
  for (int n : workers) {
    Row r = run(daemon, n, trials, 512);
    double rate = r.seconds > 0 ? r.completed / r.seconds : 0;
    std::printf("| %d | %d | %d | %.2f | %.0f | %.1f | %.2f | %.2f | %.1f | %s |\n", r.workers,
                r.trials, r.completed, r.seconds, rate, rate / baseline, r.p50, r.p99,
                r.rss_kib / 1024.0, r.clean_exit ? "yes" : "NO");
    std::fflush(stdout);
    ok = ok && r.completed == r.trials && r.clean_exit;
  }
  if (!ok) std::printf("\nFAILED: a trial was lost or the daemon did not exit cleanly\n");
  return ok ? 0 : 1;
}
