// The autodistill CLI binary as a child process against a fake daemon: the
// exit codes pipelines rely on and the error line on stderr.

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fake_daemon.hpp"

using namespace autodistill;
using testing::error_reply;
using testing::FakeDaemon;
using testing::reply_to;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the CLI with `args` (shell words) and captures its output.
Run run_cli(const std::string& args) {
  static int n = 0;
  const fs::path dir = fs::temp_directory_path();
  const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(++n);
  const fs::path out = dir / ("autodistill-cli-" + tag + ".out");
  const fs::path err = dir / ("autodistill-cli-" + tag + ".err");
  const std::string command = std::string(AUTODISTILL_CLI_PATH) + " " + args + " >" + out.string() +
                              " 2>" + err.string() + " </dev/null";
  const int status = std::system(command.c_str());
  Run run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  run.out = slurp(out);
  run.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return run;
}

wire::StudyReplyT study_reply(uint64_t id, wire::StudyState state) {
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>();
  reply.study->study_id = id;
  reply.study->state = state;
  reply.study->spec = std::make_unique<wire::StudySpecT>();
  reply.study->spec->max_trials = 2;
  return reply;
}

}  // namespace

TEST_CASE("cli: a NotFound error exits 4 with the error on stderr") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    return {error_reply(request, Code::kNotFound, "no study 42", "study_id")};
  });
  Run run = run_cli("--endpoint " + daemon.endpoint() + " get 42");
  CHECK(run.exit_code == 4);
  CHECK(run.err == "autodistill: NOT_FOUND: no study 42 (field: study_id)\n");
  CHECK(run.out.empty());
  REQUIRE(daemon.requests().size() == 1);
  CHECK(daemon.requests()[0].body.AsGetStudy()->study_id == 42);
}

TEST_CASE("cli: a rejected spec exits 3, a silent daemon 5, bad usage 2") {
  FakeDaemon silent([](const wire::EnvelopeT&) { return std::vector<std::string>{}; });
  Run unreachable = run_cli("--endpoint " + silent.endpoint() + " --timeout-ms 100 list");
  CHECK(unreachable.exit_code == 5);
  CHECK(unreachable.err.rfind("autodistill: UNAVAILABLE: ", 0) == 0);

  FakeDaemon rejecting([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    return {
        error_reply(request, Code::kAlreadyExists, "key used for another spec", "idempotency_key")};
  });
  const fs::path spec =
      fs::temp_directory_path() / ("autodistill-cli-spec-" + std::to_string(::getpid()) + ".json");
  std::ofstream(spec) << R"({"kind": "external", "objectives": [{"name": "loss",
                             "direction": "minimize"}]})";
  Run rejected = run_cli("--endpoint " + rejecting.endpoint() + " submit --spec " + spec.string() +
                         " --key k1");
  CHECK(rejected.exit_code == 3);
  CHECK(rejected.err.find("ALREADY_EXISTS") != std::string::npos);
  REQUIRE(rejecting.requests().size() == 1);
  CHECK(rejecting.requests()[0].body.AsSubmit()->idempotency_key == "k1");
  fs::remove(spec);

  CHECK(run_cli("").exit_code == 2);
  CHECK(run_cli("get not-a-number").exit_code == 2);
  CHECK(run_cli("frobnicate").exit_code == 2);
  Run help = run_cli("--help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("exit codes:") != std::string::npos);
}

