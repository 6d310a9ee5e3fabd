// Reading the architecture and the serving setting of a probe trial, and
// the clear errors for bad ones.

#include <catch2/catch.hpp>

#include "autodistill/probe/probe_request.hpp"
#include "autodistill/study_settings.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;

std::map<std::string, double> table1_point() {
  return {{"num_blocks", 4}, {"hidden_size", 512},       {"bottleneck_size", 128},
          {"num_heads", 4},  {"intermediate_size", 512}, {"num_stacked_ffn", 2}};
}

Status error_for(std::map<std::string, double> factors, const std::string& settings = "") {
  auto r = parse_probe_request(factors, settings);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  return r.status();
}

}  // namespace

TEST_CASE("defaults: batch 1, 128 tokens, one thread, CPU, BERT vocabulary", "[probe][request]") {
  auto r = parse_probe_request(table1_point(), "");
  REQUIRE(r.is_ok());
  CHECK(r->arch.num_blocks == 4);
  CHECK(r->arch.hidden_size == 512);
  CHECK(r->arch.bottleneck_size == 128);
  CHECK(r->arch.num_heads == 4);
  CHECK(r->arch.intermediate_size == 512);
  CHECK(r->arch.num_stacked_ffn == 2);
  CHECK(r->arch.vocab_size == 30522);
  CHECK(r->arch.max_positions == 512);
  CHECK(r->serving.batch_size == 1);
  CHECK(r->serving.seq_len == 128);
  CHECK(r->serving.threads == 1);
  CHECK(r->serving.device == "cpu");
  CHECK(r->serving.throughput_batch_sizes.empty());
}

TEST_CASE("settings give the serving setting and fixed student sizes", "[probe][request]") {
  auto factors = table1_point();
  factors.erase("num_blocks");
  auto r = parse_probe_request(factors, R"({
      "flash_steps": 100,
      "student": {"vocab_size": 8000, "max_positions": 256, "num_blocks": 6},
      "serving": {"batch_size": 4, "seq_len": 64, "threads": 2, "device": "cuda:1",
                  "throughput_batch_sizes": [32, 8, 32]}})");
  REQUIRE(r.is_ok());
  CHECK(r->arch.num_blocks == 6);
  CHECK(r->arch.vocab_size == 8000);
  CHECK(r->arch.max_positions == 256);
  CHECK(r->serving.batch_size == 4);
  CHECK(r->serving.seq_len == 64);
  CHECK(r->serving.threads == 2);
  CHECK(r->serving.device == "cuda:1");
  CHECK(r->serving.throughput_batch_sizes == std::vector<int64_t>{8, 32});
}

TEST_CASE("settings.student's template options shape the probed student", "[probe][request]") {
  auto r = parse_probe_request(table1_point(), R"({"student": {"embedding_size": 128,
      "trigram_input": true, "normalization_type": "no_norm",
      "use_bottleneck_attention": false, "key_query_shared_bottleneck": true}})");
  REQUIRE(r.is_ok());
  CHECK(r->arch.embedding_size == 128);
  CHECK(r->arch.trigram_input);
  CHECK(r->arch.normalization == Normalization::kNoNorm);
  CHECK_FALSE(r->arch.use_bottleneck_attention);
  CHECK(r->arch.key_query_shared_bottleneck);
  CHECK(error_for(table1_point(), R"({"student": {"trigram_input": "yes"}})").field() ==
        "settings.student.trigram_input");
  CHECK(error_for(table1_point(), R"({"student": {"embedding_size": 1024}})").field() ==
        "settings.student.embedding_size");  // wider than the hidden size
  CHECK(error_for(table1_point(), R"({"student": {"use_bottleneck_attention": false}})").field() ==
        "settings.student.key_query_shared_bottleneck");
}

