// The pieces of `autodistill distill` that need no daemon: the idempotency
// key, the default baseline, and the text forms of the flags.

#include <catch2/catch.hpp>

#include "autodistill/baseline.hpp"
#include "autodistill/distill.hpp"
#include "autodistill/study_json.hpp"

using namespace autodistill;

namespace {

const std::string kTeacher(64, 'a');
const std::string kCorpus(64, 'b');

StudySpec space() {
  auto spec = parse_study_spec(R"({
    "factors": [
      {"name": "num_blocks", "kind": "ordinal", "values": [1, 2, 3, 4]},
      {"name": "hidden_size", "kind": "ordinal", "values": [16, 32, 64]},
      {"name": "bottleneck_size", "kind": "ordinal", "values": [8, 16, 32]},
      {"name": "num_heads", "kind": "ordinal", "values": [1, 2, 4]},
      {"name": "intermediate_size", "kind": "ordinal", "values": [32, 64, 128]},
      {"name": "num_stacked_ffn", "kind": "integer", "low": 1, "high": 4}
    ],
    "max_trials": 8, "settings": {"distill": {"flash_steps": 20, "regular_steps": 60}}})");
  REQUIRE(spec);
  return *spec;
}

double value_of(const std::vector<ParamValue>& params, const std::string& name) {
  for (const ParamValue& p : params) {
    if (p.name == name) return p.number;
  }
  FAIL("no " << name);
  return 0;
}

}  // namespace

TEST_CASE("distill_key depends on the teacher, the corpus and the spec, nothing else") {
  const StudySpec spec = space();
  const std::string key = distill_key(kTeacher, kCorpus, spec);
  CHECK(key.rfind("distill-", 0) == 0);
  CHECK(key.size() == 8 + 32);
  CHECK(distill_key(kTeacher, kCorpus, spec) == key);
  CHECK(distill_key(std::string(64, 'c'), kCorpus, spec) != key);
  CHECK(distill_key(kTeacher, std::string(64, 'c'), spec) != key);
  // The digests inside the spec do not count twice: filled in or not, the
  // key is the same.
  StudySpec filled = spec;
  filled.teacher_digest = kTeacher;
  filled.corpus_digest = kCorpus;
  CHECK(distill_key(kTeacher, kCorpus, filled) == key);
  // Settings are normalized: key order in the file does not matter.
  auto reordered = parse_study_spec(study_spec_to_json(spec));
  REQUIRE(reordered);
  reordered->settings_json = R"({"distill":{"regular_steps":60,"flash_steps":20}})";
  CHECK(distill_key(kTeacher, kCorpus, *parse_study_spec(study_spec_to_json(*reordered))) == key);
  // Any field of the study changes it.
  StudySpec budget = spec;
  budget.max_trials = 9;
  CHECK(distill_key(kTeacher, kCorpus, budget) != key);
  StudySpec baseline = spec;
  baseline.baseline = {{"num_blocks", 2, ""}};
  CHECK(distill_key(kTeacher, kCorpus, baseline) != key);
  StudySpec selection = spec;
  selection.selection = Selection{SelectionRule::kPareto, 2, ""};
  CHECK(distill_key(kTeacher, kCorpus, selection) != key);
}

