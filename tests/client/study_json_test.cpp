// Study spec files <-> StudySpec, and the --json rendering of reports.

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autodistill/study_json.hpp"

using namespace autodistill;

namespace {

const char* kGoodSpec = R"({
  "name": "bert-tiny-release-7",
  "kind": "distill",
  "factors": [
    {"name": "layers", "kind": "ordinal", "values": [2, 4, 6]},
    {"name": "activation", "kind": "categorical", "categories": ["gelu", "relu"]},
    {"name": "heads", "kind": "integer", "low": 1, "high": 8},
    {"name": "dropout", "kind": "continuous", "low": 0.0, "high": 0.25}
  ],
  "objectives": [
    {"name": "accuracy", "direction": "maximize"},
    {"name": "latency_ms", "direction": "minimize"}
  ],
  "constraints": [{"metric": "latency_ms", "le": 5.5}, {"metric": "accuracy", "ge": 0.3}],
  "teacher": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  "corpus": "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
  "hardware_tag": "cpu-x86",
  "max_trials": 24,
  "parallelism": 3,
  "max_attempts": 2,
  "regular_ranks": 2,
  "algorithm": "random",
  "seed": 18446744073709551615,
  "settings": {"flash_steps": 100, "serving": {"batch": 1}}
})";

}  // namespace

TEST_CASE("a complete spec parses into every field") {
  auto spec = parse_study_spec(kGoodSpec);
  REQUIRE(spec.is_ok());
  CHECK(spec->name == "bert-tiny-release-7");
  CHECK(spec->kind == StudyKind::kDistill);
  REQUIRE(spec->factors.size() == 4);
  CHECK(spec->factors[0].kind == FactorKind::kOrdinal);
  CHECK(spec->factors[0].values == std::vector<double>{2, 4, 6});
  CHECK(spec->factors[1].categories == std::vector<std::string>{"gelu", "relu"});
  CHECK(spec->factors[2].kind == FactorKind::kInteger);
  CHECK(spec->factors[2].high == 8);
  CHECK(spec->factors[3].high == 0.25);
  REQUIRE(spec->objectives.size() == 2);
  CHECK(spec->objectives[0].direction == Direction::kMaximize);
  CHECK(spec->objectives[1].direction == Direction::kMinimize);
  REQUIRE(spec->constraints.size() == 2);
  CHECK(spec->constraints[0].comparison == Comparison::kLessEqual);
  CHECK(spec->constraints[0].bound == 5.5);
  CHECK(spec->constraints[1].comparison == Comparison::kGreaterEqual);
  CHECK(spec->teacher_digest.substr(0, 4) == "0123");
  CHECK(spec->hardware_tag == "cpu-x86");
  CHECK(spec->max_trials == 24);
  CHECK(spec->parallelism == 3);
  CHECK(spec->max_attempts == 2);
  CHECK(spec->regular_ranks == 2);
  CHECK(spec->algorithm == "random");
  CHECK(spec->seed == 18446744073709551615ull);
  CHECK(nlohmann::json::parse(spec->settings_json) ==
        nlohmann::json::parse(R"({"flash_steps": 100, "serving": {"batch": 1}})"));
}

TEST_CASE("a spec round-trips through its JSON form") {
  auto spec = parse_study_spec(kGoodSpec);
  REQUIRE(spec.is_ok());
  for (int indent : {-1, 2}) {
    auto again = parse_study_spec(study_spec_to_json(*spec, indent));
    REQUIRE(again.is_ok());
    CHECK(*again == *spec);
  }
}

TEST_CASE("a minimal spec takes the defaults") {
  auto spec = parse_study_spec(R"({"kind": "external"})");
  REQUIRE(spec.is_ok());
  CHECK(spec->kind == StudyKind::kExternal);
  CHECK(spec->factors.empty());
  CHECK(spec->max_trials == 0);
  CHECK(spec->settings_json.empty());
  auto again = parse_study_spec(study_spec_to_json(*spec));
  REQUIRE(again.is_ok());
  CHECK(*again == *spec);
}

