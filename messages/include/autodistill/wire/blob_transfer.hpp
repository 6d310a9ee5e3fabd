#pragma once
// Chunked blob upload and download over any request/reply transport
// (docs/protocol.md, "Blobs"). Shared by the client library and the workers;
// the transport (a DEALER socket, a test fake) is a RoundTrip callback.

#include <cstdint>
#include <functional>
#include <string>

#include "autodistill/status.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::wire {

// Sends `request` (the transport picks the request_id and encodes it) and
// returns the decoded reply carrying the same request_id, or a transport
// error (kUnavailable on timeout). An Error reply is returned as an envelope;
// the caller turns it into a Status.
using RoundTrip = std::function<autodistill::Result<EnvelopeT>(MessageUnion request)>;

// Uploads the file at `path` as a blob and returns its digest. Skips the
// bytes the daemon already holds (the whole file when it has the blob).
autodistill::Result<std::string> upload_file(const RoundTrip& round_trip, const std::string& path,
                                             uint32_t chunk_bytes = kDefaultChunkBytes);

// Uploads in-memory bytes as a blob and returns its digest.
autodistill::Result<std::string> upload_bytes(const RoundTrip& round_trip, const std::string& bytes,
                                              uint32_t chunk_bytes = kDefaultChunkBytes);

// Downloads blob `digest` to `path`: writes `path.part`, checks the SHA-256,
// then renames it into place, so `path` is either absent or complete.
Status download_blob(const RoundTrip& round_trip, const std::string& digest,
                     const std::string& path, uint32_t chunk_bytes = kDefaultChunkBytes);

}  // namespace autodistill::wire
