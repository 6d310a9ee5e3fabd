#include <catch2/catch.hpp>

#include "autodistill/daemon/config.hpp"
#include "autodistill/daemon/study_spec.hpp"
#include "spec_builder.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::constraint;
using autodistill::testing::distill_spec;
using autodistill::testing::external_spec;
using autodistill::testing::ordinal;
using autodistill::testing::param;
using autodistill::testing::selection;
using autodistill::testing::set_baseline;

namespace {
const std::string kTeacher(64, 'a');
const std::string kCorpus(64, 'b');
bool has_all(const std::string&) {
  return true;
}
bool has_none(const std::string&) {
  return false;
}

Status check(const wire::StudySpecT& spec, HasBlob has = has_all) {
  Config config;
  return validate_spec(spec, config, has);
}
}  // namespace

TEST_CASE("spec: valid external and distill specs pass", "[spec]") {
  CHECK(check(external_spec(10)));
  CHECK(check(distill_spec(kTeacher, kCorpus)));
}

TEST_CASE("spec: every bad input names its field", "[spec]") {
  struct Case {
    const char* what;
    std::function<void(wire::StudySpecT&)> mutate;
    Code code;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"empty design space", [](auto& s) { s.factors.clear(); }, Code::kInvalidArgument,
       "spec.factors"},
      {"duplicate ordinal value",
       [](auto& s) {
         s.factors[1]->values = {64, 128, 64};
       },
       Code::kInvalidArgument, "spec.factors[1].values[2]"},
      {"empty ordinal", [](auto& s) { s.factors[1]->values.clear(); }, Code::kInvalidArgument,
       "spec.factors[1].values"},
      {"empty continuous range", [](auto& s) { s.factors[0]->high = 0; }, Code::kInvalidArgument,
       "spec.factors[0].high"},
      {"duplicate factor", [](auto& s) { s.factors[1]->name = "x"; }, Code::kInvalidArgument,
       "spec.factors[1].name"},
      {"no objectives", [](auto& s) { s.objectives.clear(); }, Code::kInvalidArgument,
       "spec.objectives"},
      {"duplicate objective", [](auto& s) { s.objectives[1]->name = "f1"; }, Code::kInvalidArgument,
       "spec.objectives[1].name"},
      {"constraint on unknown metric",
       [](auto& s) { s.constraints.push_back(constraint("nope", true, 1)); },
       Code::kInvalidArgument, "spec.constraints[0].metric"},
      {"contradictory constraints",
       [](auto& s) {
         s.constraints.push_back(constraint("f1", true, 1));
         s.constraints.push_back(constraint("f1", false, 2));
       },
       Code::kInvalidArgument, "spec.constraints[1]"},
      {"zero budget", [](auto& s) { s.max_trials = 0; }, Code::kInvalidArgument, "spec.max_trials"},
      {"unknown algorithm", [](auto& s) { s.algorithm = "magic"; }, Code::kInvalidArgument,
       "spec.algorithm"},
      {"settings not an object", [](auto& s) { s.settings_json = "[1]"; }, Code::kInvalidArgument,
       "spec.settings_json"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    wire::StudySpecT spec = external_spec(5);
    c.mutate(spec);
    Status s = check(spec);
    CHECK(s.code() == c.code);
    CHECK(s.field() == c.field);
    CHECK_FALSE(s.message().empty());
  }
}

TEST_CASE("spec: distill studies check architecture factors, objectives and blobs", "[spec]") {
  SECTION("non-positive size") {
    auto spec = distill_spec(kTeacher, kCorpus);
    spec.factors[1]->values = {128, 0};
    Status s = check(spec);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == "spec.factors[1].values[1]");
  }
  SECTION("unknown objective") {
    auto spec = distill_spec(kTeacher, kCorpus);
    spec.objectives[0]->name = "bleu";
    CHECK(check(spec).field() == "spec.objectives[0].name");
  }
  SECTION("unknown factor") {
    auto spec = distill_spec(kTeacher, kCorpus);
    spec.factors.push_back(ordinal("dropout", {1}));
    CHECK(check(spec).field() == "spec.factors[6].name");
  }
  SECTION("heads never divide the bottleneck") {
    auto spec = distill_spec(kTeacher, kCorpus);
    spec.factors[2]->values = {63, 65};
    CHECK(check(spec).field() == "spec.factors[3]");
  }
  SECTION("impossible latency bound") {
    auto spec = distill_spec(kTeacher, kCorpus);
    spec.constraints.push_back(constraint("latency_ms", true, 0));
    CHECK(check(spec).field() == "spec.constraints[0].bound");
  }
  SECTION("missing teacher") {
    auto spec = distill_spec("", kCorpus);
    CHECK(check(spec).field() == "spec.teacher_digest");
  }
  SECTION("teacher not uploaded") {
    Status s = check(distill_spec(kTeacher, kCorpus), has_none);
    CHECK(s.code() == Code::kNotFound);
    CHECK(s.field() == "spec.teacher_digest");
  }
}

