#include <catch2/catch.hpp>

#include "autodistill/student_arch.hpp"

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
  // embeddings (10+5+2)*4 + 8 = 76
  // block: in 4*2+2=10, attention 4*(4+2)+4=28, ffn 6+3+6+2+4=21, out 8+4+8=20 -> 79
  // heads: mlm 16+4+8+10=38, nsp 16+4+8+2=30 -> 68
  CHECK(parameter_count(a) == 76 + 79 + 68);
}

TEST_CASE("student arch: a MobileBERT-like student is in MobileBERT's size range", "[student]") {
  // MobileBERT (24 blocks, H 512, B 128, 4 stacked FFNs) has 25.3M parameters;
  // this template omits its embedding factorization, so it is somewhat larger.
  const double params = static_cast<double>(parameter_count(mobilebert_like()));
  CHECK(params > 20e6);
  CHECK(params < 45e6);
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
