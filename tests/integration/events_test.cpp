// Events carry values and trials carry times (issue #15, item 2): the real
// daemon, a raw protocol worker on loopback and the real `autodistill` CLI
// watching the study.
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The JSON lines of `text` whose "kind" is `kind`.
std::vector<nlohmann::json> events_of(const std::string& text, const std::string& kind) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("kind", "") == kind) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

TEST_CASE("events: a running trial's progress and a finished trial's values reach the client",
          "[integration][events]") {
  Cluster c;
  const uint64_t study = c.submit(external_spec(1, 1));
  const std::string log = c.path("watch.log");
  Process watch = Process::spawn({AUTODISTILL_CLI_PATH, "--endpoint", c.client_endpoint(), "--json",
                                  "watch", std::to_string(study)},
                                 log);

  WirePeer worker(c.context(), c.worker_endpoint());
  wire::HelloT hello;
  hello.worker_id = "w-progress";
  hello.role = wire::Role::External;
  hello.studies = {study};
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = "cpu";
  auto welcome = worker.call(std::move(hello));
  REQUIRE(welcome);
  REQUIRE(welcome->body.AsWelcome());
  wire::PullT pull;
  pull.credits = 1;
  worker.send(pull);
  std::optional<wire::AssignT> assign;
  REQUIRE(wait_until([&] {
    auto env = worker.receive(100ms);
    if (env && env->body.AsAssign()) assign = *env->body.AsAssign();
    return assign.has_value();
  }));

  // The worker's heartbeat progress reaches the watching CLI (until it
  // does: the CLI may still be connecting).
  bool seen = wait_until(
      [&] {
        wire::HeartbeatT hb;
        auto p = std::make_unique<wire::TrialProgressT>();
        p->trial_id = assign->trial_id;
        p->attempt = assign->attempt;
        p->fraction = 0.6f;
        p->message = "step 60 of 100";
        auto loss = std::make_unique<wire::MetricT>();
        loss->name = "loss";
        loss->value = 1.5;
        p->metrics.push_back(std::move(loss));
        hb.progress.push_back(std::move(p));
        worker.send(std::move(hb));
        std::this_thread::sleep_for(100ms);
        return !events_of(read_file(log), "trial_progress").empty();
      },
      10s);
  INFO("the CLI printed:\n" << read_file(log));
  REQUIRE(seen);
  const nlohmann::json progress = events_of(read_file(log), "trial_progress").front();
  CHECK(progress["trial_id"] == assign->trial_id);
  CHECK(progress["fraction"].get<double>() == Approx(0.6));
  CHECK(progress["candidate"] == 0);
  CHECK(progress["trial_kind"] == "external");
  CHECK(progress["values"]["loss"].get<double>() == Approx(1.5));
  CHECK(progress["message"] == "step 60 of 100");

  // The finished trial's event carries its objectives and run time.
  std::this_thread::sleep_for(300ms);
  wire::ResultT result;
  result.trial_id = assign->trial_id;
  result.attempt = assign->attempt;
  for (auto [name, value] : {std::pair{"f1", 0.25}, std::pair{"f2", 4.0}}) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = value;
    result.objectives.push_back(std::move(m));
  }
  auto ack = worker.call(std::move(result));
  REQUIRE(ack);
  REQUIRE(ack->body.AsAck());
  CHECK(watch.wait(20s) == 0);  // the study ended: the watch ends
  const std::string text = read_file(log);
  INFO("the CLI printed:\n" << text);
  auto completed = events_of(text, "trial_completed");
  REQUIRE(completed.size() == 1);
  CHECK(completed[0]["candidate"] == 0);
  CHECK(completed[0]["trial_kind"] == "external");
  CHECK(completed[0]["values"]["f1"].get<double>() == Approx(0.25));
  CHECK(completed[0]["values"]["f2"].get<double>() == Approx(4.0));
  CHECK(completed[0]["duration_ms"].get<int64_t>() >= 300);
  auto queued = events_of(text, "trial_queued");
  REQUIRE(queued.size() == 1);
  CHECK(queued[0]["trial_kind"] == "external");

  // The trial row has its times: created <= started <= finished.
  wire::StudyReplyT reply = c.get(study);
  REQUIRE(reply.trials.size() == 1);
  const wire::TrialInfoT& t = *reply.trials[0];
  CHECK(t.created_ms > 0);
  CHECK(t.started_ms >= t.created_ms);
  CHECK(t.finished_ms - t.started_ms >= 300);
  // The event is written right after the row (same batch, a clock read apart).
  CHECK(std::abs(t.finished_ms - t.started_ms - completed[0]["duration_ms"].get<int64_t>()) <= 5);

  // `autodistill get --trials` shows when it started and how long it took.
  const std::string table = c.path("get.log");
  Process get = Process::spawn({AUTODISTILL_CLI_PATH, "--endpoint", c.client_endpoint(), "get",
                                std::to_string(study), "--trials"},
                               table);
  CHECK(get.wait(20s) == 0);
  const std::string shown = read_file(table);
  INFO(shown);
  CHECK(shown.find("STARTED") != std::string::npos);
  CHECK(std::regex_search(shown, std::regex(R"(\b\d{3} ms\b|\b\d+\.\d s\b)")));
}
