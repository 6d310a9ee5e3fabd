// The daemon's checks of a Regular trial's artifacts (no LibTorch): a
// well-formed student passes, every kind of forged or broken file is named.
#include <catch2/catch.hpp>
#include <fstream>

#include "autodistill/daemon/artifact_check.hpp"
#include "autodistill/wire/digest.hpp"
#include "temp_dir.hpp"

using namespace autodistill;
using namespace autodistill::daemon;

namespace {

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::string safetensors(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\x02');
}

const std::string kGoodHeader =
    R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
    R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})";

struct Student {
  testing::TempDir dir;
  std::vector<DeliveredFile> files;

  DeliveredFile& add(const std::string& name, const std::string& bytes) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    files.push_back(DeliveredFile{name, wire::sha256_hex(bytes), bytes.size(), path});
    return files.back();
  }
  // A manifest recording every file added so far.
  DeliveredFile& add_manifest() {
    std::string listed;
    for (const DeliveredFile& f : files) {
      listed += (listed.empty() ? "" : ",") + std::string("\"") + f.name + R"(":{"sha256":")" +
                f.digest + R"(","size":)" + std::to_string(f.announced_size) + "}";
    }
    return add("manifest.json", R"({"format":"autodistill-student","files":{)" + listed + "}}");
  }
};

Status check_weights(const std::string& bytes) {
  Student s;
  s.add("model.safetensors", bytes);
  return check_safetensors_file(s.files[0].path);
}

}  // namespace

TEST_CASE("artifact check: a well-formed student passes", "[artifacts]") {
  Student s;
  s.add("model.safetensors", safetensors(kGoodHeader, 32));
  s.add("config.json", "{}");
  s.add("vocab.txt", "[PAD]\n[UNK]\n");
  s.add_manifest();
  CHECK(check_student_artifacts(s.files).is_ok());
  CHECK(check_student_artifacts({}).is_ok());  // no artifacts: nothing delivered
}

TEST_CASE("artifact check: broken safetensors headers are named", "[artifacts]") {
  struct Case {
    std::string bytes;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"short", "8-byte"},
      {le64(uint64_t{1} << 40) + "{}", "exceeds"},
      {le64(100) + "{}", "only 2 bytes follow"},
      {safetensors("[1, 2]", 0), "not a JSON object"},
      {safetensors(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4), "dtype"},
      {safetensors(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
       "invalid dimension"},
      {safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "need 8"},
      {safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
       "outside the file"},
      {safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       "outside the file"},
      {safetensors(R"({"a":{"dtype":"F32","shape":[4611686018427387904,8],)"
                   R"("data_offsets":[0,4]}})",
                   4),
       "impossibly large"},
      {safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   12),
       "overlap"},
      {safetensors(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "data_offsets"},
      {safetensors(std::string(100, '[') + std::string(100, ']'), 0), "nests deeper"},
  };
  for (const Case& c : cases) {
    Status s = check_weights(c.bytes);
    INFO(s.to_string() << " (expected \"" << c.says << "\")");
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == "artifacts.model.safetensors");
    CHECK(s.message().find(c.says) != std::string::npos);
  }
}

TEST_CASE("artifact check: the manifest must record every delivered file's digest", "[artifacts]") {
  SECTION("a file whose bytes differ from the recorded digest") {
    Student s;
    s.add("model.safetensors", safetensors(kGoodHeader, 32));
    s.add("vocab.txt", "[PAD]\n");
    s.add_manifest();
    // The vocabulary delivered is not the one the manifest recorded.
    s.files[1].digest = wire::sha256_hex("[EVIL]\n");
    Status st = check_student_artifacts(s.files);
    INFO(st.to_string());
    CHECK(st.field() == "artifacts.manifest.json");
    CHECK(st.message().find("vocab.txt.sha256") != std::string::npos);
  }
  SECTION("a file the manifest does not list") {
    Student s;
    s.add_manifest();
    s.add("model.safetensors", safetensors(kGoodHeader, 32));
    Status st = check_student_artifacts(s.files);
    INFO(st.to_string());
    CHECK(st.message().find("does not record \"model.safetensors\"") != std::string::npos);
  }
  SECTION("no files map, a size that lies, a manifest that is not JSON") {
    for (const std::string& manifest :
         {std::string(R"({"format":"autodistill-student"})"), std::string("not json"),
          std::string(R"({"files":{"model.safetensors":{"sha256":"SHA","size":1}}})")}) {
      Student s;
      auto& w = s.add("model.safetensors", safetensors(kGoodHeader, 32));
      std::string text = manifest;
      if (auto at = text.find("SHA"); at != std::string::npos) text.replace(at, 3, w.digest);
      s.add("manifest.json", text);
      Status st = check_student_artifacts(s.files);
      INFO(manifest << ": " << st.to_string());
      REQUIRE_FALSE(st.is_ok());
      CHECK(st.field() == "artifacts.manifest.json");
    }
  }
  SECTION("an announced size that is not the blob's, a missing weights file") {
    Student s;
    s.add("model.safetensors", safetensors(kGoodHeader, 32));
    s.add_manifest();
    s.files[0].announced_size += 1;
    Status st = check_student_artifacts(s.files);
    CHECK(st.field() == "artifacts.model.safetensors");
    CHECK(st.message().find("announced as") != std::string::npos);
    Student only_manifest;
    only_manifest.add_manifest();
    CHECK(check_student_artifacts(only_manifest.files).message().find("missing") !=
          std::string::npos);
  }
}
