#include "blob_cache.hpp"

#include <unistd.h>

#include <chrono>
#include <utility>

#include "autodistill/wire/digest.hpp"

namespace autodistill::worker {

namespace {
// Longest wait for another thread's download between looks at `cancelled`.
constexpr std::chrono::milliseconds kCancelSlice{100};
}  // namespace

BlobCache::BlobCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

Result<std::filesystem::path> BlobCache::fetch(const std::string& digest,
                                               const wire::RoundTrip& round_trip,
                                               uint32_t chunk_bytes,
                                               const std::function<bool()>& cancelled) {
  if (!wire::is_valid_digest(digest)) {
    return Status(Code::kInvalidArgument, "not a sha256 hex digest: \"" + digest + "\"", "digest");
  }
  const std::filesystem::path path = dir_ / digest;
  {
    std::unique_lock lock(mu_);
    while (in_flight_.count(digest) > 0) {
      if (cancelled && cancelled()) return Status(Code::kCancelled, "trial cancelled");
      done_cv_.wait_for(lock, kCancelSlice);
    }
    std::error_code ec;
    if (verified_.count(digest) > 0 && std::filesystem::exists(path, ec)) return path;
    in_flight_.insert(digest);
  }
  Status status = materialize(digest, round_trip, chunk_bytes);
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(digest);
    if (status) verified_.insert(digest);
  }
  done_cv_.notify_all();
  if (!status) return status;
  return path;
}

Status BlobCache::materialize(const std::string& digest, const wire::RoundTrip& round_trip,
                              uint32_t chunk_bytes) {
  const std::filesystem::path path = dir_ / digest;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    auto actual = wire::sha256_file(path.string());
    if (actual && actual.value() == digest) return Status::ok();
    std::filesystem::remove(path, ec);
  }
  uint64_t serial;
  {
    std::lock_guard lock(mu_);
    serial = next_temp_++;
  }
  const std::filesystem::path temp =
      dir_ / (digest + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial));
  if (Status s = wire::download_blob(round_trip, digest, temp.string(), chunk_bytes); !s) {
    return s;
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::string why = ec.message();
    std::filesystem::remove(temp, ec);
    return Status(Code::kInternal,
                  "cannot move blob into the cache at " + path.string() + ": " + why);
  }
  return Status::ok();
}

}  // namespace autodistill::worker
