// safetensors: round trips in F32/F16/BF16, half conversions, and corrupt or
// truncated files rejected with a clear error before any data is read.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "autodistill/model/safetensors.hpp"
#include "autodistill/model/tensor_io.hpp"

using autodistill::Code;
using autodistill::Status;
using namespace autodistill::model;

namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("autodistill_st_" + std::to_string(::getpid()) + "_" + name);
}

// A file with this header text and `data_bytes` zero bytes of data.
std::filesystem::path raw_file(const std::string& name, const std::string& header,
                               size_t data_bytes, uint64_t declared = 0) {
  const auto path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = declared != 0 ? declared : header.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << header << std::string(data_bytes, '\0');
  return path;
}

Status open_status(const std::filesystem::path& path) {
  auto file = SafetensorsFile::open(path);
  std::filesystem::remove(path);
  return file.status();
}

}  // namespace

TEST_CASE("safetensors round trip in F32, F16 and BF16") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor a = at::randn({3, 4}, gen);
  const at::Tensor b = at::randn({5}, gen);
  const at::Tensor empty = at::zeros({0, 7});
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    const auto path = temp_path(std::string("round_") + dtype_name(dtype));
    REQUIRE(save_tensors(path, {{"layer.a", a}, {"b", b}, {"empty", empty}}, dtype,
                         {{"format", "pt"}}));
    auto file = SafetensorsFile::open(path);
    REQUIRE(file);
    REQUIRE(file->entries().size() == 3);
    CHECK(file->entries()[0].name == "b");  // sorted by name
    CHECK(file->metadata().at("format") == "pt");
    CHECK(file->find("layer.a")->dtype == dtype);
    auto ra = read_tensor(*file, "layer.a");
    REQUIRE(ra);
    const double tolerance = dtype == DType::kF32 ? 0.0 : dtype == DType::kF16 ? 1e-3 : 1e-2;
    CHECK(ra->sizes() == a.sizes());
    CHECK((*ra - a).abs().max().item<double>() <= tolerance * 4);
    if (dtype != DType::kF32) {
      // Same rounding as LibTorch's own conversion.
      const auto type = dtype == DType::kF16 ? at::kHalf : at::kBFloat16;
      CHECK(at::equal(*ra, a.to(type).to(at::kFloat)));
    } else {
      CHECK(at::equal(*ra, a));
    }
    auto all = read_float_tensors(*file);
    REQUIRE(all);
    CHECK(all->size() == 3);
    CHECK(all->at("empty").sizes() == empty.sizes());
    std::filesystem::remove(path);
  }
}

TEST_CASE("half and bfloat16 decode exactly as LibTorch does, for every bit pattern") {
  const at::Tensor bits = at::arange(-32768, 32768, at::kShort);
  const at::Tensor halves = bits.view(at::kHalf).to(at::kFloat).contiguous();
  const at::Tensor bfloats = bits.view(at::kBFloat16).to(at::kFloat).contiguous();
  const int16_t* b = bits.data_ptr<int16_t>();
  const float* want_h = halves.data_ptr<float>();
  const float* want_f = bfloats.data_ptr<float>();
  int half_mismatches = 0, bfloat_mismatches = 0;
  for (int64_t i = 0; i < 65536; ++i) {
    const auto pattern = static_cast<uint16_t>(b[i]);
    const float h = half_to_float(pattern), f = bfloat16_to_float(pattern);
    half_mismatches += !(h == want_h[i] || (std::isnan(h) && std::isnan(want_h[i])));
    bfloat_mismatches += !(f == want_f[i] || (std::isnan(f) && std::isnan(want_f[i])));
  }
  CHECK(half_mismatches == 0);
  CHECK(bfloat_mismatches == 0);
}

