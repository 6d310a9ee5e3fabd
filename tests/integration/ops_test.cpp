// Operations: the metrics and health endpoints, and configuration reload on
// SIGHUP, against the real daemon binary.
#include <fstream>
#include <regex>
#include <sstream>

#include "autodistill/wire/blob_transfer.hpp"
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

wire::RoundTrip round_trip_of(WirePeer& peer) {
  return [&peer](wire::MessageUnion request) -> Result<wire::EnvelopeT> {
    std::optional<wire::EnvelopeT> reply;
    if (auto* s = request.AsBlobStat()) reply = peer.call(*s);
    if (auto* p = request.AsBlobPut()) reply = peer.call(*p);
    if (!reply) return Status(Code::kUnavailable, "timeout");
    return std::move(*reply);
  };
}

// Says Hello as a worker of `role` with hardware tag `tag`; pulls nothing.
std::unique_ptr<WirePeer> hello_worker(Cluster& c, const std::string& id, wire::Role role,
                                       const std::string& tag) {
  auto worker = std::make_unique<WirePeer>(c.context(), c.worker_endpoint());
  wire::HelloT hello;
  hello.worker_id = id;
  hello.role = role;
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = tag;
  auto reply = worker->call(std::move(hello));
  REQUIRE(reply);
  REQUIRE(reply->body.AsWelcome());
  return worker;
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
  CHECK(metrics.find("autodistill_studies{state=\"succeeded\"} 1") != std::string::npos);
  CHECK(metrics.find("autodistill_trials{state=\"completed\"} 4") != std::string::npos);
  CHECK(metrics.find("autodistill_results_total 4") != std::string::npos);
  CHECK(metrics.find("autodistill_store_commit_seconds_count") != std::string::npos);
  CHECK(metrics.find("autodistill_dispatch_seconds_count 4") != std::string::npos);
  CHECK(metrics.find("autodistill_queue_depth{role=\"external\",tag=\"any\"} 0") !=
        std::string::npos);
  // The test worker says tag "cpu", but no tag routes external work.
  CHECK(metrics.find("autodistill_workers_connected{role=\"external\",tag=\"any\"} 1") !=
        std::string::npos);

  const std::string health = http_get(c.http_port(), "/healthz");
  CHECK(health.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(health.find("\"status\":\"ok\"") != std::string::npos);
  CHECK(http_get(c.http_port(), "/nope").rfind("HTTP/1.1 404", 0) == 0);
}

TEST_CASE("ops: metric label values are snake_case, tag is the probe hardware tag or any",
          "[integration][ops]") {
  Cluster c;
  auto teacher = wire::upload_bytes(round_trip_of(c.client()), "teacher weights");
  auto corpus = wire::upload_bytes(round_trip_of(c.client()), "a corpus");
  REQUIRE(teacher);
  REQUIRE(corpus);
  auto spec = distill_spec(teacher.value(), corpus.value());  // hardware_tag "cpu-test"
  spec.max_trials = 2;
  spec.parallelism = 2;
  c.submit(std::move(spec));
  auto untagged = distill_spec(teacher.value(), corpus.value());
  untagged.hardware_tag.clear();  // any probe worker measures it
  untagged.max_trials = 1;
  untagged.parallelism = 1;
  c.submit(std::move(untagged));
  auto probe = hello_worker(c, "probe-1", wire::Role::Probe, "cpu-test");
  auto bare_probe = hello_worker(c, "probe-2", wire::Role::Probe, "");
  auto distiller = hello_worker(c, "distill-1", wire::Role::Distill, "cpu");

  std::string metrics;
  REQUIRE(wait_until([&] {  // the suggestions run off the event loop
    for (auto* w : {probe.get(), bare_probe.get(), distiller.get()}) w->send(wire::HeartbeatT{});
    metrics = http_get(c.http_port(), "/metrics");
    return metrics.find("autodistill_queue_depth{role=\"probe\",tag=\"cpu-test\"} 2") !=
           std::string::npos;
  }));
  INFO(metrics);
  CHECK(metrics.find("autodistill_queue_depth{role=\"probe\",tag=\"any\"} 1") != std::string::npos);
  CHECK(metrics.find("autodistill_queue_depth{role=\"distill\",tag=\"any\"} 0") !=
        std::string::npos);
  CHECK(metrics.find("autodistill_workers_connected{role=\"probe\",tag=\"cpu-test\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("autodistill_workers_connected{role=\"probe\",tag=\"any\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("autodistill_workers_connected{role=\"distill\",tag=\"any\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("autodistill_studies{state=\"exploring\"} 2") != std::string::npos);
  CHECK(metrics.find("autodistill_trials{state=\"queued\"} 3") != std::string::npos);
  // Every role and state label, of every metric, is a snake_case word.
  const std::regex label(R"re((role|state)="([^"]*)")re");
  const std::regex snake("[a-z][a-z0-9_]*");
  size_t labels = 0;
  for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), label);
       it != std::sregex_iterator(); ++it) {
    INFO((*it)[0].str());
    CHECK(std::regex_match((*it)[2].str(), snake));
    ++labels;
  }
  CHECK(labels >= 18);  // studies 7, trials 5, queue depth 3, workers 3
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