TEST_CASE("cli: watch follows a study to its end and exits 6 when it failed") {
  std::atomic<int> gets{0};
  FakeDaemon daemon([&](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (request.body.AsGetStudy()) {
      const bool first = gets++ == 0;
      return {reply_to(
          request, study_reply(9, first ? wire::StudyState::Exploring : wire::StudyState::Failed))};
    }
    if (request.body.AsWatch()) {
      wire::EventBatchT batch;
      for (const char* kind : {"trial_queued", "trial_failed", "study_state"}) {
        auto event = std::make_unique<wire::EventT>();
        event->study_id = 9;
        event->seq = batch.events.size() + 1;
        event->kind = kind;
        event->trial_id = 90;
        batch.events.push_back(std::move(event));
      }
      batch.end = true;
      return {reply_to(request, std::move(batch))};
    }
    return {};
  });
  Run run = run_cli("--endpoint " + daemon.endpoint() + " --json watch 9");
  CHECK(run.exit_code == 6);
  // Three event lines, then the final study.
  std::istringstream lines(run.out);
  std::string line;
  int events = 0;
  std::string last;
  while (std::getline(lines, line)) {
    if (line.find("\"seq\":") != std::string::npos) ++events;
    last = line;
  }
  CHECK(events == 3);
  CHECK(last.find("\"state\":\"failed\"") != std::string::npos);

  Run human = run_cli("--endpoint " + daemon.endpoint() + " watch 9");  // not a TTY: lines
  CHECK(human.exit_code == 6);
  CHECK(human.out.find("trial_failed") != std::string::npos);
}

// A Distill study with a baseline and a budget of 2 candidates, as its
// events would stream: the baseline and candidate 1 explored, candidate 2's
// flash skipped, then candidate 1's regular distillation at 60 %.
TEST_CASE("cli: watch counts candidates, shows the best so far and the regular trial's progress") {
  std::atomic<int> gets{0};
  auto reply_for = [](wire::StudyState state) {
    wire::StudyReplyT reply = study_reply(5, state);
    wire::StudySpecT& spec = *reply.study->spec;
    spec.kind = wire::StudyKind::Distill;
    for (auto [name, maximize] : {std::pair{"accuracy", true}, std::pair{"latency_ms", false}}) {
      auto o = std::make_unique<wire::ObjectiveT>();
      o->name = name;
      o->direction = maximize ? wire::Direction::Maximize : wire::Direction::Minimize;
      spec.objectives.push_back(std::move(o));
    }
    auto b = std::make_unique<wire::ParamValueT>();
    b->name = "num_blocks";
    b->number = 4;
    spec.baseline.push_back(std::move(b));
    return reply;
  };
  FakeDaemon daemon([&](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (request.body.AsGetStudy()) {
      const bool first = gets++ == 0;
      return {reply_to(
          request, reply_for(first ? wire::StudyState::Exploring : wire::StudyState::Succeeded))};
    }
    if (!request.body.AsWatch()) return {};
    wire::EventBatchT batch;
    uint64_t seq = 0;
    auto add = [&](const char* kind, uint64_t trial, uint32_t candidate, wire::TrialKind tk,
                   std::vector<std::pair<const char*, double>> values = {}, float fraction = 0) {
      auto e = std::make_unique<wire::EventT>();
      e->study_id = 5;
      const bool progress = std::string(kind) == "trial_progress";
      e->seq = progress ? seq : ++seq;  // progress carries the last durable seq
      e->kind = kind;
      e->trial_id = trial;
      e->attempt = 1;
      e->candidate = candidate;
      e->trial_kind = tk;
      e->fraction = fraction;
      if (std::string(kind) == "study_state") e->message = trial == 0 ? "Finalizing" : "x";
      for (auto [name, value] : values) {
        auto m = std::make_unique<wire::MetricT>();
        m->name = name;
        m->value = value;
        e->values.push_back(std::move(m));
      }
      batch.events.push_back(std::move(e));
    };
    using K = wire::TrialKind;
    add("trial_queued", 1, 0, K::Probe);
    add("trial_completed", 1, 0, K::Probe, {{"latency_ms", 2.0}});
    add("trial_queued", 2, 0, K::Flash);
    add("trial_completed", 2, 0, K::Flash, {{"accuracy", 0.30}});
    add("trial_queued", 3, 1, K::Probe);
    add("trial_leased", 3, 1, K::Probe);
    add("trial_completed", 3, 1, K::Probe, {{"latency_ms", 1.0}});
    add("trial_queued", 4, 1, K::Flash);
    add("trial_completed", 4, 1, K::Flash, {{"accuracy", 0.35}});
    add("trial_queued", 5, 2, K::Probe);
    add("trial_completed", 5, 2, K::Probe, {{"latency_ms", 0.5}});
    add("flash_skipped", 6, 2, K::Flash);
    add("study_state", 0, 0, K::Probe);
    add("trial_queued", 7, 1, K::Regular);
    add("trial_leased", 7, 1, K::Regular);
    add("trial_progress", 7, 1, K::Regular, {{"loss", 2.5}}, 0.6f);
    add("trial_completed", 7, 1, K::Regular, {{"accuracy", 0.40}});
    batch.end = true;
    return {reply_to(request, std::move(batch))};
  });
  Run run = run_cli("--endpoint " + daemon.endpoint() + " watch 5");  // not a TTY: lines
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  // The denominator is the budget throughout; the baseline is apart.
  CHECK(run.out.find("progress: 0/2 candidates explored, baseline done; front 1, best accuracy "
                     "0.3 (latency_ms 2)") != std::string::npos);
  CHECK(run.out.find("progress: 1/2 candidates explored, baseline done; front 1, best accuracy "
                     "0.35 (latency_ms 1)") != std::string::npos);
  CHECK(run.out.find("progress: 2/2 candidates explored") != std::string::npos);
  // The regular trial's reported progress, and its values.
  CHECK(run.out.find("trial_progress  trial 7/1  candidate 1 regular  60%  loss=2.5") !=
        std::string::npos);
  CHECK(run.out.find("regular 0/1 done, candidate 1 at 60%") != std::string::npos);
  CHECK(run.out.find("regular 1/1 done") != std::string::npos);
  CHECK(run.out.find("candidates explored, 3") == std::string::npos);  // never counts trials
}