TEST_CASE("safetensors rejects corrupt and truncated files") {
  const std::string good = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  REQUIRE(open_status(raw_file("good", good, 16)).is_ok());

  SECTION("truncated data") {
    Status s = open_status(raw_file("short_data", good, 12));
    CHECK(s.code() == Code::kMalformed);
    CHECK(s.field() == "w");
    CHECK_THAT(s.message(), Catch::Contains("outside the data section"));
  }
  SECTION("truncated header") {
    Status s = open_status(raw_file("short_header", good, 0, good.size() + 100));
    CHECK(s.code() == Code::kMalformed);
    CHECK_THAT(s.message(), Catch::Contains("truncated"));
  }
  SECTION("shorter than the length prefix") {
    const auto path = temp_path("tiny");
    std::ofstream(path, std::ios::binary) << "abc";
    CHECK(open_status(path).code() == Code::kMalformed);
  }
  SECTION("absurd header length") {
    CHECK(open_status(raw_file("huge", good, 16, 1ull << 40)).code() == Code::kMalformed);
  }
  SECTION("not JSON") {
    CHECK(open_status(raw_file("json", "{\"w\": [", 16)).code() == Code::kMalformed);
    CHECK(open_status(raw_file("array", "[1, 2]", 0)).code() == Code::kMalformed);
    // Bounded JSON (issue #11): nesting and numbers beyond a double.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    Status nested = open_status(raw_file("deep", "{\"w\": " + deep + "}", 0));
    CHECK(nested.code() == Code::kMalformed);
    CHECK_THAT(nested.message(), Catch::Contains("deeper than 64"));
    CHECK(open_status(raw_file("overflow",
                               R"({"w":{"dtype":"U8","shape":[1e999],"data_offsets":[0,4]}})", 4))
              .code() == Code::kMalformed);
  }
  SECTION("byte count disagrees with the shape") {
    Status s = open_status(
        raw_file("count", R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", 16));
    CHECK(s.code() == Code::kMalformed);
    CHECK_THAT(s.message(), Catch::Contains("need 24"));
  }
  SECTION("unknown dtype, bad shape, bad offsets") {
    CHECK(open_status(
              raw_file("dtype", R"({"w":{"dtype":"F8","shape":[4],"data_offsets":[0,4]}})", 4))
              .code() == Code::kMalformed);
    CHECK(
        open_status(raw_file("neg", R"({"w":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}})", 4))
            .code() == Code::kMalformed);
    CHECK(
        open_status(raw_file("rev", R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4))
            .code() == Code::kMalformed);
    CHECK(open_status(raw_file("noofs", R"({"w":{"dtype":"U8","shape":[4]}})", 4)).code() ==
          Code::kMalformed);
    CHECK(
        open_status(
            raw_file(
                "overflow",
                R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4))
            .code() == Code::kMalformed);
  }
  SECTION("overlapping tensors") {
    Status s = open_status(raw_file(
        "overlap",
        R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
        6));
    CHECK(s.code() == Code::kMalformed);
    CHECK_THAT(s.message(), Catch::Contains("overlap"));
  }
  SECTION("non-string metadata") {
    CHECK(open_status(raw_file("meta", R"({"__metadata__":{"n":1}})", 0)).code() ==
          Code::kMalformed);
  }
  SECTION("missing file") {
    CHECK(SafetensorsFile::open(temp_path("absent")).status().code() == Code::kNotFound);
  }
}

TEST_CASE("safetensors reports a missing tensor and a non-float dtype") {
  const auto path =
      raw_file("ids", R"({"position_ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16);
  auto file = SafetensorsFile::open(path);
  REQUIRE(file);
  auto missing = read_tensor(*file, "bert.pooler.dense.weight");
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().field() == "bert.pooler.dense.weight");
  CHECK(read_tensor(*file, "position_ids").status().code() == Code::kInvalidArgument);
  auto floats = read_float_tensors(*file);
  REQUIRE(floats);
  CHECK(floats->empty());
  std::filesystem::remove(path);
}

TEST_CASE("write_safetensors rejects bad names") {
  const float x = 1.0f;
  CHECK(write_safetensors(temp_path("dup"),
                          {{"a", DType::kF32, {1}, &x}, {"a", DType::kF32, {1}, &x}})
            .code() == Code::kInvalidArgument);
  CHECK(write_safetensors(temp_path("meta"), {{"__metadata__", DType::kF32, {1}, &x}}).code() ==
        Code::kInvalidArgument);
}
