// The checkpoint bundle (ustar): deterministic packing, round trips, tar
// compatibility both ways, and corrupt or hostile archives refused.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "autodistill/wire/bundle.hpp"
#include "autodistill/wire/digest.hpp"

using autodistill::Code;
using namespace autodistill::wire;
namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("autodistill_bundle_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  return p;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A checkpoint-like directory: a binary file of 513 bytes, an empty file, a
// nested file and a name longer than 100 bytes.
fs::path sample(const std::string& name) {
  const fs::path dir = fresh(name);
  std::string binary(513, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7);
  write(dir / "model.safetensors", binary);
  write(dir / "config.json", "{\"hidden_size\": 64}\n");
  write(dir / "empty.txt", "");
  write(dir / "sub" / "vocab.txt", "[PAD]\n[UNK]\n");
  write(dir / std::string(60, 'd') / std::string(90, 'f'), "long name");
  return dir;
}

}  // namespace

TEST_CASE("bundles round trip and pack deterministically") {
  const fs::path dir = sample("src");
  const fs::path a = fresh("a.tar"), b = fresh("b.tar"), out = fresh("out");
  REQUIRE(pack_directory(dir, a));
  CHECK(fs::file_size(a) % 512 == 0);
  CHECK(is_bundle(a));
  // Same content, later modification times: the same bytes.
  fs::last_write_time(dir / "config.json", fs::file_time_type::clock::now());
  REQUIRE(pack_directory(dir, b));
  CHECK(*sha256_file(a.string()) == *sha256_file(b.string()));

  REQUIRE(unpack_bundle(a, out));
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const fs::path rel = fs::relative(entry.path(), dir);
    CHECK(read(out / rel) == read(entry.path()));
  }
  CHECK(fs::file_size(out / "empty.txt") == 0);
  fs::remove_all(dir);
  fs::remove_all(out);
  fs::remove(a);
  fs::remove(b);
}

TEST_CASE("bundles interoperate with tar") {
  if (std::system("tar --version >/dev/null 2>&1") != 0) {
    WARN("SKIPPED: no tar on this machine");
    return;
  }
  const fs::path dir = sample("tarsrc");
  const fs::path ours = fresh("ours.tar"), theirs = fresh("theirs.tar");
  const fs::path by_tar = fresh("by_tar"), by_us = fresh("by_us");
  REQUIRE(pack_directory(dir, ours));
  fs::create_directories(by_tar);
  REQUIRE(std::system(("tar -xf " + ours.string() + " -C " + by_tar.string()).c_str()) == 0);
  CHECK(read(by_tar / "model.safetensors") == read(dir / "model.safetensors"));
  CHECK(read(by_tar / std::string(60, 'd') / std::string(90, 'f')) == "long name");
  // tar's own archive of the directory, "./" prefixes and all; GNU and pax formats.
  for (const char* format : {"gnu", "pax", "ustar"}) {
    fs::remove_all(by_us);
    REQUIRE(std::system(("tar --format=" + std::string(format) + " -cf " + theirs.string() +
                         " -C " + dir.string() + " .")
                            .c_str()) == 0);
    INFO("format " << format);
    REQUIRE(unpack_bundle(theirs, by_us));
    CHECK(read(by_us / "sub" / "vocab.txt") == "[PAD]\n[UNK]\n");
    CHECK(read(by_us / std::string(60, 'd') / std::string(90, 'f')) == "long name");
  }
  for (const auto& p : {dir, by_tar, by_us}) fs::remove_all(p);
  fs::remove(ours);
  fs::remove(theirs);
}

TEST_CASE("corrupt, truncated and hostile bundles are refused") {
  const fs::path dir = sample("bad");
  const fs::path tar = fresh("bad.tar"), out = fresh("bad_out");
  REQUIRE(pack_directory(dir, tar));
  const std::string good = read(tar);
  auto unpack = [&](const std::string& bytes) {
    const fs::path path = fresh("mutated.tar");
    write(path, bytes);
    fs::remove_all(out);
    auto s = unpack_bundle(path, out);
    fs::remove(path);
    return s;
  };
  SECTION("truncated") {
    // The archive sorts "config.json" first; cut inside the next file's data.
    auto s = unpack(good.substr(0, 512 + 512 + 512 + 100));
    CHECK(s.code() == Code::kMalformed);
    CHECK_THAT(s.message(), Catch::Contains("truncated"));
    CHECK(unpack(good.substr(0, 300)).code() == Code::kMalformed);
  }
  SECTION("a flipped header byte breaks the checksum") {
    std::string bytes = good;
    bytes[10] ^= 0x20;
    auto s = unpack(bytes);
    CHECK(s.code() == Code::kMalformed);
    CHECK_THAT(s.message(), Catch::Contains("checksum"));
  }
  SECTION("not a tar file at all") {
    CHECK(unpack(std::string(2048, 'x')).code() == Code::kMalformed);
    CHECK(unpack("").code() == Code::kMalformed);
    CHECK(unpack_bundle(fresh("absent.tar"), out).code() == Code::kNotFound);
  }
  SECTION("paths escaping the directory, links") {
    const fs::path evil = fresh("evil");
    write(evil / "x", "x");
    fs::create_directories(evil / "inner");
    const fs::path evil_tar = fresh("evil.tar");
    if (std::system("tar --version >/dev/null 2>&1") == 0) {
      REQUIRE(std::system(("tar -cf " + evil_tar.string() + " -C " + evil.string() +
                           " --transform=s,x,../escape, x")
                              .c_str()) == 0);
      auto s = unpack_bundle(evil_tar, out);
      CHECK(s.code() == Code::kMalformed);
      CHECK_THAT(s.message(), Catch::Contains("unsafe"));
      CHECK_FALSE(fs::exists(out.parent_path() / "escape"));
      REQUIRE(std::system(
                  ("tar -cf " + evil_tar.string() + " -P " + (evil / "x").string()).c_str()) == 0);
      CHECK(unpack_bundle(evil_tar, out).code() == Code::kMalformed);
      fs::create_symlink("/etc/passwd", evil / "inner" / "link");
      REQUIRE(std::system(
                  ("tar -cf " + evil_tar.string() + " -C " + evil.string() + " inner").c_str()) ==
              0);
      CHECK(unpack_bundle(evil_tar, out).code() == Code::kMalformed);
    }
    // Packing refuses symlinks too.
    fs::remove_all(evil / "inner");
    fs::create_directories(evil / "inner");
    fs::create_symlink("/etc/passwd", evil / "inner" / "link");
    CHECK(pack_directory(evil, evil_tar).code() == Code::kInvalidArgument);
    fs::remove_all(evil);
    fs::remove(evil_tar);
  }
  SECTION("random corruption never crashes") {
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
      std::string bytes = good;
      for (int k = 0; k < 4; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      bytes.resize(rng() % (bytes.size() + 1));
      (void)unpack(bytes);  // any Status, but no crash and nothing outside `out`
    }
    CHECK(fs::exists(dir));
  }
  fs::remove_all(dir);
  fs::remove_all(out);
  fs::remove(tar);
  CHECK(pack_directory(fresh("no_such_dir"), tar).code() == Code::kNotFound);
}
