// The Client against a fake daemon on loopback: request/reply decoding,
// errors, lazy-pirate retries, stale replies and the watch stream.

#include <catch2/catch.hpp>
#include <chrono>

#include "autodistill/client.hpp"
#include "fake_daemon.hpp"

using namespace autodistill;
using testing::error_reply;
using testing::FakeDaemon;
using testing::reply_to;

namespace {

ClientOptions fast_options(const FakeDaemon& daemon) {
  ClientOptions options;
  options.endpoint = daemon.endpoint();
  options.request_timeout_ms = 500;
  options.retries = 0;
  return options;
}

StudySpec sample_spec() {
  StudySpec spec;
  spec.name = "sample";
  spec.kind = StudyKind::kExternal;
  spec.factors = {{"layers", FactorKind::kOrdinal, {2, 4}, {}, 0, 0},
                  {"act", FactorKind::kCategorical, {}, {"gelu", "relu"}, 0, 0},
                  {"lr", FactorKind::kContinuous, {}, {}, 0.001, 0.1}};
  spec.objectives = {{"loss", Direction::kMinimize}};
  spec.constraints = {{"loss", Comparison::kLessEqual, 3}};
  spec.max_trials = 10;
  spec.seed = 7;
  spec.settings_json = "{\"a\":1}";
  return spec;
}

wire::StudyReplyT study_reply(uint64_t id, wire::StudyState state) {
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>();
  reply.study->study_id = id;
  reply.study->state = state;
  return reply;
}

wire::EventBatchT batch(uint64_t study, std::vector<uint64_t> seqs, bool end) {
  wire::EventBatchT out;
  for (uint64_t seq : seqs) {
    auto event = std::make_unique<wire::EventT>();
    event->study_id = study;
    event->seq = seq;
    event->kind = "trial_completed";
    event->trial_id = seq * 10;
    out.events.push_back(std::move(event));
  }
  out.end = end;
  return out;
}

}  // namespace

TEST_CASE("submit sends the key and the spec and decodes the StudyReply") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    const wire::SubmitT* submit = request.body.AsSubmit();
    if (submit == nullptr) return {};
    wire::StudyReplyT reply;
    reply.study = std::make_unique<wire::StudyInfoT>();
    reply.study->study_id = 42;
    reply.study->idempotency_key = submit->idempotency_key;
    reply.study->spec = std::make_unique<wire::StudySpecT>(*submit->spec);
    reply.study->state = wire::StudyState::Exploring;
    reply.study->pareto = {5, 6};
    reply.created = true;
    return {reply_to(request, std::move(reply))};
  });
  Client client(fast_options(daemon));
  const StudySpec spec = sample_spec();
  auto result = client.submit(spec, "release-42");
  REQUIRE(result.is_ok());
  CHECK(result->created);
  CHECK(result->study.study_id == 42);
  CHECK(result->study.idempotency_key == "release-42");
  CHECK(result->study.state == StudyState::kExploring);
  CHECK(result->study.pareto == std::vector<uint64_t>{5, 6});
  CHECK(result->study.spec == spec);  // survived the trip to the wire and back
  auto requests = daemon.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].body.AsSubmit()->idempotency_key == "release-42");
  CHECK(requests[0].body.AsSubmit()->spec->factors[1]->categories[1] == "relu");
}

TEST_CASE("an Error reply becomes a Status with the daemon's code, message and field") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    return {error_reply(request, Code::kInvalidArgument, "duplicate value 4",
                        "spec.factors[0].values[1]")};
  });
  Client client(fast_options(daemon));
  auto result = client.submit(sample_spec(), "k");
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kInvalidArgument);
  CHECK(result.status().message() == "duplicate value 4");
  CHECK(result.status().field() == "spec.factors[0].values[1]");
  auto missing = client.get(9);
  CHECK(missing.status().code() == Code::kInvalidArgument);
}

