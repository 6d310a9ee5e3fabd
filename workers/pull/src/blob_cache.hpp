#pragma once
// A digest-keyed cache of downloaded blobs: blob D lives at <dir>/D.
//
// A blob enters the cache only complete and verified: it is downloaded to a
// name unique to this process and call (download_blob checks the sha256),
// then renamed into place, which is atomic. So concurrent fetches of one
// digest, by threads of this process or by other workers sharing the
// directory, never see or write a partial file. Within a process a digest is
// downloaded once: later callers wait for the first. A cached file that this
// process did not download is re-hashed once before it is trusted.
//
// Thread-safe.

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "autodistill/status.hpp"
#include "autodistill/wire/blob_transfer.hpp"

namespace autodistill::worker {

class BlobCache {
 public:
  // `dir` must exist.
  explicit BlobCache(std::filesystem::path dir);

  // The local path of blob `digest`, downloaded with `round_trip` in chunks of
  // `chunk_bytes` unless cached. kInvalidArgument for a malformed digest,
  // kCancelled once `cancelled()` is true, or the download's error.
  Result<std::filesystem::path> fetch(const std::string& digest, const wire::RoundTrip& round_trip,
                                      uint32_t chunk_bytes, const std::function<bool()>& cancelled);

 private:
  // Makes <dir>/digest valid: re-hashes an existing file, else downloads.
  Status materialize(const std::string& digest, const wire::RoundTrip& round_trip,
                     uint32_t chunk_bytes);

  const std::filesystem::path dir_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::set<std::string> in_flight_;  // digests being fetched by some thread
  std::set<std::string> verified_;   // digests whose cached file is known good
  uint64_t next_temp_ = 0;
};

}  // namespace autodistill::worker
