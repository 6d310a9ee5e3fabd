#pragma once
// Encode / verify / decode of autodistill Envelopes (messages/autodistill.fbs).
//
// Every inbound buffer goes through decode(), which runs the FlatBuffers
// Verifier (identifier, bounds, depth, table count) and the protocol version
// check before anything reads it, then unpacks into the object API (EnvelopeT)
// so handlers never touch unverified memory. Thread-safe: pure functions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "autodistill/status.hpp"
#include "autodistill_generated.h"

namespace autodistill::wire {

inline constexpr uint16_t kProtocolVersion = 1;
// Largest Envelope accepted on any socket (ZMQ_MAXMSGSIZE is set above it).
inline constexpr size_t kMaxMessageBytes = 16u << 20;
// Default blob chunk payload; Welcome.max_chunk_bytes may lower it.
inline constexpr uint32_t kDefaultChunkBytes = 1u << 20;

// Checks identifier, structure and version. Codes: kMalformed (not an
// Envelope, truncated, wrong identifier, no body), kResourceExhausted (over
// kMaxMessageBytes), kUnsupportedVersion.
Status verify(const void* data, size_t size);

// verify(), then a bounded walk of the frame, then unpack. The walk refuses
// a frame whose shared offsets would make the unpacked object more than
// 8x the frame + 64 KiB (kResourceExhausted) and a vector of 8-byte numbers
// that is not 8-aligned (kMalformed); a frame at an address that is not
// 8-aligned is decoded from an aligned copy. (Qualified: wire::Result is the
// trial-result message.)
autodistill::Result<EnvelopeT> decode(const void* data, size_t size);

// Serializes an Envelope, setting the identifier and version.
std::string encode(const EnvelopeT& envelope);

// Builds and serializes an Envelope around one message body, e.g.
// encode_message(42, HelloT{...}).
template <class T>
std::string encode_message(uint64_t request_id, T body) {
  EnvelopeT envelope;
  envelope.version = kProtocolVersion;
  envelope.request_id = request_id;
  envelope.body.Set(std::move(body));
  return encode(envelope);
}

// Status <-> wire Error.
ErrorT to_wire(const Status& status);
Status from_wire(const ErrorT* error);
inline std::string encode_error(uint64_t request_id, const Status& status) {
  return encode_message(request_id, to_wire(status));
}

// Name of a message type, for logs ("Hello", "BlobPut", ...).
const char* message_name(Message type);

}  // namespace autodistill::wire
