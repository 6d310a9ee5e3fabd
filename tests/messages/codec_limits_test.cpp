// decode() bounds what a frame may unpack to (aliased offsets, F4), refuses
// misaligned 8-byte vectors (F2) and still takes every honest large frame.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "autodistill/wire/codec.hpp"

using namespace autodistill;
namespace wire = autodistill::wire;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A Submit whose spec lists `factors` offsets that all point at ONE Factor,
// whose categories list `labels` offsets that all point at ONE string of
// `label_bytes`: the frame stays small, the unpacked object is
// factors x labels x label_bytes.
std::string aliased_submit(int factors, int labels, size_t label_bytes) {
  flatbuffers::FlatBufferBuilder b;
  auto label = b.CreateString(std::string(label_bytes, 'x'));
  std::vector<flatbuffers::Offset<flatbuffers::String>> label_refs(labels, label);
  auto categories = b.CreateVector(label_refs);
  auto name = b.CreateString("f");
  auto factor = wire::CreateFactor(b, name, wire::FactorKind::Categorical, 0, categories);
  std::vector<flatbuffers::Offset<wire::Factor>> factor_refs(factors, factor);
  auto factor_vec = b.CreateVector(factor_refs);
  auto spec = wire::CreateStudySpec(b, b.CreateString("s"), wire::StudyKind::External, factor_vec);
  auto submit = wire::CreateSubmit(b, b.CreateString("k"), spec);
  auto env =
      wire::CreateEnvelope(b, wire::kProtocolVersion, 1, wire::Message::Submit, submit.Union());
  wire::FinishEnvelopeBuffer(b, env);
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace

TEST_CASE("codec: a frame whose shared offsets unpack to gigabytes is refused", "[codec][limits]") {
  // 4096 x 4096 x 4 KiB = 64 GiB once unpacked, from a frame of ~50 KiB.
  const std::string frame = aliased_submit(4096, 4096, 4096);
  CHECK(frame.size() < 64u * 1024);
  REQUIRE(wire::verify(frame.data(), frame.size()));  // the Verifier accepts it
  auto env = wire::decode(frame.data(), frame.size());
  REQUIRE_FALSE(env);
  CHECK(env.status().code() == Code::kResourceExhausted);
  CHECK_THAT(env.status().message(), Catch::Contains("shared offsets"));
}

TEST_CASE("codec: mild sharing within the budget still decodes", "[codec][limits]") {
  const std::string frame = aliased_submit(4, 4, 16);
  auto env = wire::decode(frame.data(), frame.size());
  REQUIRE(env);
  const auto* submit = env->body.AsSubmit();
  REQUIRE(submit);
  REQUIRE(submit->spec->factors.size() == 4);
  CHECK(submit->spec->factors[3]->categories.size() == 4);
  CHECK(submit->spec->factors[3]->categories[2] == std::string(16, 'x'));
}

TEST_CASE("codec: an honest large frame decodes", "[codec][limits]") {
  // A StudyReply as the daemon sends it for a big study: 5000 trials, each
  // with parameters, objectives and metrics (many small tables and strings).
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>();
  reply.study->study_id = 7;
  for (uint64_t i = 0; i < 5000; ++i) {
    auto t = std::make_unique<wire::TrialInfoT>();
    t->trial_id = i + 1;
    for (const char* p : {"hidden_size", "bottleneck_size", "num_heads", "intermediate_size"}) {
      auto v = std::make_unique<wire::ParamValueT>();
      v->name = p;
      v->number = static_cast<double>(i);
      t->params.push_back(std::move(v));
    }
    auto m = std::make_unique<wire::MetricT>();
    m->name = "accuracy";
    t->objectives.push_back(std::move(m));
    t->metrics.push_back(std::make_unique<wire::MetricT>());
    t->worker_id = "";
    reply.trials.push_back(std::move(t));
  }
  reply.study->pareto = std::vector<uint64_t>(1000, 3);
  const std::string frame = wire::encode_message(9, std::move(reply));
  auto env = wire::decode(frame.data(), frame.size());
  REQUIRE(env);
  REQUIRE(env->body.AsStudyReply());
  CHECK(env->body.AsStudyReply()->trials.size() == 5000);
  CHECK(env->body.AsStudyReply()->study->pareto.size() == 1000);
}

TEST_CASE("codec: the fuzzers' reproducers are refused cleanly", "[codec][limits]") {
  SECTION("aliased offsets: 12 KiB that unpack to 4 GiB") {
    const std::string frame =
        read_file(AUTODISTILL_FUZZ_CORPUS "/envelope/regression-f4-aliased-unpack-4gib");
    auto env = wire::decode(frame.data(), frame.size());
    REQUIRE_FALSE(env);
    CHECK(env.status().code() == Code::kResourceExhausted);
  }
  SECTION("a vector of uint64 at an odd multiple of 4") {
    const std::string frame =
        read_file(AUTODISTILL_FUZZ_CORPUS "/envelope/regression-f2-misaligned-uint64-vector");
    auto env = wire::decode(frame.data(), frame.size());
    REQUIRE_FALSE(env);
    CHECK(env.status().code() == Code::kMalformed);
    CHECK_THAT(env.status().message(), Catch::Contains("misaligned"));
  }
}

TEST_CASE("codec: a frame at an unaligned address decodes from an aligned copy",
          "[codec][limits]") {
  wire::HelloT hello;
  hello.worker_id = "w";
  hello.studies = {1, 2, 3};
  const std::string frame = wire::encode_message(5, hello);
  std::vector<char> storage(frame.size() + 8);
  char* base = storage.data();
  while (reinterpret_cast<uintptr_t>(base) % 8 != 4) ++base;
  std::memcpy(base, frame.data(), frame.size());
  auto env = wire::decode(base, frame.size());
  REQUIRE(env);
  REQUIRE(env->body.AsHello());
  CHECK(env->body.AsHello()->studies == std::vector<uint64_t>{1, 2, 3});
}
