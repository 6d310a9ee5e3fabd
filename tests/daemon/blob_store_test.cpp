#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "autodistill/daemon/blob_store.hpp"
#include "autodistill/wire/digest.hpp"
#include "temp_dir.hpp"

using namespace autodistill;
using namespace autodistill::daemon;

namespace {
std::vector<uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}
}  // namespace

TEST_CASE("blob store: chunked upload publishes a verified blob", "[blobs]") {
  testing::TempDir dir;
  auto store = BlobStore::open(dir.path(), 1 << 20).value();
  const std::string content = "hello, content-addressed world";
  const std::string digest = wire::sha256_hex(content);
  bool published = false;
  REQUIRE(store.append(digest, 0, content.size(), bytes(content.substr(0, 10)), &published));
  CHECK_FALSE(published);
  CHECK(store.partial_size(digest) == 10);
  CHECK_FALSE(store.contains(digest));

  // Out-of-order chunk: clear error naming the field, nothing changes.
  Status s = store.append(digest, 5, content.size(), bytes("xx"), &published);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.field() == "offset");
  CHECK(store.partial_size(digest) == 10);

  REQUIRE(store.append(digest, 10, content.size(), bytes(content.substr(10)), &published));
  CHECK(published);
  CHECK(store.contains(digest));
  CHECK(store.partial_size(digest) == 0);

  std::vector<uint8_t> out;
  uint64_t total = 0;
  REQUIRE(store.read(digest, 7, 5, &out, &total));
  CHECK(total == content.size());
  CHECK(std::string(out.begin(), out.end()) == content.substr(7, 5));
}

TEST_CASE("blob store: bytes that do not match the digest are discarded", "[blobs]") {
  testing::TempDir dir;
  auto store = BlobStore::open(dir.path(), 1 << 20).value();
  const std::string digest = wire::sha256_hex("the real content");
  bool published = false;
  Status s = store.append(digest, 0, 4, bytes("fake"), &published);
  CHECK(s.code() == Code::kDigestMismatch);
  CHECK_FALSE(published);
  CHECK_FALSE(store.contains(digest));
  CHECK(store.partial_size(digest) == 0);
}

TEST_CASE("blob store: limits and bad digests are refused", "[blobs]") {
  testing::TempDir dir;
  auto store = BlobStore::open(dir.path(), 8).value();
  bool published = false;
  const std::string digest = wire::sha256_hex("0123456789");
  CHECK(store.append(digest, 0, 10, bytes("0123456789"), &published).code() ==
        Code::kResourceExhausted);
  CHECK(store.append("not-a-digest", 0, 1, bytes("x"), &published).code() ==
        Code::kInvalidArgument);
  std::vector<uint8_t> out;
  uint64_t total;
  CHECK(store.read(wire::sha256_hex("absent"), 0, 1, &out, &total).code() == Code::kNotFound);
}

TEST_CASE("blob store: abandoned uploads expire, files and directories are private", "[blobs]") {
  testing::TempDir dir;
  const mode_t old = ::umask(0);  // the loosest umask: modes come from the store alone
  auto store = BlobStore::open(dir.path() + "/blobs", 1 << 20).value();
  const std::string digest = wire::sha256_hex("a whole blob");
  bool published = false;
  REQUIRE(store.append(digest, 0, 12, bytes("a whole blob"), &published));
  const std::string half = wire::sha256_hex("half of something");
  REQUIRE(store.append(half, 0, 17, bytes("half"), &published));
  ::umask(old);
  auto mode = [](const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
  };
  CHECK(mode(dir.path() + "/blobs") == 0700);
  CHECK(mode(dir.path() + "/blobs/partial") == 0700);
  CHECK(mode(dir.path() + "/blobs/" + digest.substr(0, 2)) == 0700);
  CHECK(mode(store.path_of(digest)) == 0600);
  CHECK(mode(dir.path() + "/blobs/partial/" + half) == 0600);
  CHECK(store.size_of(digest).value() == 12);
  CHECK(store.size_of(half).status().code() == Code::kNotFound);

  CHECK(store.expire_partials(3600) == 0);  // written just now
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(store.expire_partials(0) == 1);
  CHECK(store.partial_size(half) == 0);
  CHECK(store.contains(digest));  // published blobs are never expired
}
