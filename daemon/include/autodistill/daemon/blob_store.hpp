#pragma once
// Content-addressed blob store on the local file system.
//
// A blob lives at <root>/<digest[0:2]>/<digest> once complete; uploads grow
// <root>/partial/<digest> chunk by chunk (resumable across reconnects and
// restarts) and are published by hash check, fsync and rename, so a
// published blob is always whole and matches its name. The index of
// published blobs (digest, size) is kept in the Store by the caller.
// Directories are created 0700 and files 0600, whatever the umask.
// Not thread-safe: owned by the daemon's event-loop thread.

#include <cstdint>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::daemon {

class BlobStore {
 public:
  // Creates `root` and the directories under it if needed (0700).
  static Result<BlobStore> open(const std::string& root, uint64_t max_blob_bytes);

  std::string path_of(const std::string& digest) const;
  bool contains(const std::string& digest) const;

  // Bytes already received for an upload in progress (0 when none).
  uint64_t partial_size(const std::string& digest) const;

  // Appends `data` at `offset` of an upload of `total_size` bytes. When the
  // upload reaches total_size, verifies the SHA-256 and publishes it; sets
  // *published. Errors: kFailedPrecondition (offset != bytes held, field
  // "offset"), kResourceExhausted (too large / disk full), kDigestMismatch
  // (the partial upload is discarded), kInternal.
  Status append(const std::string& digest, uint64_t offset, uint64_t total_size,
                const std::vector<uint8_t>& data, bool* published);

  // Reads up to `length` bytes from `offset`; *total_size gets the blob size.
  Status read(const std::string& digest, uint64_t offset, uint32_t length,
              std::vector<uint8_t>* out, uint64_t* total_size) const;

  // The size of a published blob; kNotFound when there is none.
  Result<uint64_t> size_of(const std::string& digest) const;

  // Deletes a published blob (absent is fine); kInternal when it stays.
  Status remove(const std::string& digest);

  // Deletes unfinished uploads not written to for `max_age_seconds` (an
  // upload resumed later starts again at offset 0). Returns how many.
  size_t expire_partials(int64_t max_age_seconds);

  // Bytes available to the daemon on the store's file system.
  uint64_t free_bytes() const;

  // Publishes in-memory bytes directly (tests, locally produced blobs).
  Result<std::string> put(const std::string& bytes);

 private:
  BlobStore(std::string root, uint64_t max_blob_bytes)
      : root_(std::move(root)), max_blob_bytes_(max_blob_bytes) {}
  std::string partial_path(const std::string& digest) const;
  Status publish(const std::string& digest, const std::string& partial);

  std::string root_;
  uint64_t max_blob_bytes_;
};

}  // namespace autodistill::daemon
