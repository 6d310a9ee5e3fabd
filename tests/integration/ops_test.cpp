// Operations: the metrics and health endpoints, and configuration reload on
// SIGHUP, against the real daemon binary.
#include <fstream>

#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

uint32_t welcome_lease_ms(Cluster& c) {
  WirePeer worker(c.context(), c.worker_endpoint());
  wire::HelloT hello;
  hello.worker_id = "lease-check";
  hello.role = wire::Role::Distill;
  auto reply = worker.call(std::move(hello));
  REQUIRE(reply);
  REQUIRE(reply->body.AsWelcome());
  return reply->body.AsWelcome()->lease_ms;
}

}  // namespace

TEST_CASE("ops: /metrics and /healthz describe the running daemon", "[integration][ops]") {
  Cluster c;
  uint64_t study = c.submit(external_spec(4, 2));
  c.start_worker("m", "external", {"--study", std::to_string(study), "--builtin", "quadratic"});
  c.wait_state(study, wire::StudyState::Succeeded);

  const std::string metrics = http_get(c.http_port(), "/metrics");
  INFO("port " << c.http_port() << ": " << metrics);
  CHECK(metrics.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(metrics.find("text/plain; version=0.0.4") != std::string::npos);
  CHECK(metrics.find("autodistill_studies{state=\"Succeeded\"} 1") != std::string::npos);
  CHECK(metrics.find("autodistill_trials{state=\"Completed\"} 4") != std::string::npos);
  CHECK(metrics.find("autodistill_results_total 4") != std::string::npos);
  CHECK(metrics.find("autodistill_store_commit_seconds_count") != std::string::npos);
  CHECK(metrics.find("autodistill_dispatch_seconds_count 4") != std::string::npos);
  CHECK(metrics.find("autodistill_queue_depth{role=\"External\",tag=\"\"} 0") != std::string::npos);
  CHECK(metrics.find("autodistill_workers_connected{role=\"External\",tag=\"cpu\"} 1") !=
        std::string::npos);

  const std::string health = http_get(c.http_port(), "/healthz");
  CHECK(health.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(health.find("\"status\":\"ok\"") != std::string::npos);
  CHECK(http_get(c.http_port(), "/nope").rfind("HTTP/1.1 404", 0) == 0);
}

TEST_CASE("ops: SIGHUP reloads the config file and reports when applied", "[integration][ops]") {
  testing::TempDir dir;
  const std::string conf = dir.path() + "/autodistilld.conf";
  std::ofstream(conf) << "max_attempts = 4\n";
  Cluster c({"--config", conf});
  CHECK(welcome_lease_ms(c) == 1500);  // the command line's lease_ms

  // The command line still wins over the file after a reload; other fields
  // come from the new file.
  std::ofstream(conf, std::ios::trunc) << "max_attempts = 6\nlog_level = debug\n";
  Process reload = Process::spawn(
      {AUTODISTILLD_PATH, "--data_dir", c.data_dir(), "--reload", std::to_string(c.daemon().pid())},
      c.path("reload.log"));
  CHECK(reload.wait(10s) == 0);
  CHECK(welcome_lease_ms(c) == 1500);

  // A broken file is refused; the daemon keeps serving with what it had.
  std::ofstream(conf, std::ios::trunc) << "lease_ms = soon\n";
  Process bad = Process::spawn(
      {AUTODISTILLD_PATH, "--data_dir", c.data_dir(), "--reload", std::to_string(c.daemon().pid())},
      c.path("reload-bad.log"));
  const int bad_exit = bad.wait(10s);
  std::ifstream bad_log(c.path("reload-bad.log"));
  std::string bad_text((std::istreambuf_iterator<char>(bad_log)), {});
  INFO("autodistilld --reload said: " << bad_text);
  CHECK(bad_exit == 1);
  CHECK(c.daemon().running());
  CHECK(c.submit(external_spec(1, 1)) > 0);
}

TEST_CASE("ops: a second daemon on the same data directory refuses to start",
          "[integration][ops]") {
  Cluster c;
  Process second =
      Process::spawn({AUTODISTILLD_PATH, "--data_dir", c.data_dir(), "--worker_endpoint",
                      loopback(free_tcp_port()), "--client_endpoint", loopback(free_tcp_port()),
                      "--http_listen", ""},
                     c.path("second.log"));
  CHECK(second.wait(10s) == 1);
  std::ifstream log(c.path("second.log"));
  std::string text((std::istreambuf_iterator<char>(log)), {});
  CHECK(text.find("another autodistilld holds") != std::string::npos);
  // The first one is untouched.
  CHECK(c.daemon().running());
  CHECK(c.submit(external_spec(1, 1)) > 0);
}

TEST_CASE("ops: a bad command line exits 2 naming the field", "[integration][ops]") {
  testing::TempDir dir;
  Process bad = Process::spawn({AUTODISTILLD_PATH, "--lease_ms", "soon"}, dir.path() + "/log");
  CHECK(bad.wait(10s) == 2);
  std::ifstream log(dir.path() + "/log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  CHECK(text.find("(field: lease_ms)") != std::string::npos);
}
