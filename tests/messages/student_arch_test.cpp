#include <catch2/catch.hpp>

#include <map>
#include <set>
#include "autodistill/student_arch.hpp"

#include "autodistill/student_settings.hpp"
#include "autodistill/study_settings.hpp"

using namespace autodistill;

namespace {
StudentArch mobilebert_like() {
  StudentArch a;
  a.num_blocks = 24;
  a.hidden_size = 512;
  a.bottleneck_size = 128;
  a.num_heads = 4;
  a.intermediate_size = 512;
  a.num_stacked_ffn = 4;
  return a;
}
}  // namespace

TEST_CASE("student arch: parameter count follows the documented formula", "[student]") {
  StudentArch a;
  a.num_blocks = 1;
  a.hidden_size = 4;
  a.bottleneck_size = 2;
  a.num_heads = 1;
  a.intermediate_size = 3;
  a.num_stacked_ffn = 1;
  a.vocab_size = 10;
  a.max_positions = 5;
  a.type_vocab_size = 2;
  // embeddings 10*4 + (5+2)*4 + transformation 4*4+4 + norm 8 = 96
  // block: input 4*2+2+4=14, attention 2*(4+2) + (2*2+2) + (4+2) + 4 = 28,
  //        ffn 6+3+6+2+4=21, output bottleneck 8+4+8=20 -> 83
  // heads: mlm 16+4+8 + 0*10 + 10 = 38, nsp 16+4+8+2 = 30 -> 68
  CHECK(parameter_count(a) == 96 + 83 + 68);

  // MobileBERT's options: E 2, trigrams, a shared query/key bottleneck
  // (values from the H-wide input), no_norm (same parameters as LayerNorm).
  a.embedding_size = 2;
  a.trigram_input = true;
  a.use_bottleneck_attention = false;
  a.key_query_shared_bottleneck = true;
  a.normalization = Normalization::kNoNorm;
  // embeddings 10*2 + 28 + transformation 3*2*4+4 + 8 = 84
  // block: input 14, shared 14, attention 2*(4+2) + (4*2+2) + (4+2) + 4 = 32,
  //        ffn 21, output 20 -> 101
  // heads: mlm 28 + (4-2)*10 + 10 = 58, nsp 30 -> 88
  CHECK(parameter_count(a) == 84 + 101 + 88);
  CHECK(embedding_parameters(a) == 84);
  CHECK(block_parameters(a) == 101);
  CHECK(head_parameters(a) == 88);
}

TEST_CASE("student arch: MobileBERT's configuration has MobileBERT's size", "[student]") {
  // google/mobilebert-uncased: 24 blocks, H 512, B 128, 4 heads, I 512,
  // 4 FFNs, E 128 with trigrams, shared query/key bottleneck; the paper
  // gives 25.3M parameters for the encoder (without pre-training heads).
  StudentArch a = mobilebert_like();
  a.embedding_size = 128;
  a.trigram_input = true;
  a.use_bottleneck_attention = false;
  a.key_query_shared_bottleneck = true;
  a.normalization = Normalization::kNoNorm;
  REQUIRE(validate(a));
  const double H = 512.0;
  const double encoder = static_cast<double>(embedding_parameters(a)) +
                         24.0 * static_cast<double>(block_parameters(a)) + H * H + H;
  CHECK(encoder > 24.0e6);
  CHECK(encoder < 26.0e6);
}

TEST_CASE("student arch: options are validated by name", "[student]") {
  StudentArch a = mobilebert_like();
  a.embedding_size = 513;
  CHECK(validate(a).field() == "embedding_size");
  a.embedding_size = -1;
  CHECK(validate(a).field() == "embedding_size");
  a.embedding_size = 0;  // the hidden size
  CHECK(validate(a));
  CHECK(embedding_width(a) == 512);
  a.use_bottleneck_attention = false;  // neither attention input
  CHECK(validate(a).field() == "key_query_shared_bottleneck");
  a.key_query_shared_bottleneck = true;
  CHECK(validate(a));
  // An embedding transformation that runs costs FLOPs.
  StudentArch narrow = mobilebert_like();
  narrow.embedding_size = 128;
  CHECK(forward_flops(narrow, 128) ==
        Approx(forward_flops(mobilebert_like(), 128) + 2.0 * 128 * 128 * 512));
}

TEST_CASE("student settings: template options from settings.student, errors by field",
          "[student]") {
  StudentArch a;
  const auto options = nlohmann::json::parse(R"({"embedding_size": 32, "trigram_input": true,
      "normalization_type": "no_norm", "use_bottleneck_attention": false,
      "key_query_shared_bottleneck": true, "vocab_size": 99})");
  auto read = read_student_section(options, "settings.student");
  REQUIRE(read);
  read->apply(a);
  CHECK(a.embedding_size == 32);
  CHECK(a.trigram_input);
  CHECK(a.normalization == Normalization::kNoNorm);
  CHECK_FALSE(a.use_bottleneck_attention);
  CHECK(a.key_query_shared_bottleneck);
  // Sizes are not options.
  CHECK(read->given_options ==
        std::set<std::string>{"embedding_size", "trigram_input", "normalization_type",
                              "use_bottleneck_attention", "key_query_shared_bottleneck"});
  CHECK(read->sizes == std::map<std::string, int64_t>{{"vocab_size", 99}});
  StudentArch b;
  copy_student_options(a, b);
  CHECK(b.embedding_size == 32);
  CHECK(b.normalization == Normalization::kNoNorm);
  CHECK(b.vocab_size == 30522);  // copy_student_options copies no size
  auto field = [](const char* json) {
    return read_student_section(nlohmann::json::parse(json), "settings.student").status().field();
  };
  CHECK(field(R"({"embedding_size": -1})") == "settings.student.embedding_size");
  CHECK(field(R"({"embedding_size": 1.5})") == "settings.student.embedding_size");
  CHECK(field(R"({"trigram_input": 1})") == "settings.student.trigram_input");
  CHECK(field(R"({"normalization_type": "batch_norm"})") == "settings.student.normalization_type");
  CHECK(is_student_option("trigram_input"));
  CHECK_FALSE(is_student_option("hidden_size"));
}