TEST_CASE("each malformed spec is rejected with the JSON path of the culprit") {
  struct Case {
    const char* json;
    const char* field;
  };
  const Case cases[] = {
      {R"([])", ""},
      {R"({"factors": {}})", "factors"},
      {R"({"factors": [{"name": "a", "kind": "ordinal", "values": [1]},
                       {"name": "b", "kind": "weird"}]})",
       "factors[1].kind"},
      {R"({"factors": [{"name": "a", "kind": "ordinal", "values": [1, "x"]}]})",
       "factors[0].values[1]"},
      {R"({"factors": [{"kind": "ordinal", "values": [1]}]})", "factors[0].name"},
      {R"({"factors": [{"name": "a", "kind": "ordinal"}]})", "factors[0].values"},
      {R"({"factors": [3]})", "factors[0]"},
      {R"({"factors": [{"name": "a", "kind": "integer", "low": 1.5, "high": 3}]})",
       "factors[0].low"},
      {R"({"factors": [{"name": "a", "kind": "continuous", "low": 0}]})", "factors[0].high"},
      {R"({"factors": [{"name": "a", "kind": "continuous", "low": 0, "high": 1, "values": [1]}]})",
       "factors[0].values"},
      {R"({"factors": [{"name": "a", "kind": "categorical", "categories": [1]}]})",
       "factors[0].categories[0]"},
      {R"({"objectives": [{"name": "acc", "direction": "up"}]})", "objectives[0].direction"},
      {R"({"objectives": [{"name": "acc"}]})", "objectives[0].direction"},
      {R"({"constraints": [{"metric": "lat", "le": 1, "ge": 2}]})", "constraints[0]"},
      {R"({"constraints": [{"metric": "lat"}]})", "constraints[0]"},
      {R"({"constraints": [{"metric": "lat", "le": "5"}]})", "constraints[0].le"},
      {R"({"kind": "both"})", "kind"},
      {R"({"max_trials": -1})", "max_trials"},
      {R"({"max_trials": 1.5})", "max_trials"},
      {R"({"parallelism": 5000000000})", "parallelism"},
      {R"({"seed": "1"})", "seed"},
      {R"({"teacher": "model.bin"})", "teacher"},
      {R"({"corpus": "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"})",
       "corpus"},
      {R"({"settings": [1]})", "settings"},
      {R"({"max_trial": 5})", "max_trial"},
      {R"({"name": 3})", "name"},
      {R"({"factors": [)", ""},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    auto spec = parse_study_spec(c.json);
    REQUIRE_FALSE(spec.is_ok());
    CHECK(spec.status().code() == Code::kInvalidArgument);
    CHECK(spec.status().field() == c.field);
    CHECK_FALSE(spec.status().message().empty());
  }
}

TEST_CASE("the example spec files shipped in examples/client-consumer parse") {
  for (const char* name : {"study.json", "external-study.json"}) {
    INFO(name);
    std::ifstream in(std::string(AUTODISTILL_EXAMPLES_DIR) + "/" + name);
    REQUIRE(in);
    std::ostringstream text;
    text << in.rdbuf();
    auto spec = parse_study_spec(text.str());
    REQUIRE(spec.is_ok());
    CHECK(spec->factors.size() >= 4);
    CHECK(spec->objectives.size() == 2);
  }
}

TEST_CASE("invalid JSON says where it broke") {
  auto spec = parse_study_spec("{\n  \"name\": \"x\",\n  oops\n}");
  REQUIRE_FALSE(spec.is_ok());
  CHECK(spec.status().message().find("line 3") != std::string::npos);
}

