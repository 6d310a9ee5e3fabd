// libFuzzer target: wire::verify / wire::decode, the gate every inbound
// frame passes on both endpoints of the daemon, in the client and in the
// worker loop (messages/include/autodistill/wire/codec.hpp).
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//   - decode() fails whenever verify() does, and only with the codes the
//     codec documents (Malformed, ResourceExhausted, UnsupportedVersion);
//     beyond verify() it may refuse a frame that would expand too far
//     (ResourceExhausted) or holds a misaligned 8-byte vector (Malformed);
//   - message_name() is safe for any body type that decodes;
//   - a decoded envelope with a known body re-encodes to bytes that decode
//     again and re-encode to the very same bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "autodistill/wire/codec.hpp"

using namespace autodistill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Status verified = wire::verify(data, size);
  auto decoded = wire::decode(data, size);
  if (decoded.is_ok() && !verified.is_ok()) __builtin_trap();
  if (!decoded) {
    const Code code = decoded.status().code();
    if (code != Code::kMalformed && code != Code::kResourceExhausted &&
        code != Code::kUnsupportedVersion) {
      __builtin_trap();
    }
    if (verified.is_ok() && code == Code::kUnsupportedVersion) __builtin_trap();
    return 0;
  }
  const wire::EnvelopeT& envelope = decoded.value();
  if (wire::message_name(envelope.body.type) == nullptr) __builtin_trap();
  // A body type this build does not know unpacks to nothing: nothing to re-encode.
  if (envelope.body.value == nullptr) return 0;
  const std::string once = wire::encode(envelope);
  auto again = wire::decode(once.data(), once.size());
  if (!again) __builtin_trap();
  if (wire::encode(again.value()) != once) __builtin_trap();
  return 0;
}