TEST_CASE("cli: hostile input files exit 3 with a message and never crash (plain and --json)") {
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    return {error_reply(request, Code::kInternal, "no request should arrive", "")};
  });
  const fs::path dir =
      fs::temp_directory_path() / ("autodistill-cli-hostile-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  struct Case {
    std::string what;
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a number beyond a double", R"({"kind": "external", "max_trials": 1e999})",
       "number overflow"},
      {"settings nested 100k deep", R"({"kind": "external", "settings": {"a": )" + deep + "}}",
       "deeper than 64"},
      {"a document nested 100k deep", deep, "deeper than 64"},
      {"bytes that are not UTF-8", "{\"name\": \"\xff\xfe\"}", "not valid JSON"},
      {"a file of 20 MiB", "{\"name\": \"" + std::string(20u << 20, 'x') + "\"}", "at most"},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    const fs::path spec = dir / "spec.json";
    std::ofstream(spec, std::ios::binary | std::ios::trunc) << k.text;
    Run plain = run_cli("--endpoint " + daemon.endpoint() + " submit --spec " + spec.string());
    CHECK(plain.exit_code == 3);
    CHECK(plain.err.rfind("autodistill: INVALID_ARGUMENT: ", 0) == 0);
    CHECK(plain.err.find(k.message) != std::string::npos);
    CHECK(plain.out.empty());

    Run json =
        run_cli("--endpoint " + daemon.endpoint() + " --json submit --spec " + spec.string());
    CHECK(json.exit_code == 3);
    CHECK(json.err.find(k.message) != std::string::npos);
    INFO(json.out);
    REQUIRE(nlohmann::json::accept(json.out));
    const auto out = nlohmann::json::parse(json.out);
    CHECK(out["error"]["code"] == "INVALID_ARGUMENT");
    CHECK(out["error"]["message"].get<std::string>().find(k.message) != std::string::npos);
    CHECK(out["exit_code"] == 3);
  }
  CHECK(daemon.requests().empty());

  // Usage errors are JSON too with --json.
  Run usage = run_cli("--json frobnicate");
  CHECK(usage.exit_code == 2);
  REQUIRE(nlohmann::json::accept(usage.out));
  CHECK(nlohmann::json::parse(usage.out)["error"]["code"] == "USAGE");
  fs::remove_all(dir);
}