TEST_CASE("student arch: cost grows with every dimension", "[student]") {
  const StudentArch base = mobilebert_like();
  for (int64_t StudentArch::*field :
       {&StudentArch::num_blocks, &StudentArch::hidden_size, &StudentArch::bottleneck_size,
        &StudentArch::intermediate_size, &StudentArch::num_stacked_ffn}) {
    StudentArch bigger = base;
    bigger.*field *= 2;
    CHECK(parameter_count(bigger) > parameter_count(base));
    CHECK(forward_flops(bigger, 128) > forward_flops(base, 128));
  }
  CHECK(forward_flops(base, 256) > forward_flops(base, 128));
}

TEST_CASE("student arch: invalid architectures name the factor", "[student]") {
  StudentArch a = mobilebert_like();
  a.num_heads = 3;
  CHECK(validate(a).field() == "num_heads");
  a = mobilebert_like();
  a.hidden_size = 0;
  CHECK(validate(a).field() == "hidden_size");
  CHECK(validate(mobilebert_like()));
  auto from = student_from_factors({{"num_blocks", 6}, {"hidden_size", 256}}, mobilebert_like());
  CHECK(from.num_blocks == 6);
  CHECK(from.hidden_size == 256);
  CHECK(from.bottleneck_size == 128);
}

TEST_CASE("student arch: sizes beyond the limits are refused, costs never overflow", "[student]") {
  StudentArch a = mobilebert_like();
  a.intermediate_size = kMaxStudentWidth + 1;
  CHECK(validate(a).code() == Code::kInvalidArgument);
  CHECK(validate(a).field() == "intermediate_size");
  a = mobilebert_like();
  a.num_blocks = kMaxStudentDepth;
  CHECK(validate(a));

  // The fuzzer's architecture (F6): sizes near 2^31 overflowed int64.
  a = mobilebert_like();
  a.hidden_size = a.bottleneck_size = a.intermediate_size = int64_t{1} << 31;
  a.num_blocks = a.num_stacked_ffn = int64_t{1} << 31;
  CHECK(parameter_count(a) == INT64_MAX);
  CHECK(block_parameters(a) == INT64_MAX);
  a.hidden_size = a.bottleneck_size = a.intermediate_size = INT64_MAX;
  a.num_blocks = a.num_stacked_ffn = a.vocab_size = INT64_MAX;
  CHECK(parameter_count(a) == INT64_MAX);

  // At the limits the count is exact (no saturation) and positive.
  a = mobilebert_like();
  a.hidden_size = a.bottleneck_size = a.intermediate_size = kMaxStudentWidth;
  a.num_blocks = a.num_stacked_ffn = kMaxStudentDepth;
  REQUIRE(validate(a));
  CHECK(parameter_count(a) > 0);
  CHECK(parameter_count(a) < INT64_MAX);

  // Values no int64 holds become 0, which validate() refuses.
  auto huge = student_from_factors({{"hidden_size", 1e78}, {"num_blocks", -1e300}});
  CHECK(huge.hidden_size == 0);
  CHECK(huge.num_blocks == 0);
  CHECK(validate(huge).code() == Code::kInvalidArgument);
}

TEST_CASE("read_student_section: the one reader of settings.student", "[student_arch]") {
  StudentArch a;
  auto student = nlohmann::json::parse(
      R"({"vocab_size": 238, "max_positions": 64, "embedding_size": 16, "trigram_input": true,
          "num_blocks": 3})");
  auto read = read_student_section(student, "settings.student");
  REQUIRE(read);
  read->apply(a);
  CHECK(a.vocab_size == 238);
  CHECK(a.max_positions == 64);
  CHECK(a.type_vocab_size == 2);  // left out: kept
  CHECK(a.embedding_size == 16);
  CHECK(a.trigram_input);
  CHECK(a.num_blocks == 3);          // a factor the design space leaves out, fixed here
  CHECK(a.hidden_size == 0);         // left out: kept
  CHECK(to_json(*read) == student);  // written back as given

  Status bad = read_student_section(nlohmann::json::parse(R"({"vocab_size": 30.5})"), "s").status();
  CHECK(bad.code() == Code::kInvalidArgument);
  CHECK(bad.field() == "s.vocab_size");
  Status big = read_student_section(nlohmann::json::parse(R"({"type_vocab_size": 4294967296})"),
                                    "settings.student")
                   .status();
  CHECK(big.field() == "settings.student.type_vocab_size");
  CHECK(read_student_section(nlohmann::json::parse(R"({"type_vocab_size": 2147483648})"),
                             "settings.student"));  // 2^31: the largest
  Status option =
      read_student_section(nlohmann::json::parse(R"({"trigram_input": 1})"), "settings.student")
          .status();
  CHECK(option.field() == "settings.student.trigram_input");
  // Not an object: refused, as the daemon refuses it at submit.
  CHECK(read_student_section(nlohmann::json::array(), "settings.student").status().field() ==
        "settings.student");
}