TEST_CASE("spec: packing is canonical and verified on the way back", "[spec]") {
  auto spec = external_spec(5);
  CHECK(pack_spec(spec) == pack_spec(external_spec(5)));
  CHECK(pack_spec(spec) != pack_spec(external_spec(6)));
  auto back = unpack_spec(pack_spec(spec));
  REQUIRE(back);
  CHECK(back->factors.size() == 2);
  CHECK_FALSE(unpack_spec("garbage"));
}

TEST_CASE("spec: integer factors with astronomic ranges are refused", "[spec]") {
  auto spec = external_spec(5);
  auto f = std::make_unique<wire::FactorT>();
  f->name = "n";
  f->kind = wire::FactorKind::Integer;
  f->low = 0;
  f->high = 1e18;
  spec.factors.push_back(std::move(f));
  Status s = check(spec);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.field() == "spec.factors[2].high");
}

TEST_CASE("spec: baseline, selection, skip and warm start fields are checked", "[spec]") {
  struct Case {
    const char* what;
    std::function<void(wire::StudySpecT&)> mutate;
    Code code;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"baseline misses a factor", [](auto& s) { s.baseline.pop_back(); }, Code::kInvalidArgument,
       "spec.baseline"},
      {"baseline names an unknown factor", [](auto& s) { s.baseline[2]->name = "depth"; },
       Code::kInvalidArgument, "spec.baseline[2].name"},
      {"baseline names a factor twice", [](auto& s) { s.baseline[2]->name = "num_blocks"; },
       Code::kInvalidArgument, "spec.baseline[2].name"},
      {"baseline value not in the ordinal", [](auto& s) { s.baseline[1]->number = 200; },
       Code::kInvalidArgument, "spec.baseline[1].number"},
      {"baseline with a category", [](auto& s) { s.baseline[1]->category = "big"; },
       Code::kInvalidArgument, "spec.baseline[1].category"},
      {"baseline breaks the heads rule",
       [](auto& s) {
         s.factors[3]->values = {2, 3};
         s.baseline[3]->number = 3;
       },
       Code::kInvalidArgument, "spec.baseline"},
      {"TopK without k",
       [](auto& s) { s.selection = selection(wire::SelectionRule::TopK, 0, "accuracy"); },
       Code::kInvalidArgument, "spec.selection.k"},
      {"TopK on a non-objective",
       [](auto& s) { s.selection = selection(wire::SelectionRule::TopK, 2, "flops"); },
       Code::kInvalidArgument, "spec.selection.metric"},
      {"Pareto with a metric",
       [](auto& s) { s.selection = selection(wire::SelectionRule::Pareto, 2, "accuracy"); },
       Code::kInvalidArgument, "spec.selection.metric"},
      {"unknown rule",
       [](auto& s) { s.selection = selection(static_cast<wire::SelectionRule>(7), 2); },
       Code::kInvalidArgument, "spec.selection.rule"},
      {"skip without a probe metric",
       [](auto& s) {
         s.objectives.pop_back();
         s.skip_dominated_flash = true;
       },
       Code::kInvalidArgument, "spec.skip_dominated_flash"},
      {"warm start from a study nobody can resolve", [](auto& s) { s.warm_start_study = 9; },
       Code::kNotFound, "spec.warm_start_study"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto spec = distill_spec(kTeacher, kCorpus);
    set_baseline(spec);
    REQUIRE(check(spec));
    c.mutate(spec);
    Status s = check(spec);
    REQUIRE_FALSE(s);
    CHECK(s.code() == c.code);
    CHECK(s.field() == c.field);
    CHECK_FALSE(s.message().empty());
  }

  SECTION("external studies take no baseline, selection rule or skipping") {
    auto spec = external_spec(4);
    spec.baseline.push_back(param("x", 0.5));
    spec.baseline.push_back(param("width", 64));
    CHECK(check(spec).field() == "spec.baseline");
    spec.baseline.clear();
    spec.selection = selection(wire::SelectionRule::TopK, 1, "f1");
    CHECK(check(spec).field() == "spec.selection");
    spec.selection = selection(wire::SelectionRule::Pareto, 0);  // the default: harmless
    CHECK(check(spec));
    spec.skip_dominated_flash = true;
    CHECK(check(spec).field() == "spec.skip_dominated_flash");
  }

  SECTION("warm start: the earlier study must exist, be visible and match") {
    Config config;
    auto earlier = distill_spec(kTeacher, kCorpus);
    FindStudy find = [&](uint64_t id) -> Result<std::optional<wire::StudySpecT>> {
      if (id != 3) return std::optional<wire::StudySpecT>();
      return std::optional<wire::StudySpecT>(earlier);
    };
    auto spec = distill_spec(kTeacher, kCorpus);
    spec.warm_start_study = 3;
    spec.factors[1]->values = {128, 256, 512};  // ranges may differ
    CHECK(validate_spec(spec, config, has_all, find));
    spec.warm_start_study = 4;
    CHECK(validate_spec(spec, config, has_all, find).code() == Code::kNotFound);
    spec.warm_start_study = 3;
    earlier.factors.pop_back();
    Status other_factors = validate_spec(spec, config, has_all, find);
    CHECK(other_factors.code() == Code::kInvalidArgument);
    CHECK(other_factors.field() == "spec.warm_start_study");
    earlier = distill_spec(kTeacher, kCorpus);
    earlier.objectives[1]->direction = wire::Direction::Maximize;
    CHECK(validate_spec(spec, config, has_all, find).field() == "spec.warm_start_study");
    earlier = external_spec(3);
    CHECK(validate_spec(spec, config, has_all, find).field() == "spec.warm_start_study");
  }
}

