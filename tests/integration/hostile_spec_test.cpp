// Hostile input against the real daemon (issue #11, items 2, 4 and 8): specs
// that nest JSON 100,000 deep or that describe enormous design spaces, a
// store that already holds such studies, SIGTERM while a suggestion runs for
// minutes, and a worker whose hardware tag would inject lines into /metrics.
#include <regex>
#include <sstream>
#include <thread>

#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

std::string nested(size_t depth) {
  return "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

std::string pack(const wire::StudySpecT& spec) {
  flatbuffers::FlatBufferBuilder b;
  b.Finish(wire::StudySpec::Pack(b, &spec));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

// Runs one statement on the store (the daemon is stopped), binding `blobs`
// to ?1, ?2, ...
void sql(const std::string& db_path, const std::string& statement,
         const std::vector<std::string>& blobs = {}) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  INFO(statement);
  REQUIRE(sqlite3_prepare_v2(db, statement.c_str(), -1, &s, nullptr) == SQLITE_OK);
  for (size_t i = 0; i < blobs.size(); ++i) {
    sqlite3_bind_blob(s, static_cast<int>(i + 1), blobs[i].data(),
                      static_cast<int>(blobs[i].size()), SQLITE_TRANSIENT);
  }
  CHECK(sqlite3_step(s) == SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

struct Refusal {
  wire::ErrorT error;
  std::chrono::milliseconds took{};
};

// Submits `spec` and expects an Error; reports it and how long it took.
Refusal submit_refused(Cluster& c, wire::StudySpecT spec) {
  wire::SubmitT submit;
  submit.spec = std::make_unique<wire::StudySpecT>(std::move(spec));
  const auto start = std::chrono::steady_clock::now();
  auto reply = c.client().call(std::move(submit), 60s);
  Refusal r;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  REQUIRE(reply);
  INFO(Cluster::describe(*reply));
  REQUIRE(reply->body.AsError());
  r.error = *reply->body.AsError();
  return r;
}

std::string read_log(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The daemon answers a request within a second.
bool serving(Cluster& c) {
  return c.client().call(wire::ListStudiesT{}, 1s).has_value();
}

}  // namespace

TEST_CASE("hostile input: settings nested 100k deep or too large are refused naming the field",
          "[integration][hostile]") {
  Cluster c;
  struct Case {
    std::string settings;
    wire::ErrorCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {nested(100000), wire::ErrorCode::InvalidArgument, "deeper than 64"},
      {"{\"x\": 1e999}", wire::ErrorCode::InvalidArgument, "number overflow"},
      {"{\"pad\":\"" + std::string(2u << 20, 'p') + "\"}", wire::ErrorCode::ResourceExhausted,
       "max_settings_bytes"},
  };
  for (const Case& k : cases) {
    wire::StudySpecT spec = external_spec(4, 1);
    spec.settings_json = k.settings;
    Refusal r = submit_refused(c, std::move(spec));
    INFO(r.error.message);
    CHECK(r.error.code == k.code);
    CHECK(r.error.field == "spec.settings_json");
    CHECK(r.error.message.find(k.message) != std::string::npos);
  }
  // A distill study's student sizes must be numbers: a string is refused
  // with its field, not an uncaught exception in the daemon.
  wire::StudySpecT distill = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  distill.settings_json = R"({"student": {"vocab_size": "many"}})";
  Refusal typed = submit_refused(c, std::move(distill));
  CHECK(typed.error.code == wire::ErrorCode::InvalidArgument);
  CHECK(typed.error.field == "spec.settings_json.student.vocab_size");
  // Issue #15 item 4: a distillation knob of the wrong type was accepted and
  // failed the study's first trial hours later; it is refused at submit.
  for (const auto& [settings, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"distill": {"flash_steps": "many"}})", "spec.settings_json.distill.flash_steps"},
           {R"({"serving": {"sequence_length": 64}})",
            "spec.settings_json.serving.sequence_length"}}) {
    wire::StudySpecT knob = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
    knob.settings_json = settings;
    Refusal r = submit_refused(c, std::move(knob));
    INFO(settings << ": " << r.error.message);
    CHECK(r.error.code == wire::ErrorCode::InvalidArgument);
    CHECK(r.error.field == field);
  }

  // Nothing was stored: a restart finds no study, and the daemon serves.
  c.kill_daemon(SIGTERM);
  CHECK(c.last_daemon_exit() == 0);
  c.start_daemon();
  auto list = c.client().call(wire::ListStudiesT{});
  REQUIRE(list);
  REQUIRE(list->body.AsStudyList());
  CHECK(list->body.AsStudyList()->studies.empty());
  CHECK(c.submit(external_spec(1, 1)) > 0);
}

TEST_CASE("hostile input: a stored study that cannot be loaded is failed and recovery goes on",
          "[integration][hostile]") {
  Cluster c;
  // Five ordinary studies; four are then overwritten in the store with specs
  // no submission can produce today (written by an older daemon, or by hand).
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(c.submit(external_spec(3, 1)));
  c.kill_daemon(SIGTERM);
  REQUIRE(c.last_daemon_exit() == 0);

  const std::string db = c.data_dir() + "/autodistill.db";
  wire::StudySpecT deep = external_spec(3, 1);
  deep.settings_json = nested(100000);
  wire::StudySpecT bad_enum = external_spec(3, 1);
  bad_enum.factors[0]->kind = static_cast<wire::FactorKind>(77);
  wire::StudySpecT bad_type = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  bad_type.settings_json = R"({"student": {"vocab_size": "many"}})";
  const std::vector<std::pair<std::string, std::string>> broken = {
      {pack(deep), "spec.settings_json"},
      {pack(bad_enum), "spec.factors[0].kind"},
      {std::string("not a flatbuffer at all"), "verification"},
      {pack(bad_type), "spec.settings_json.student.vocab_size"},
  };
  for (size_t i = 0; i < broken.size(); ++i) {
    sql(db, "UPDATE studies SET spec = ?1 WHERE id = " + std::to_string(ids[i]), {broken[i].first});
  }

  // Today's daemon crashed here on every start (a crash loop).
  c.start_daemon();
  for (size_t i = 0; i < broken.size(); ++i) {
    auto reply = c.get(ids[i]);
    INFO("study " << ids[i] << ": " << reply.study->message);
    CHECK(reply.study->state == wire::StudyState::Failed);
    CHECK(reply.study->message.find("cannot be loaded") != std::string::npos);
    CHECK(reply.study->message.find(broken[i].second) != std::string::npos);
  }
  CHECK(c.get(ids[4]).study->state == wire::StudyState::Exploring);

  // It keeps serving: the intact study runs to the end, new ones are taken,
  // and the next restart is clean.
  c.start_worker("w", "external", {"--study", std::to_string(ids[4]), "--builtin", "quadratic"});
  c.wait_state(ids[4], wire::StudyState::Succeeded);
  CHECK(c.submit(external_spec(1, 1)) > 0);
  c.kill_daemon(SIGTERM);
  CHECK(c.last_daemon_exit() == 0);
  c.start_daemon();
  CHECK(c.get(ids[0]).study->state == wire::StudyState::Failed);
}

TEST_CASE("hostile input: stored values out of range fail their study, not the daemon",
          "[integration][hostile][typed]") {
  Cluster c;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(c.submit(external_spec(3, 1)));
  c.kill_daemon(SIGTERM);
  REQUIRE(c.last_daemon_exit() == 0);
  // Study 0: a state no StudyState names; study 1: a trial whose state no
  // TrialState names; a worker whose role no Role names. Study 2 is intact.
  const std::string db = c.data_dir() + "/autodistill.db";
  sql(db, "UPDATE studies SET state = 42 WHERE id = " + std::to_string(ids[0]));
  sql(db,
      "INSERT INTO trials (id, study_id, candidate, kind, state, attempt, params, updated_ms) "
      "VALUES (1000, " +
          std::to_string(ids[1]) + ", 99, 3, 9, 1, '[]', 1)");
  sql(db,
      "INSERT INTO workers (worker_id, role, hardware, slots, first_seen_ms, last_seen_ms) "
      "VALUES ('ghost', 7, x'00', 1, 1, 9000000000000)");

  c.start_daemon();
  auto list = c.client().call(wire::ListStudiesT{});
  REQUIRE(list);
  INFO(Cluster::describe(*list));
  REQUIRE(list->body.AsStudyList());
  std::map<uint64_t, const wire::StudyInfoT*> by_id;
  for (const auto& s : list->body.AsStudyList()->studies) by_id[s->study_id] = s.get();
  REQUIRE(by_id.count(ids[0]));
  REQUIRE(by_id.count(ids[1]));
  CHECK(by_id[ids[0]]->state == wire::StudyState::Failed);
  CHECK(by_id[ids[0]]->message.find("cannot be loaded") != std::string::npos);
  CHECK(by_id[ids[0]]->message.find("studies.state of study " + std::to_string(ids[0]) +
                                    ": 42 is not a StudyState") != std::string::npos);
  CHECK(by_id[ids[1]]->state == wire::StudyState::Failed);
  CHECK(by_id[ids[1]]->message.find("trials.state of trial 1000: 9 is not a TrialState") !=
        std::string::npos);
  CHECK(by_id[ids[1]]->message.find("its trials cannot be read") != std::string::npos);
  CHECK(c.get(ids[0]).study->state == wire::StudyState::Failed);

  // Reading the broken rows answers a clear error; nothing else is affected.
  wire::GetStudyT get;
  get.study_id = ids[1];
  auto broken = c.client().call(std::move(get));
  REQUIRE(broken);
  REQUIRE(broken->body.AsError());
  CHECK(broken->body.AsError()->code == wire::ErrorCode::Internal);
  CHECK(broken->body.AsError()->field == "trials.state");
  auto workers = c.client().call(wire::ListWorkersT{});
  REQUIRE(workers);
  REQUIRE(workers->body.AsError());
  CHECK(workers->body.AsError()->message.find("workers.role of worker \"ghost\"") !=
        std::string::npos);
  CHECK(c.get(ids[2]).study->state == wire::StudyState::Exploring);
  c.start_worker("w", "external", {"--study", std::to_string(ids[2]), "--builtin", "quadratic"});
  c.wait_state(ids[2], wire::StudyState::Succeeded);
  c.kill_daemon(SIGTERM);
  CHECK(c.last_daemon_exit() == 0);
}

TEST_CASE("hostile input: oversized design spaces are refused quickly naming the field",
          "[integration][hostile]") {
  Cluster c;
  auto integers = [](size_t n) {
    wire::StudySpecT s = external_spec(4, 1);
    s.factors.clear();
    for (size_t i = 0; i < n; ++i) {
      auto f = std::make_unique<wire::FactorT>();
      f->name = "i" + std::to_string(i);
      f->kind = wire::FactorKind::Integer;
      f->low = 0;
      f->high = 10;
      s.factors.push_back(std::move(f));
    }
    return s;
  };
  struct Case {
    std::string what;
    wire::StudySpecT spec;
    std::string field;
  };
  std::vector<Case> cases;
  {
    wire::StudySpecT s = external_spec(4, 1);
    s.factors[1]->values.clear();
    for (int v = 1; v <= 200000; ++v) s.factors[1]->values.push_back(v);
    cases.push_back({"200,000 ordinal values", std::move(s), "spec.factors[1].values"});
  }
  cases.push_back({"8,000 integer factors", integers(8000), "spec.factors"});
  cases.push_back({"100,000 integer factors", integers(100000), "spec.factors"});
  {
    // Each factor within its limit, the whole space beyond the total.
    wire::StudySpecT s = external_spec(4, 1);
    s.factors.clear();
    for (int i = 0; i < 40; ++i) {
      std::vector<double> values;
      for (int v = 1; v <= 4000; ++v) values.push_back(v);
      s.factors.push_back(ordinal("o" + std::to_string(i), values));
    }
    cases.push_back({"40 factors of 4,000 values", std::move(s), "spec.factors"});
  }
  for (Case& k : cases) {
    INFO(k.what);
    Refusal r = submit_refused(c, std::move(k.spec));
    INFO(r.error.message << " (" << r.took.count() << " ms)");
    CHECK(r.error.code == wire::ErrorCode::ResourceExhausted);
    CHECK(r.error.field == k.field);
    CHECK(r.took < 5s);
    CHECK(serving(c));
  }
  CHECK(c.daemon().running());
  CHECK(c.submit(external_spec(1, 1)) > 0);
}

TEST_CASE("hostile input: SIGTERM during a long suggestion exits within seconds",
          "[integration][hostile]") {
  Cluster c;
  // 17^3 = 4913 points, enumerated. The first suggestion (an initial design
  // and random points) is quick; 2000 candidates are queued.
  wire::StudySpecT spec = external_spec(4913, 2000);
  spec.factors.clear();
  std::vector<double> values;
  for (int v = 1; v <= 17; ++v) values.push_back(v);
  for (const char* name : {"a", "b", "c"}) spec.factors.push_back(ordinal(name, values));
  const uint64_t study = c.submit(std::move(spec));
  REQUIRE(wait_until([&] { return c.get(study).trials.size() == 2000; }, 60s));
  c.kill_daemon(SIGTERM);
  REQUIRE(c.last_daemon_exit() == 0);

  // All 2000 completed (as if workers had finished them while the daemon was
  // down): at start the daemon fits its models to 2000 points and asks for
  // 2000 more by kriging believer, a suggestion of about a minute.
  sql(c.data_dir() + "/autodistill.db",
      "UPDATE trials SET state = 2, objectives = json_object('f1', 0.01 + (abs(random()) % "
      "1000) / 1000.0, 'f2', 0.01 + (abs(random()) % 1000) / 1000.0)");
  c.start_daemon();
  std::this_thread::sleep_for(1500ms);
  REQUIRE(c.daemon().running());

  const auto start = std::chrono::steady_clock::now();
  c.daemon().signal(SIGTERM);
  const int exit_code = c.daemon().wait(30s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  INFO("exit " << exit_code << " after " << took.count() << " ms");
  CHECK(exit_code == 0);
  CHECK(took < 10s);
  // The suggestion was still running when SIGTERM came, and was cancelled.
  CHECK(read_log(c.path("daemon.log")).find("suggestion cancelled") != std::string::npos);
}

TEST_CASE("hostile input: a hardware tag that would inject metrics is refused at Hello",
          "[integration][hostile]") {
  Cluster c;
  const std::string injected = "cpu\"} 1\nautodistill_injected_total 1\n# x{tag=\"";
  for (const std::string& tag : {injected, std::string(129, 'a'), std::string("gpu h100")}) {
    WirePeer worker(c.context(), c.worker_endpoint());
    wire::HelloT hello;
    hello.worker_id = "w-" + std::to_string(tag.size());
    hello.role = wire::Role::Probe;
    hello.hardware = std::make_unique<wire::HardwareT>();
    hello.hardware->tag = tag;
    auto reply = worker.call(std::move(hello));
    REQUIRE(reply);
    INFO(Cluster::describe(*reply));
    REQUIRE(reply->body.AsReject());
    CHECK(reply->body.AsReject()->error->field == "hardware.tag");
  }
  // An honest tag is welcome, and every line of /metrics is well-formed.
  WirePeer worker(c.context(), c.worker_endpoint());
  wire::HelloT hello;
  hello.worker_id = "honest";
  hello.role = wire::Role::Probe;
  hello.hardware = std::make_unique<wire::HardwareT>();
  hello.hardware->tag = "gpu-h100_v2:0.1";
  auto welcome = worker.call(std::move(hello));
  REQUIRE(welcome);
  REQUIRE(welcome->body.AsWelcome());

  const std::string response = http_get(c.http_port(), "/metrics");
  const std::string body = response.substr(response.find("\r\n\r\n") + 4);
  CHECK(body.find("autodistill_workers_connected{role=\"probe\",tag=\"gpu-h100_v2:0.1\"} 1") !=
        std::string::npos);
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? \S+$)");
  std::istringstream lines(body);
  std::string line;
  size_t samples = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    INFO(line);
    CHECK(std::regex_match(line, sample));
    CHECK(line.rfind("autodistill_injected", 0) != 0);
    ++samples;
  }
  CHECK(samples > 10);
}