TEST_CASE("reports render as JSON with the schema's field names") {
  StudyInfo study;
  study.study_id = 12;
  study.idempotency_key = "release-7";
  study.spec.name = "s";
  study.spec.objectives = {{"accuracy", Direction::kMaximize}};
  study.spec.settings_json = R"({"steps":5})";
  study.state = StudyState::kExploring;
  study.trials_total = 4;
  study.pareto = {3, 5};
  auto s = nlohmann::json::parse(to_json(study));
  CHECK(s["study_id"] == 12);
  CHECK(s["idempotency_key"] == "release-7");
  CHECK(s["state"] == "exploring");
  CHECK(s["trials_total"] == 4);
  CHECK(s["pareto"] == nlohmann::json::array({3, 5}));
  CHECK(s["spec"]["objectives"][0]["direction"] == "maximize");
  CHECK(s["spec"]["settings"]["steps"] == 5);

  TrialInfo trial;
  trial.trial_id = 3;
  trial.kind = TrialKind::kFlash;
  trial.state = TrialState::kFailed;
  trial.params = {{"layers", 4, ""}, {"act", 0, "gelu"}};
  trial.objectives = {{"accuracy", 0.5}};
  trial.artifacts = {{"model.safetensors", std::string(64, 'a'), 1234}};
  trial.error = Status(Code::kTrialError, "out of memory");
  trial.progress = 0.3f;
  trial.created_ms = 1000;
  trial.started_ms = 2000;
  trial.finished_ms = 5000;
  auto t = nlohmann::json::parse(to_json(trial));
  CHECK(t["kind"] == "flash");
  CHECK(t["state"] == "failed");
  CHECK(t["params"]["layers"] == 4.0);
  CHECK(t["params"]["act"] == "gelu");
  CHECK(t["objectives"]["accuracy"] == 0.5);
  CHECK(t["artifacts"][0]["size"] == 1234);
  CHECK(t["error"]["code"] == "TRIAL_ERROR");
  CHECK(t["progress"] == 0.3);
  CHECK(t["created_ms"] == 1000);
  CHECK(t["started_ms"] == 2000);
  CHECK(t["finished_ms"] == 5000);

  auto both = nlohmann::json::parse(to_json(study, {trial}));
  CHECK(both["study"]["study_id"] == 12);
  CHECK(both["trials"][0]["trial_id"] == 3);
  CHECK(nlohmann::json::parse(to_json(TrialInfo{}))["error"].is_null());

  Event event;
  event.study_id = 12;
  event.seq = 9;
  event.time_ms = 1700000000000;
  event.kind = "trial_progress";
  event.trial_id = 3;
  event.attempt = 1;
  event.message = "stage 2";
  event.fraction = 0.25f;
  event.candidate = 4;
  event.trial_kind = TrialKind::kRegular;
  event.values = {{"loss", 1.5}};
  auto e = nlohmann::json::parse(to_json(event));
  CHECK(e["seq"] == 9);
  CHECK(e["kind"] == "trial_progress");
  CHECK(e["fraction"] == 0.25);
  CHECK(e["candidate"] == 4);
  CHECK(e["trial_kind"] == "regular");
  CHECK(e["values"]["loss"] == 1.5);
  CHECK(e["duration_ms"] == 0);

  WorkerInfo worker;
  worker.worker_id = "host-a/0";
  worker.role = WorkerRole::kProbe;
  worker.hardware.tag = "cpu-x86";
  worker.running = {{3, 2}};
  auto w = nlohmann::json::parse(to_json(worker));
  CHECK(w["role"] == "probe");
  CHECK(w["hardware"]["tag"] == "cpu-x86");
  CHECK(w["running"][0]["attempt"] == 2);
}

TEST_CASE("the warm-start, baseline and selection fields parse and round-trip") {
  auto spec = parse_study_spec(R"({
    "factors": [{"name": "num_blocks", "kind": "ordinal", "values": [2, 4]}],
    "warm_start_study": 41,
    "baseline": {"num_blocks": 4, "hidden_size": 128, "act": "gelu"},
    "selection": {"rule": "top_k", "k": 3, "metric": "accuracy"},
    "max_wall_seconds": 900,
    "skip_dominated_flash": true
  })");
  REQUIRE(spec);
  CHECK(spec->warm_start_study == 41);
  // Sorted by name, numbers and categories apart.
  REQUIRE(spec->baseline.size() == 3);
  CHECK(spec->baseline[0] == ParamValue{"act", 0, "gelu"});
  CHECK(spec->baseline[1] == ParamValue{"hidden_size", 128, ""});
  CHECK(spec->baseline[2] == ParamValue{"num_blocks", 4, ""});
  REQUIRE(spec->selection);
  CHECK(spec->selection->rule == SelectionRule::kTopK);
  CHECK(spec->selection->k == 3);
  CHECK(spec->selection->metric == "accuracy");
  CHECK(spec->max_wall_seconds == 900);
  CHECK(spec->skip_dominated_flash);

  auto again = parse_study_spec(study_spec_to_json(*spec));
  REQUIRE(again);
  CHECK(*again == *spec);

  auto pareto = parse_study_spec(R"({"selection": {"rule": "pareto"}})");
  REQUIRE(pareto);
  CHECK(pareto->selection == Selection{SelectionRule::kPareto, 0, ""});
}