TEST_CASE("spec: objective transforms and references are checked with their field", "[spec]") {
  struct Case {
    const char* what;
    std::function<void(wire::StudySpecT&)> mutate;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"reference <= 0 of latency (log by the naming rule)",
       [](auto& s) { s.objectives[1]->reference = 0.0; }, "spec.objectives[1].reference"},
      {"reference <= 0 under a declared log",
       [](auto& s) {
         s.objectives[0]->transform = wire::ObjectiveTransform::Log;
         s.objectives[0]->reference = -0.5;
       },
       "spec.objectives[0].reference"},
      {"reference not finite", [](auto& s) { s.objectives[0]->reference = INFINITY; },
       "spec.objectives[0].reference"},
      {"unknown transform",
       [](auto& s) { s.objectives[0]->transform = static_cast<wire::ObjectiveTransform>(9); },
       "spec.objectives[0].transform"},
      {"a value and the baseline's",
       [](auto& s) {
         s.objectives[0]->reference = 0.2;
         s.objectives[0]->reference_baseline = true;
       },
       "spec.objectives[0].reference_baseline"},
      {"the baseline's reference without a baseline",
       [](auto& s) {
         s.baseline.clear();
         s.objectives[1]->reference_baseline = true;
       },
       "spec.objectives[1].reference_baseline"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto spec = distill_spec(kTeacher, kCorpus);
    set_baseline(spec);
    REQUIRE(check(spec));
    c.mutate(spec);
    Status s = check(spec);
    REQUIRE_FALSE(s);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == c.field);
    CHECK_FALSE(s.message().empty());
  }

  SECTION("valid references and transforms pass") {
    auto spec = distill_spec(kTeacher, kCorpus);
    set_baseline(spec);
    spec.objectives[0]->reference = 0.25;
    spec.objectives[1]->reference_baseline = true;
    CHECK(check(spec));
    auto external = external_spec(4);
    external.objectives[0]->transform = wire::ObjectiveTransform::Identity;
    external.objectives[0]->name = "latency_delta_ms";  // can be negative: declared identity
    external.objectives[0]->reference = -3.0;
    external.objectives[1]->transform = wire::ObjectiveTransform::Log;
    external.objectives[1]->reference = 2.0;
    CHECK(check(external));
    external.objectives[1]->reference_baseline = true;
    external.objectives[1]->reference.reset();
    CHECK(check(external).field() == "spec.objectives[1].reference_baseline");  // no baseline
  }

  SECTION("a spec stored before these fields packs and unpacks to the defaults") {
    auto spec = external_spec(4);
    auto back = unpack_spec(pack_spec(spec));
    REQUIRE(back);
    CHECK(back->objectives[0]->transform == wire::ObjectiveTransform::Auto);
    CHECK_FALSE(back->objectives[0]->reference.has_value());
    CHECK_FALSE(back->objectives[0]->reference_baseline);
    CHECK(check(back.value()));
  }
}