TEST_CASE("a silent daemon gives kUnavailable and the next request recovers") {
  std::atomic<int> seen{0};
  FakeDaemon daemon([&](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (seen++ == 0) return {};  // the first request is lost
    return {reply_to(request, study_reply(3, wire::StudyState::Queued))};
  });
  Client client(fast_options(daemon));
  auto start = std::chrono::steady_clock::now();
  auto lost = client.get(3);
  CHECK(lost.status().code() == Code::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  auto answered = client.get(3);
  REQUIRE(answered.is_ok());
  CHECK(answered->study.study_id == 3);
}

TEST_CASE("a timed-out submit is retried on a fresh socket with the same key") {
  std::atomic<int> seen{0};
  FakeDaemon daemon([&](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (seen++ == 0) return {};
    auto reply = study_reply(8, wire::StudyState::Queued);
    reply.study->idempotency_key = request.body.AsSubmit()->idempotency_key;
    reply.created = true;
    return {reply_to(request, std::move(reply))};
  });
  ClientOptions options = fast_options(daemon);
  options.retries = 2;
  Client client(options);
  auto result = client.submit(sample_spec(), "");  // the client makes up a key
  REQUIRE(result.is_ok());
  CHECK(result->study.study_id == 8);
  auto requests = daemon.requests();
  REQUIRE(requests.size() == 2);
  const std::string key = requests[0].body.AsSubmit()->idempotency_key;
  CHECK_FALSE(key.empty());
  CHECK(requests[1].body.AsSubmit()->idempotency_key == key);
  CHECK(result->study.idempotency_key == key);
  CHECK(requests[1].request_id != requests[0].request_id);
}

TEST_CASE("replies carrying another request_id are ignored") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    return {
        wire::encode_message(request.request_id + 1000, study_reply(999, wire::StudyState::Failed)),
        wire::encode_message(request.request_id - 1, study_reply(998, wire::StudyState::Failed)),
        reply_to(request, study_reply(7, wire::StudyState::Succeeded))};
  });
  Client client(fast_options(daemon));
  auto result = client.get(7);
  REQUIRE(result.is_ok());
  CHECK(result->study.study_id == 7);
  CHECK(result->study.state == StudyState::kSucceeded);
}

TEST_CASE("get, list, cancel and workers decode their replies") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (const auto* get = request.body.AsGetStudy()) {
      auto reply = study_reply(get->study_id, wire::StudyState::Exploring);
      if (get->include_trials) {
        auto trial = std::make_unique<wire::TrialInfoT>();
        trial->trial_id = 31;
        trial->kind = wire::TrialKind::Flash;
        trial->state = wire::TrialState::Failed;
        trial->error = std::make_unique<wire::ErrorT>();
        trial->error->code = wire::ErrorCode::TrialError;
        trial->error->message = "diverged";
        auto metric = std::make_unique<wire::MetricT>();
        metric->name = "accuracy";
        metric->value = 0.75;
        trial->objectives.push_back(std::move(metric));
        reply.trials.push_back(std::move(trial));
      }
      return {reply_to(request, std::move(reply))};
    }
    if (const auto* list = request.body.AsListStudies()) {
      wire::StudyListT reply;
      for (uint32_t i = 0; i < list->limit; ++i) {
        reply.studies.push_back(std::move(study_reply(100 - i, wire::StudyState::Queued).study));
      }
      return {reply_to(request, std::move(reply))};
    }
    if (const auto* cancel = request.body.AsCancelStudy()) {
      auto reply = study_reply(cancel->study_id, wire::StudyState::Cancelled);
      reply.study->message = cancel->reason;
      return {reply_to(request, std::move(reply))};
    }
    if (request.body.AsListWorkers()) {
      wire::WorkerListT reply;
      auto worker = std::make_unique<wire::WorkerInfoT>();
      worker->worker_id = "host-a/0";
      worker->role = wire::Role::External;
      worker->hardware = std::make_unique<wire::HardwareT>();
      worker->hardware->tag = "cpu";
      auto ref = std::make_unique<wire::TrialRefT>();
      ref->trial_id = 31;
      ref->attempt = 2;
      worker->running.push_back(std::move(ref));
      worker->connected = true;
      reply.workers.push_back(std::move(worker));
      return {reply_to(request, std::move(reply))};
    }
    return {};
  });
  Client client(fast_options(daemon));
  auto details = client.get(5, true);
  REQUIRE(details.is_ok());
  CHECK(details->study.study_id == 5);
  REQUIRE(details->trials.size() == 1);
  CHECK(details->trials[0].kind == TrialKind::kFlash);
  CHECK(details->trials[0].error.code() == Code::kTrialError);
  CHECK(details->trials[0].objectives[0].value == 0.75);
  CHECK(client.get(5, false)->trials.empty());

  auto studies = client.list(3);
  REQUIRE(studies.is_ok());
  REQUIRE(studies->size() == 3);
  CHECK((*studies)[2].study_id == 98);

  auto cancelled = client.cancel(5, "superseded");
  REQUIRE(cancelled.is_ok());
  CHECK(cancelled->state == StudyState::kCancelled);
  CHECK(cancelled->message == "superseded");

  auto workers = client.workers();
  REQUIRE(workers.is_ok());
  REQUIRE(workers->size() == 1);
  CHECK((*workers)[0].role == WorkerRole::kExternal);
  CHECK((*workers)[0].hardware.tag == "cpu");
  CHECK((*workers)[0].running[0].attempt == 2);
  CHECK((*workers)[0].connected);
}