TEST_CASE("the default baseline is MobileBERT scaled to the teacher and snapped to the space") {
  SECTION("a BERT-large-sized teacher in Table 1's space gets MobileBERT itself") {
    auto spec = parse_study_spec(R"({"factors": [
      {"name": "num_blocks", "kind": "integer", "low": 1, "high": 24},
      {"name": "hidden_size", "kind": "ordinal", "values": [128, 256, 512, 768]},
      {"name": "bottleneck_size", "kind": "ordinal", "values": [64, 128, 256]},
      {"name": "num_heads", "kind": "ordinal", "values": [1, 2, 4, 8]},
      {"name": "intermediate_size", "kind": "ordinal", "values": [256, 512, 1024]},
      {"name": "num_stacked_ffn", "kind": "integer", "low": 1, "high": 4}]})");
    REQUIRE(spec);
    auto baseline = default_baseline({24, 1024}, spec->factors);
    REQUIRE(baseline);
    CHECK(value_of(*baseline, "num_blocks") == 24);
    CHECK(value_of(*baseline, "hidden_size") == 512);
    CHECK(value_of(*baseline, "bottleneck_size") == 128);
    CHECK(value_of(*baseline, "num_heads") == 4);
    CHECK(value_of(*baseline, "intermediate_size") == 512);
    CHECK(value_of(*baseline, "num_stacked_ffn") == 4);
    // Sorted by name, like a parsed spec.
    for (size_t i = 1; i < baseline->size(); ++i) {
      CHECK((*baseline)[i - 1].name < (*baseline)[i].name);
    }
  }
  SECTION("a tiny teacher scales every width down, depth follows its layers") {
    // hidden 64 -> r = 1/16: hidden 32, bottleneck 8, intermediate 32.
    auto baseline = default_baseline({2, 64}, space().factors);
    REQUIRE(baseline);
    CHECK(value_of(*baseline, "num_blocks") == 2);
    CHECK(value_of(*baseline, "hidden_size") == 32);
    CHECK(value_of(*baseline, "bottleneck_size") == 8);
    CHECK(value_of(*baseline, "intermediate_size") == 32);
    CHECK(value_of(*baseline, "num_heads") == 4);
    CHECK(value_of(*baseline, "num_stacked_ffn") == 4);
  }
  SECTION("values outside the space snap to the nearest (log scale) or clamp") {
    // hidden 4096 -> r = 4: hidden 2048 (-> 64), blocks 48 (-> 4), F 4 (-> 3).
    StudySpec s = space();
    s.factors[5].high = 3;
    auto baseline = default_baseline({48, 4096}, s.factors);
    REQUIRE(baseline);
    CHECK(value_of(*baseline, "num_blocks") == 4);
    CHECK(value_of(*baseline, "hidden_size") == 64);
    CHECK(value_of(*baseline, "num_stacked_ffn") == 3);
  }
  SECTION("heads must divide the bottleneck") {
    StudySpec s = space();
    s.factors[2].values = {6};           // bottleneck
    s.factors[3].values = {1, 3, 4, 5};  // heads: 4 does not divide 6, 3 does
    auto baseline = default_baseline({2, 64}, s.factors);
    REQUIRE(baseline);
    CHECK(value_of(*baseline, "num_heads") == 3);
    s.factors[3].values = {4, 5};
    auto none = default_baseline({2, 64}, s.factors);
    REQUIRE_FALSE(none);
    CHECK(none.status().field() == "baseline.num_heads");
  }
  SECTION("other factors take their middle value; an empty factor is an error") {
    StudySpec s = space();
    s.factors.push_back({"act", FactorKind::kCategorical, {}, {"gelu", "relu"}, 0, 0});
    s.factors.push_back({"dropout", FactorKind::kContinuous, {}, {}, 0.0, 0.2});
    auto baseline = default_baseline({2, 64}, s.factors);
    REQUIRE(baseline);
    CHECK((*baseline)[0] == ParamValue{"act", 0, "gelu"});
    CHECK(value_of(*baseline, "dropout") == Approx(0.1));
    s.factors.push_back({"empty", FactorKind::kOrdinal, {}, {}, 0, 0});
    auto bad = default_baseline({2, 64}, s.factors);
    REQUIRE_FALSE(bad);
    CHECK(bad.status().field() == "factors[8]");
  }
}

TEST_CASE("the teacher's config.json gives its shape") {
  auto shape = parse_teacher_shape(R"({"hidden_size": 768, "num_hidden_layers": 12,
                                        "num_attention_heads": 12})");
  REQUIRE(shape);
  CHECK(shape->hidden_size == 768);
  CHECK(shape->num_hidden_layers == 12);
  CHECK(parse_teacher_shape(R"({"hidden_size": 768})").status().field() == "num_hidden_layers");
  CHECK(parse_teacher_shape(R"({"hidden_size": 0, "num_hidden_layers": 2})").status().field() ==
        "hidden_size");
  CHECK_FALSE(parse_teacher_shape("not json"));
}

TEST_CASE("the flags' text forms parse, and bad ones name the flag") {
  auto objectives = parse_objectives_text("accuracy:max,latency_ms:minimize", "--objectives");
  REQUIRE(objectives);
  REQUIRE(objectives->size() == 2);
  CHECK((*objectives)[0] == Objective{"accuracy", Direction::kMaximize});
  CHECK((*objectives)[1] == Objective{"latency_ms", Direction::kMinimize});
  for (const char* bad : {"", "accuracy", "accuracy:up", ":max", "accuracy:max,"}) {
    INFO(bad);
    auto parsed = parse_objectives_text(bad, "--objectives");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.status().field() == "--objectives");
  }

  CHECK(*parse_selection_text("pareto", "--select") == Selection{SelectionRule::kPareto, 0, ""});
  CHECK(*parse_selection_text("pareto:2", "--select") == Selection{SelectionRule::kPareto, 2, ""});
  CHECK(*parse_selection_text("top:3:accuracy", "--select") ==
        Selection{SelectionRule::kTopK, 3, "accuracy"});
  for (const char* bad :
       {"", "pareto:0", "pareto:x", "pareto:1:2", "top:3", "top:0:accuracy", "top:3:", "best"}) {
    INFO(bad);
    auto parsed = parse_selection_text(bad, "--select");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.status().field() == "--select");
  }

  auto baseline = parse_baseline_json(R"({"num_blocks": 2, "hidden_size": 64})", "--baseline");
  REQUIRE(baseline);
  CHECK(*baseline == std::vector<ParamValue>{{"hidden_size", 64, ""}, {"num_blocks", 2, ""}});
  CHECK(parse_baseline_json("{}", "--baseline").status().field() == "--baseline");
  CHECK(parse_baseline_json("[2]", "--baseline").status().field() == "--baseline");
  CHECK(parse_baseline_json("{", "--baseline").status().field() == "--baseline");
}