TEST_CASE("spec: design-space size limits name their field", "[spec]") {
  Config config;
  config.max_factors = 3;
  config.max_factor_values = 4;
  config.max_design_values = 6;
  auto refused = [&](const wire::StudySpecT& spec) { return validate_spec(spec, config, has_all); };
  wire::StudySpecT spec = external_spec(5);  // x (continuous) and width (3 values)
  CHECK(refused(spec));
  spec.factors.push_back(ordinal("b", {1, 2, 3}));  // 6 values in all: at the limit
  CHECK(refused(spec));
  spec.factors.push_back(ordinal("c", {1}));
  Status factors = refused(spec);
  CHECK(factors.code() == Code::kResourceExhausted);
  CHECK(factors.field() == "spec.factors");
  CHECK(factors.message().find("max_factors 3") != std::string::npos);
  spec.factors.pop_back();
  spec.factors[1]->values = {1, 2, 3, 4, 5};
  Status values = refused(spec);
  CHECK(values.code() == Code::kResourceExhausted);
  CHECK(values.field() == "spec.factors[1].values");
  spec.factors[1]->values = {1, 2, 3, 4};
  Status total = refused(spec);
  CHECK(total.field() == "spec.factors");
  CHECK(total.message().find("max_design_values 6") != std::string::npos);
  // Categories count like values.
  auto categorical = std::make_unique<wire::FactorT>();
  categorical->name = "act";
  categorical->kind = wire::FactorKind::Categorical;
  categorical->categories = {"a", "b", "c", "d", "e"};
  spec.factors[1] = std::move(categorical);
  CHECK(refused(spec).field() == "spec.factors[1].categories");
}

TEST_CASE("spec: settings are bounded JSON, student sizes numbers, tags names", "[spec]") {
  Config config;
  config.max_settings_bytes = 64;
  auto status = [&](const wire::StudySpecT& spec) { return validate_spec(spec, config, has_all); };
  wire::StudySpecT spec = external_spec(5);
  spec.settings_json = std::string(100000, '[') + std::string(100000, ']');
  CHECK(status(spec).field() == "spec.settings_json");
  CHECK(status(spec).message().find("bytes of settings") != std::string::npos);
  config.max_settings_bytes = 1u << 20;
  CHECK(status(spec).message().find("deeper than 64") != std::string::npos);
  spec.settings_json = R"({"a": 1e999})";
  CHECK(status(spec).field() == "spec.settings_json");
  spec.settings_json = R"({"a": [1, {"b": 2}]})";
  CHECK(status(spec));

  wire::StudySpecT distill = distill_spec(kTeacher, kCorpus);
  for (const char* bad :
       {R"({"student": {"vocab_size": "many"}})", R"({"student": {"vocab_size": -3}})",
        R"({"student": {"vocab_size": 1.5}})"}) {
    INFO(bad);
    distill.settings_json = bad;
    CHECK(status(distill).field() == "spec.settings_json.student.vocab_size");
  }
  distill.settings_json = R"({"student": {"max_positions": [1]}})";
  CHECK(status(distill).field() == "spec.settings_json.student.max_positions");
  distill.settings_json = R"({"student": 7})";
  CHECK(status(distill).field() == "spec.settings_json.student");
  distill.settings_json = R"({"student": {"vocab_size": 1000, "max_positions": 64}})";
  CHECK(status(distill));
  // The student template options are checked at submit, not at the first trial.
  distill.settings_json = R"({"student": {"normalization_type": "batch_norm"}})";
  CHECK(status(distill).field() == "spec.settings_json.student.normalization_type");
  distill.settings_json = R"({"student": {"trigram_input": "yes"}})";
  CHECK(status(distill).field() == "spec.settings_json.student.trigram_input");
  distill.settings_json = R"({"student": {"type_vocab_size": 0}})";
  CHECK(status(distill).field() == "spec.settings_json.student.type_vocab_size");
  distill.settings_json =
      R"({"student": {"trigram_input": false, "normalization_type": "no_norm"}})";
  CHECK(status(distill));

  for (const std::string& tag :
       std::vector<std::string>{"gpu h100", "x\"}", std::string(129, 't'), "a\nb"}) {
    spec.hardware_tag = tag;
    CHECK(status(spec).field() == "spec.hardware_tag");
  }
  spec.hardware_tag = "gpu-h100_v2:0.1";
  CHECK(status(spec));
}