TEST_CASE("a bad architecture is refused naming the factor", "[probe][request]") {
  auto heads = table1_point();
  heads["num_heads"] = 3;  // does not divide 128
  Status s = error_for(heads);
  CHECK(s.field() == "params.num_heads");
  CHECK(s.message().find("num_heads (3) must divide bottleneck_size (128)") != std::string::npos);

  auto zero = table1_point();
  zero["hidden_size"] = 0;
  s = error_for(zero);
  CHECK(s.field() == "params.hidden_size");
  CHECK(s.message().find("hidden_size must be positive") != std::string::npos);

  auto fraction = table1_point();
  fraction["intermediate_size"] = 511.5;
  CHECK(error_for(fraction).field() == "params.intermediate_size");

  auto unknown = table1_point();
  unknown["dropout"] = 0.1;
  CHECK(error_for(unknown).field() == "params.dropout");

  auto missing = table1_point();
  missing.erase("num_stacked_ffn");
  s = error_for(missing);
  CHECK(s.field() == "params");
  CHECK(s.message().find("num_stacked_ffn") != std::string::npos);

  // A bad size fixed in the settings is blamed on the settings.
  CHECK(error_for(table1_point(), R"({"student": {"vocab_size": 0}})").field() ==
        "settings.student.vocab_size");
}

TEST_CASE("bad settings are refused naming the key", "[probe][request]") {
  CHECK(error_for(table1_point(), "[1, 2]").field() == "settings_json");
  CHECK(error_for(table1_point(), "{not json").field() == "settings_json");
  CHECK(error_for(table1_point(), R"({"serving": {"batch_size": 0}})").field() ==
        "settings.serving.batch_size");
  CHECK(error_for(table1_point(), R"({"serving": {"seq_len": 1024}})").field() ==
        "settings.serving.seq_len");  // above max_positions 512
  CHECK(error_for(table1_point(), R"({"serving": {"device": "tpu"}})").field() ==
        "settings.serving.device");
  CHECK(error_for(table1_point(), R"({"serving": {"device": "cuda:x"}})").field() ==
        "settings.serving.device");
  CHECK(error_for(table1_point(), R"({"serving": {"batch": 1}})").field() ==
        "settings.serving.batch");
  CHECK(error_for(table1_point(), R"({"serving": {"throughput_batch_sizes": [8, 0]}})").field() ==
        "settings.serving.throughput_batch_sizes[1]");
  CHECK(error_for(table1_point(), R"({"student": {"heads": 2}})").field() ==
        "settings.student.heads");
  CHECK(error_for(table1_point(), R"({"serving": 3})").field() == "settings.serving");
  // Bounded JSON (issue #11): a deep value used to reach an error message's dump().
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& settings : {R"({"serving": {"batch_size": )" + deep + "}}",
                                      std::string(R"({"serving": {"batch_size": 1e999}})")}) {
    Status s = error_for(table1_point(), settings);
    CHECK(s.field() == "settings_json");
    CHECK_THAT(s.message(),
               Catch::Contains("deeper than 64") || Catch::Contains("number overflow"));
  }
}

TEST_CASE("the probe refuses what the daemon refuses at submit, with the same error",
          "[probe][request]") {
  // The one settings codec (study_settings.hpp): student sizes are integers
  // 1..2^31 and serving sizes JSON integers; the probe used to take any
  // whole number (4.0, and sizes up to 2^40), and other sections unchecked.
  const char* refused[] = {
      R"({"student": {"type_vocab_size": 4.0}})",
      R"({"student": {"num_blocks": 4294967296}})",
      R"({"student": {"heads": 2}})",
      R"({"serving": {"batch_size": 4.0}})",
      R"({"serving": {"seq_len": 64.0}})",
      R"({"serving": {"throughput_batch_sizes": [8, 16.0]}})",
      R"({"serving": {"device": 1}})",
      R"({"distill": {"flash_steps": 0}})",
      R"({"glue": {"tasks": {}}})",
  };
  for (const char* settings : refused) {
    INFO(settings);
    auto daemon = parse_study_settings_text(settings, "settings");
    REQUIRE_FALSE(daemon);
    Status probe = error_for(table1_point(), settings);
    CHECK(probe.field() == daemon.status().field());
    CHECK(probe.message() == daemon.status().message());
  }
  // The sizes the codec allows still reach the probed architecture.
  auto fixed = table1_point();
  fixed.erase("num_blocks");
  auto r = parse_probe_request(fixed, R"({"student": {"num_blocks": 3, "type_vocab_size": 4},
      "serving": {"batch_size": 2, "threads": 4096}})");
  REQUIRE(r);
  CHECK(r->arch.num_blocks == 3);
  CHECK(r->arch.type_vocab_size == 4);
  CHECK(r->serving.batch_size == 2);
  CHECK(r->serving.threads == 4096);
}
