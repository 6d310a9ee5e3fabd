#include <catch2/catch.hpp>

#include "autodistill/wire/codec.hpp"

using namespace autodistill;
namespace wire = autodistill::wire;

TEST_CASE("codec: an envelope round-trips through encode and decode", "[codec]") {
  wire::HelloT hello;
  hello.worker_id = "host-a";
  hello.role = wire::Role::Probe;
  hello.slots = 4;
  hello.studies = {1, 2};
  std::string bytes = wire::encode_message(42, hello);
  auto env = wire::decode(bytes.data(), bytes.size());
  REQUIRE(env);
  CHECK(env->version == wire::kProtocolVersion);
  CHECK(env->request_id == 42);
  REQUIRE(env->body.AsHello());
  CHECK(env->body.AsHello()->worker_id == "host-a");
  CHECK(env->body.AsHello()->role == wire::Role::Probe);
  CHECK(env->body.AsHello()->studies == std::vector<uint64_t>{1, 2});
}

TEST_CASE("codec: bad buffers are refused before anything reads them", "[codec]") {
  wire::PullT pull;
  pull.credits = 3;
  const std::string good = wire::encode_message(1, pull);

  SECTION("truncated at every length") {
    for (size_t n = 0; n < good.size(); ++n) {
      auto env = wire::decode(good.data(), n);
      CHECK_FALSE(env);
      CHECK(env.status().code() == Code::kMalformed);
    }
  }
  SECTION("wrong file identifier") {
    std::string bad = good;
    bad[4] = 'X';
    auto env = wire::decode(bad.data(), bad.size());
    CHECK(env.status().code() == Code::kMalformed);
    CHECK(env.status().message().find("identifier") != std::string::npos);
  }
  SECTION("garbage with the right identifier") {
    std::string bad(64, '\xff');
    bad.replace(4, 4, "ADS1");
    CHECK(wire::decode(bad.data(), bad.size()).status().code() == Code::kMalformed);
  }
  SECTION("another protocol version") {
    wire::EnvelopeT env;
    env.version = 99;
    env.body.Set(pull);
    flatbuffers::FlatBufferBuilder b;
    wire::FinishEnvelopeBuffer(b, wire::Envelope::Pack(b, &env));
    auto decoded = wire::decode(b.GetBufferPointer(), b.GetSize());
    CHECK(decoded.status().code() == Code::kUnsupportedVersion);
    CHECK(decoded.status().field() == "version");
  }
  SECTION("no body") {
    wire::EnvelopeT env;
    env.version = wire::kProtocolVersion;
    std::string bytes = wire::encode(env);
    CHECK(wire::decode(bytes.data(), bytes.size()).status().field() == "body");
  }
  SECTION("oversized") {
    std::string big(wire::kMaxMessageBytes + 1, '\0');
    CHECK(wire::decode(big.data(), big.size()).status().code() == Code::kResourceExhausted);
  }
}

TEST_CASE("codec: Status survives the wire as an Error", "[codec]") {
  Status s(Code::kInvalidArgument, "duplicate value 4", "spec.factors[0].values[2]");
  std::string bytes = wire::encode_error(9, s);
  auto env = wire::decode(bytes.data(), bytes.size());
  REQUIRE(env);
  Status back = wire::from_wire(env->body.AsError());
  CHECK(back.code() == s.code());
  CHECK(back.message() == s.message());
  CHECK(back.field() == s.field());
}