TEST_CASE("spec: a stored spec is checked again, without blobs, budgets or warm start", "[spec]") {
  Config config;
  wire::StudySpecT distill = distill_spec(kTeacher, kCorpus);
  distill.max_trials = config.max_trials_limit + 1;
  distill.warm_start_study = 99;
  CHECK_FALSE(validate_spec(distill, config, has_none));
  CHECK(validate_stored_spec(distill, config));
  distill.settings_json = std::string(1000, '[') + std::string(1000, ']');
  CHECK(validate_stored_spec(distill, config).field() == "spec.settings_json");
  wire::StudySpecT bad_enum = external_spec(5);
  bad_enum.factors[1]->kind = static_cast<wire::FactorKind>(77);
  CHECK(validate_stored_spec(bad_enum, config).field() == "spec.factors[1].kind");
}

TEST_CASE("spec: settings.glue names tasks by held blobs, bounded, each field named",
          "[spec][glue]") {
  const std::string task(64, 'c');
  wire::StudySpecT distill = distill_spec(kTeacher, kCorpus);
  auto glue = [&](const std::string& inner) {
    distill.settings_json = R"({"glue": )" + inner + "}";
    return check(distill);
  };
  CHECK(glue(R"({"tasks": {"kjv-testament": ")" + task +
             R"("}, "epochs": 2, "max_seq_len": 48, "learning_rate": 0.001, "threads": 1,
                "pooling": "mean", "seed": 3})"));
  CHECK(glue(R"([1])").field() == "spec.settings_json.glue");
  CHECK(glue(R"({})").field() == "spec.settings_json.glue.tasks");
  CHECK(glue(R"({"tasks": {}})").field() == "spec.settings_json.glue.tasks");
  CHECK(glue(R"({"tasks": {"a b": ")" + task + R"("}})").field() ==
        "spec.settings_json.glue.tasks");
  CHECK(glue(R"({"tasks": {"kjv": "abc"}})").field() == "spec.settings_json.glue.tasks.kjv");
  CHECK(glue(R"({"tasks": {"kjv": ")" + task + R"("}, "epochs": 0})").field() ==
        "spec.settings_json.glue.epochs");
  CHECK(glue(R"({"tasks": {"kjv": ")" + task + R"("}, "dropout": 1})").field() ==
        "spec.settings_json.glue.dropout");
  CHECK(glue(R"({"tasks": {"kjv": ")" + task + R"("}, "pooling": "max"})").field() ==
        "spec.settings_json.glue.pooling");
  CHECK(glue(R"({"tasks": {"kjv": ")" + task + R"("}, "model": "teacher"})").field() ==
        "spec.settings_json.glue.model");
  std::string many = R"({"tasks": {)";
  for (int i = 0; i < 17; ++i)
    many += (i ? "," : "") + ("\"t" + std::to_string(i) + "\": \"" + task + "\"");
  CHECK(glue(many + "}}").field() == "spec.settings_json.glue.tasks");
  // The task blobs must be held (not re-checked for a stored spec).
  distill.settings_json = R"({"glue": {"tasks": {"kjv": ")" + task + R"("}}})";
  auto held = [&](const std::string& d) { return d != task; };
  Status missing = check(distill, held);
  CHECK(missing.code() == Code::kNotFound);
  CHECK(missing.field() == "spec.settings_json.glue.tasks.kjv");
  CHECK(validate_stored_spec(distill, Config{}));
  // Only a Distill study fine-tunes.
  wire::StudySpecT external = external_spec(5);
  external.settings_json = distill.settings_json;
  CHECK(check(external).field() == "spec.settings_json.glue");
}

