// Client::upload and Client::fetch_artifact through a fake daemon's blob
// store: chunking, deduplication and verified downloads.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "autodistill/client.hpp"
#include "autodistill/wire/digest.hpp"
#include "fake_daemon.hpp"

using namespace autodistill;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() /
           ("autodistill-blob-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
  static inline int n = 0;
};

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("upload and fetch_artifact round-trip a blob in chunks") {
  testing::FakeBlobStore store;
  testing::FakeDaemon daemon([&](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (auto reply = store.handle(request)) return {*reply};
    return {};
  });
  ClientOptions options;
  options.endpoint = daemon.endpoint();
  options.request_timeout_ms = 1000;
  options.chunk_bytes = 1000;
  Client client(options);

  TempDir dir;
  std::string bytes;
  for (int i = 0; i < 2500; ++i) bytes.push_back(static_cast<char>(i * 7 % 251));
  const fs::path source = dir.path / "teacher.bin";
  std::ofstream(source, std::ios::binary) << bytes;

  auto digest = client.upload(source.string());
  REQUIRE(digest.is_ok());
  CHECK(*digest == wire::sha256_hex(bytes));
  CHECK(daemon.count(wire::Message::BlobStat) == 1);
  CHECK(daemon.count(wire::Message::BlobPut) == 3);  // 1000 + 1000 + 500

  auto again = client.upload(source.string());  // the daemon has it: nothing is sent
  REQUIRE(again.is_ok());
  CHECK(*again == *digest);
  CHECK(daemon.count(wire::Message::BlobStat) == 2);
  CHECK(daemon.count(wire::Message::BlobPut) == 3);

  const fs::path dest = dir.path / "out.bin";
  REQUIRE(client.fetch_artifact(*digest, dest.string()).is_ok());
  CHECK(read_all(dest) == bytes);
  CHECK(daemon.count(wire::Message::BlobGet) == 3);
}

TEST_CASE("fetching an unknown blob is NotFound and leaves no file") {
  testing::FakeBlobStore store;
  testing::FakeDaemon daemon([&](const wire::EnvelopeT& request) -> std::vector<std::string> {
    if (auto reply = store.handle(request)) return {*reply};
    return {};
  });
  ClientOptions options;
  options.endpoint = daemon.endpoint();
  options.request_timeout_ms = 1000;
  Client client(options);
  TempDir dir;
  const fs::path dest = dir.path / "missing.bin";
  Status status = client.fetch_artifact(std::string(64, 'a'), dest.string());
  CHECK(status.code() == Code::kNotFound);
  CHECK_FALSE(fs::exists(dest));
  CHECK_FALSE(fs::exists(dest.string() + ".part"));
}

TEST_CASE("uploading a missing file is NotFound before anything is sent") {
  testing::FakeDaemon daemon([](const wire::EnvelopeT&) { return std::vector<std::string>{}; });
  ClientOptions options;
  options.endpoint = daemon.endpoint();
  Client client(options);
  auto digest = client.upload("/nonexistent/autodistill/teacher.bin");
  CHECK(digest.status().code() == Code::kNotFound);
  CHECK(daemon.requests().empty());
}