TEST_CASE("a spec without the new fields renders exactly as before") {
  auto spec = parse_study_spec(R"({"name": "x", "max_trials": 3})");
  REQUIRE(spec);
  auto rendered = nlohmann::json::parse(study_spec_to_json(*spec));
  for (const char* key : {"warm_start_study", "baseline", "selection", "max_wall_seconds",
                          "skip_dominated_flash", "regular_ranks"}) {
    CHECK_FALSE(rendered.contains(key));
  }
  CHECK_FALSE(spec->selection.has_value());
  CHECK(spec->baseline.empty());
}

TEST_CASE("malformed new fields are rejected with their JSON path") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"warm_start_study": -1})", "warm_start_study"},
      {R"({"warm_start_study": "12"})", "warm_start_study"},
      {R"({"baseline": [4, 128]})", "baseline"},
      {R"({"baseline": {"num_blocks": true}})", "baseline.num_blocks"},
      {R"({"selection": "pareto"})", "selection"},
      {R"({"selection": {"k": 2}})", "selection.rule"},
      {R"({"selection": {"rule": "best"}})", "selection.rule"},
      {R"({"selection": {"rule": "top_k", "k": -2}})", "selection.k"},
      {R"({"selection": {"rule": "pareto", "count": 2}})", "selection.count"},
      {R"({"max_wall_seconds": 4294967296})", "max_wall_seconds"},
      {R"({"skip_dominated_flash": 1})", "skip_dominated_flash"},
      {R"({"regular_ranks": -2})", "regular_ranks"},
      {R"({"regular_ranks": "2"})", "regular_ranks"},
  };
  for (auto [text, field] : cases) {
    INFO(text);
    auto spec = parse_study_spec(text);
    REQUIRE_FALSE(spec);
    CHECK(spec.status().code() == Code::kInvalidArgument);
    CHECK(spec.status().field() == field);
  }
}

TEST_CASE("objective transforms and references parse, render and round-trip") {
  auto spec = parse_study_spec(R"({
    "objectives": [
      {"name": "accuracy", "direction": "maximize", "reference": "baseline"},
      {"name": "latency_ms", "direction": "minimize", "transform": "log", "reference": 12.5},
      {"name": "delta", "direction": "minimize", "transform": "none"}
    ]
  })");
  REQUIRE(spec);
  REQUIRE(spec->objectives.size() == 3);
  CHECK(spec->objectives[0].reference_baseline);
  CHECK_FALSE(spec->objectives[0].reference);
  CHECK(spec->objectives[0].transform == ObjectiveTransform::kAuto);
  CHECK(spec->objectives[1].transform == ObjectiveTransform::kLog);
  CHECK(spec->objectives[1].reference == 12.5);
  CHECK(spec->objectives[2].transform == ObjectiveTransform::kNone);
  auto rendered = nlohmann::json::parse(study_spec_to_json(*spec));
  CHECK(rendered["objectives"][0]["reference"] == "baseline");
  CHECK_FALSE(rendered["objectives"][0].contains("transform"));
  CHECK(rendered["objectives"][1]["transform"] == "log");
  CHECK(rendered["objectives"][2]["transform"] == "none");
  CHECK_FALSE(rendered["objectives"][2].contains("reference"));
  auto again = parse_study_spec(study_spec_to_json(*spec));
  REQUIRE(again);
  CHECK(*again == *spec);

  // Without the new keys an objective renders as before.
  auto old = parse_study_spec(R"({"objectives": [{"name": "f", "direction": "minimize"}]})");
  REQUIRE(old);
  CHECK(nlohmann::json::parse(study_spec_to_json(*old))["objectives"][0] ==
        nlohmann::json::parse(R"({"name": "f", "direction": "minimize"})"));

  const std::pair<const char*, const char*> bad[] = {
      {R"({"objectives": [{"name": "f", "direction": "minimize", "transform": "sqrt"}]})",
       "objectives[0].transform"},
      {R"({"objectives": [{"name": "f", "direction": "minimize", "transform": 1}]})",
       "objectives[0].transform"},
      {R"({"objectives": [{"name": "f", "direction": "minimize", "reference": "best"}]})",
       "objectives[0].reference"},
      {R"({"objectives": [{"name": "f", "direction": "minimize", "reference": [1]}]})",
       "objectives[0].reference"},
  };
  for (auto [text, field] : bad) {
    INFO(text);
    auto parsed = parse_study_spec(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.status().code() == Code::kInvalidArgument);
    CHECK(parsed.status().field() == field);
  }
}