// Issue #15 item 4: every section of a Distill study's settings is parsed by
// the one codec (autodistill/study_settings.hpp) at submit, so a bad knob is
// refused naming its field instead of failing a trial hours later.
TEST_CASE("spec: settings.distill, .serving, .probe and .finetune are checked at submit",
          "[spec][settings]") {
  wire::StudySpecT distill = distill_spec(kTeacher, kCorpus);
  auto field = [&](const std::string& settings) {
    distill.settings_json = settings;
    Status s = check(distill);
    INFO(settings << " -> " << s.to_string());
    CHECK(s.code() == (s ? Code::kOk : Code::kInvalidArgument));
    return s.field();
  };
  const std::vector<std::pair<std::string, std::string>> refused = {
      {R"({"distill": {"flash_steps": "many"}})", "spec.settings_json.distill.flash_steps"},
      {R"({"distill": {"flash_steps": -5}})", "spec.settings_json.distill.flash_steps"},
      {R"({"distill": {"flash_steps": 2.5}})", "spec.settings_json.distill.flash_steps"},
      {R"({"distill": {"flash_step": 200}})", "spec.settings_json.distill.flash_step"},
      {R"({"distill": {"seq_len": 4}})", "spec.settings_json.distill.seq_len"},
      {R"({"distill": {"alpha": 2}})", "spec.settings_json.distill.alpha"},
      {R"({"distill": {"eval_fraction": 1}})", "spec.settings_json.distill.eval_fraction"},
      {R"({"distill": {"checkpoint_flash": 1}})", "spec.settings_json.distill.checkpoint_flash"},
      {R"({"distill": {"seed": -1}})", "spec.settings_json.distill.seed"},
      {R"({"distill": {"gang_timeout_seconds": 0}})",
       "spec.settings_json.distill.gang_timeout_seconds"},
      {R"({"distill": 7})", "spec.settings_json.distill"},
      {R"({"serving": {"batch": 1}})", "spec.settings_json.serving.batch"},
      {R"({"serving": {"threads": 0}})", "spec.settings_json.serving.threads"},
      {R"({"serving": {"device": "tpu"}})", "spec.settings_json.serving.device"},
      {R"({"serving": {"throughput_batch_sizes": [8, "x"]}})",
       "spec.settings_json.serving.throughput_batch_sizes[1]"},
      {R"({"student": {"num_blocks": 0}})", "spec.settings_json.student.num_blocks"},
      {R"({"student": {"hidden": 64}})", "spec.settings_json.student.hidden"},
      // Written by the daemon (the probe handoff, a Finetune trial's settings).
      {R"({"probe": {"trial_id": 3}})", "spec.settings_json.probe"},
      {R"({"finetune": {"epochs": 2}})", "spec.settings_json.finetune"},
  };
  for (const auto& [settings, want] : refused) CHECK(field(settings) == want);

  // Every knob at a legal value passes; unknown top-level sections are kept
  // for other evaluators (docs/study-spec.md "Settings").
  CHECK(field(R"({"distill": {"flash_steps": 20, "regular_steps": 60, "batch_size": 8,
                  "seq_len": 32, "learning_rate": 0.01, "alpha": 1, "eval_fraction": 0.1,
                  "checkpoint_flash": true, "seed": 3, "threads": 0},
                  "serving": {"batch_size": 1, "seq_len": 64, "threads": 2, "device": "cuda:1",
                              "throughput_batch_sizes": [32, 8, 8]},
                  "student": {"vocab_size": 1000, "num_stacked_ffn": 2,
                              "trigram_input": true},
                  "notes": {"anything": [1, 2]}})")
            .empty());

  // An External study's settings belong to its evaluator: not checked.
  wire::StudySpecT external = external_spec(5);
  external.settings_json = R"({"distill": {"flash_steps": "many"}, "probe": 1})";
  CHECK(check(external));
}