TEST_CASE("watch streams events and stops at end") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    const auto* watch = request.body.AsWatch();
    if (watch == nullptr) return {};
    return {reply_to(request, batch(watch->study_id, {1, 2}, false)),
            reply_to(request, batch(watch->study_id, {}, false)),  // keep-alive
            reply_to(request, batch(watch->study_id, {3}, true))};
  });
  Client client(fast_options(daemon));
  std::vector<uint64_t> seqs;
  Status status = client.watch(4, 0, [&](const Event& event) {
    CHECK(event.study_id == 4);
    CHECK(event.trial_id == event.seq * 10);
    seqs.push_back(event.seq);
    return true;
  });
  CHECK(status.is_ok());
  CHECK(seqs == std::vector<uint64_t>{1, 2, 3});
  CHECK(daemon.count(wire::Message::Watch) == 1);
}

TEST_CASE("watch stops when the callback says so, and the client stays usable") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (const auto* watch = request.body.AsWatch()) {
      return {reply_to(request, batch(watch->study_id, {1, 2, 3}, false))};
    }
    return {reply_to(request, study_reply(4, wire::StudyState::Exploring))};
  });
  Client client(fast_options(daemon));
  std::vector<uint64_t> seqs;
  Status status = client.watch(4, 0, [&](const Event& event) {
    seqs.push_back(event.seq);
    return event.seq < 2;
  });
  CHECK(status.is_ok());
  CHECK(seqs == std::vector<uint64_t>{1, 2});
  auto after = client.get(4);
  REQUIRE(after.is_ok());
  CHECK(after->study.study_id == 4);
}

TEST_CASE("watch resumes after silence from the last seq without duplicates") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    const auto* watch = request.body.AsWatch();
    if (watch == nullptr) return {};
    if (watch->after_seq == 0) {
      return {reply_to(request, batch(watch->study_id, {1, 2}, false))};  // then "restarts"
    }
    // The restarted daemon replays from after_seq; seq 2 repeated is dropped.
    return {reply_to(request, batch(watch->study_id, {2, 3}, false)),
            reply_to(request, batch(watch->study_id, {4}, true))};
  });
  ClientOptions options = fast_options(daemon);
  options.watch_silence_ms = 300;
  Client client(options);
  std::vector<uint64_t> seqs;
  Status status = client.watch(4, 0, [&](const Event& event) {
    seqs.push_back(event.seq);
    return true;
  });
  CHECK(status.is_ok());
  CHECK(seqs == std::vector<uint64_t>{1, 2, 3, 4});
  auto requests = daemon.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].body.AsWatch()->after_seq == 0);
  CHECK(requests[1].body.AsWatch()->after_seq == 2);
}

TEST_CASE("watch gives up after watch_give_up_ms of silence") {
  FakeDaemon daemon([](const wire::EnvelopeT&) { return std::vector<std::string>{}; });
  ClientOptions options = fast_options(daemon);
  options.watch_silence_ms = 150;
  options.watch_give_up_ms = 500;
  Client client(options);
  auto start = std::chrono::steady_clock::now();
  Status status = client.watch(4, 7, [](const Event&) { return true; });
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(status.code() == Code::kUnavailable);
  CHECK(elapsed >= std::chrono::milliseconds(450));
  CHECK(elapsed < std::chrono::seconds(3));
  auto requests = daemon.requests();
  CHECK(requests.size() >= 2);  // re-sent after each silence
  for (const auto& r : requests) CHECK(r.body.AsWatch()->after_seq == 7);
}

TEST_CASE("watch returns the daemon's error") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    return {error_reply(request, Code::kNotFound, "no study 4", "study_id")};
  });
  Client client(fast_options(daemon));
  Status status = client.watch(4, 0, [](const Event&) { return true; });
  CHECK(status.code() == Code::kNotFound);
  CHECK(status.field() == "study_id");
}

TEST_CASE("a bad endpoint is an InvalidArgument naming the endpoint") {
  ClientOptions options;
  options.endpoint = "not-an-endpoint";
  Client client(options);
  auto result = client.list();
  CHECK(result.status().code() == Code::kInvalidArgument);
  CHECK(result.status().field() == "endpoint");
}