TEST_CASE("cli: hostile strings from a daemon are rendered and not fatal") {
  // A study (say, stored by an older daemon) whose settings nest 100k deep
  // and whose name and message are not UTF-8.
  FakeDaemon daemon([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    wire::StudyReplyT reply = study_reply(7, wire::StudyState::Failed);
    reply.study->spec->name = "caf\xe9";
    reply.study->message = "bad \xff byte";
    reply.study->spec->settings_json = std::string(100000, '[') + std::string(100000, ']');
    return {reply_to(request, std::move(reply))};
  });
  Run json = run_cli("--endpoint " + daemon.endpoint() + " --json get 7");
  CHECK(json.exit_code == 0);
  INFO(json.err);
  REQUIRE(nlohmann::json::accept(json.out));
  const auto out = nlohmann::json::parse(json.out);
  CHECK(out["study"]["spec"]["name"] == "caf\xef\xbf\xbd");
  CHECK(out["study"]["spec"]["settings"].is_string());  // shown as the text it is
  Run plain = run_cli("--endpoint " + daemon.endpoint() + " get 7");
  CHECK(plain.exit_code == 0);
}

TEST_CASE("cli: --version and each command's own --help") {
  Run version = run_cli("--version");
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("autodistill ", 0) == 0);
  CHECK(version.out.find(AUTODISTILL_PROJECT_VERSION) != std::string::npos);

  Run distill = run_cli("distill --help");
  CHECK(distill.exit_code == 0);
  CHECK(distill.out.rfind("usage: autodistill distill --teacher DIR", 0) == 0);
  CHECK(distill.out.find("--no-onnx") != std::string::npos);
  CHECK(distill.out.find("keygen") == std::string::npos);      // not the global usage
  CHECK(distill.out.find("--endpoint") != std::string::npos);  // the global flags apply
  for (const char* command : {"submit", "report", "get", "list", "watch", "cancel", "upload",
                              "fetch", "workers", "landscape", "keygen"}) {
    Run help = run_cli(std::string(command) + " --help");
    INFO(command << ": " << help.out);
    CHECK(help.exit_code == 0);
    CHECK(help.out.rfind(std::string("usage: autodistill ") + command, 0) == 0);
  }
  // `help COMMAND` is the same.
  CHECK(run_cli("help report").out.rfind("usage: autodistill report", 0) == 0);
}

TEST_CASE("cli: --json usage errors name the flag at fault") {
  Run unknown = run_cli("--json distill --budgett 3");
  CHECK(unknown.exit_code == 2);
  INFO(unknown.out << unknown.err);
  REQUIRE(nlohmann::json::accept(unknown.out));
  auto json = nlohmann::json::parse(unknown.out);
  CHECK(json["error"]["code"] == "USAGE");
  CHECK(json["error"]["field"] == "--budgett");
  CHECK(json["exit_code"] == 2);

  Run missing = run_cli("--json get");
  REQUIRE(nlohmann::json::accept(missing.out));
  CHECK(nlohmann::json::parse(missing.out)["error"]["field"] == "ID");
  Run bad = run_cli("--json get x");
  REQUIRE(nlohmann::json::accept(bad.out));
  CHECK(nlohmann::json::parse(bad.out)["error"]["field"] == "ID");
}

TEST_CASE("cli: pointed at the worker endpoint, it says which endpoint to use") {
  // What autodistilld's worker endpoint answers a peer that said no Hello.
  FakeDaemon worker_port([](const wire::EnvelopeT& request) -> std::vector<std::string> {
    return {error_reply(request, Code::kUnknownPeer, "no session: send Hello first", "")};
  });
  Run run = run_cli("--endpoint " + worker_port.endpoint() + " list");
  INFO(run.err);
  CHECK(run.exit_code == 3);
  CHECK(run.err.find("is autodistilld's worker endpoint") != std::string::npos);
  CHECK(run.err.find("client endpoint") != std::string::npos);
  CHECK(run.err.find("(field: endpoint)") != std::string::npos);
}
