// The one settings codec (autodistill/study_settings.hpp): field-named
// errors, round trips, defaults, and the docs' tables generated from it.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "autodistill/study_settings.hpp"

using namespace autodistill;
using nlohmann::json;

TEST_CASE("study settings: each section's bad key is named under the prefix", "[settings]") {
  auto field = [](const std::string& text) {
    auto s = parse_study_settings(json::parse(text), "settings");
    INFO(text);
    REQUIRE_FALSE(s);
    CHECK(s.status().code() == Code::kInvalidArgument);
    return s.status().field();
  };
  CHECK(field(R"({"distill": {"flash_steps": "200"}})") == "settings.distill.flash_steps");
  CHECK(field(R"({"distill": {"flash_steps": 0}})") == "settings.distill.flash_steps");
  CHECK(field(R"({"distill": {"warmup_fraction": 1}})") == "settings.distill.warmup_fraction");
  CHECK(field(R"({"distill": {"learning_rate": 0}})") == "settings.distill.learning_rate");
  CHECK(field(R"({"distill": {"split_seed": 1.5}})") == "settings.distill.split_seed");
  CHECK(field(R"({"distill": {"typo": 1}})") == "settings.distill.typo");
  CHECK(field(R"({"serving": {"seq_len": 0}})") == "settings.serving.seq_len");
  CHECK(field(R"({"serving": {"device": 3}})") == "settings.serving.device");
  CHECK(field(R"({"student": {"vocab_size": 0}})") == "settings.student.vocab_size");
  CHECK(field(R"({"student": {"embedding_size": true}})") == "settings.student.embedding_size");
  CHECK(field(R"({"glue": {"tasks": {"t": ")" + std::string(64, 'a') + R"("}, "epochs": 1001}})") ==
        "settings.glue.epochs");
  CHECK(field(R"({"probe": {"trial_id": -1}})") == "settings.probe.trial_id");
  CHECK(field(R"({"probe": {"metrics": {"x": "y"}}})") == "settings.probe.metrics.x");
  CHECK(field(R"({"finetune": {"task": ")" + std::string(64, 'a') + R"("}})") ==
        "settings.finetune.model");
  CHECK(field(R"({"finetune": {"model": "teacher", "task": "x"}})") == "settings.finetune.task");
  CHECK(field(R"({"finetune": {"model": "teacher", "task": ")" + std::string(64, 'a') +
              R"(", "pooling": "max"}})") == "settings.finetune.pooling");
  auto text = parse_study_settings_text("[1]", "settings");
  CHECK(text.status().code() == Code::kMalformed);
}

TEST_CASE("study settings: parse then write gives back what was given", "[settings]") {
  const std::string digest(64, 'c');
  const json given = json::parse(R"({
    "distill": {"flash_steps": 20, "alpha": 1.0, "checkpoint_flash": true, "seed": 7},
    "serving": {"seq_len": 64, "throughput_batch_sizes": [32, 8, 8]},
    "student": {"vocab_size": 1000, "trigram_input": true, "normalization_type": "no_norm"},
    "glue": {"tasks": {"kjv": ")" +
                                 digest + R"("}, "epochs": 2, "pooling": "cls"},
    "probe": {"trial_id": 3, "hardware_fingerprint": "cpu:x", "objectives": {"latency_ms": 1.5},
              "metrics": {}},
    "finetune": {"model": {"config.json": ")" +
                                 digest + R"("}, "task": ")" + digest +
                                 R"(", "dropout": 0.2},
    "mine": {"anything": [1, "two"]}})");
  auto s = parse_study_settings(given);
  REQUIRE(s);
  CHECK(s->distill->flash_steps == 20);
  CHECK(s->distill->regular_steps == 4000);  // not given: the default, and not written back
  CHECK(s->serving->throughput_batch_sizes == std::vector<int64_t>{8, 32});
  CHECK(s->finetune->source == FinetuneSection::Source::kFiles);
  CHECK(s->finetune->knobs.dropout == 0.2);
  json back = to_json(*s);
  json want = given;
  // The serving key keeps the object as given; other sections are typed.
  CHECK(back == want);
  auto again = parse_study_settings(back);
  REQUIRE(again);
  CHECK(to_json(*again) == back);
  CHECK(s->serving_key() == given["serving"].dump());
  CHECK(parse_study_settings(json::object())->serving_key() == "{}");

  StudentArch arch;
  s->student->apply(arch);
  CHECK(arch.vocab_size == 1000);
  CHECK(arch.trigram_input);
  CHECK(arch.normalization == Normalization::kNoNorm);
  CHECK(arch.num_blocks == StudentArch{}.num_blocks);
}

// docs/distillation.md and docs/probe.md hold the tables the
// codec generates (settings_reference_markdown), so the reference lists
// every key, type, range and default the readers use.
TEST_CASE("study settings: the docs' reference tables are the codec's", "[settings][docs]") {
  auto read = [](const std::string& name) {
    std::ifstream in(std::string(AUTODISTILL_DOCS_DIR) + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::pair<const char*, const char*> pages[] = {
      {"distill", "distillation.md"}, {"serving", "probe.md"}, {"finetune", "distillation.md"}};
  for (const auto& [section, page] : pages) {
    const std::string table = settings_reference_markdown(section);
    INFO(page << " should hold this table:\n" << table);
    CHECK_FALSE(table.empty());
    CHECK(read(page).find(table) != std::string::npos);
  }
}
