#include "autodistill/wire/codec.hpp"

#include <new>
#include <stdexcept>

namespace autodistill::wire {

namespace {
constexpr flatbuffers::uoffset_t kMaxDepth = 32;
constexpr flatbuffers::uoffset_t kMaxTables = 1'000'000;
}  // namespace

Status verify(const void* data, size_t size) {
  if (size > kMaxMessageBytes) {
    return Status(Code::kResourceExhausted, "message of " + std::to_string(size) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(kMaxMessageBytes));
  }
  if (data == nullptr || size < 8) return Status(Code::kMalformed, "message too short");
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (!EnvelopeBufferHasIdentifier(bytes)) {
    return Status(Code::kMalformed, "wrong file identifier (want \"ADS1\")");
  }
  flatbuffers::Verifier verifier(bytes, size, kMaxDepth, kMaxTables);
  if (!VerifyEnvelopeBuffer(verifier)) {
    return Status(Code::kMalformed, "envelope failed verification");
  }
  const Envelope* envelope = GetEnvelope(bytes);
  if (envelope->version() != kProtocolVersion) {
    return Status(Code::kUnsupportedVersion,
                  "protocol version " + std::to_string(envelope->version()) +
                      " is not supported (this side speaks " + std::to_string(kProtocolVersion) +
                      ")",
                  "version");
  }
  if (envelope->body_type() == Message::NONE || envelope->body() == nullptr) {
    return Status(Code::kMalformed, "envelope has no body", "body");
  }
  return Status::ok();
}

autodistill::Result<EnvelopeT> decode(const void* data, size_t size) {
  Status status = verify(data, size);
  if (!status) return status;
  EnvelopeT envelope;
  try {
    // A verified buffer can still share one large string or table between
    // many offsets, so unpacking may need far more memory than the frame.
    GetEnvelope(data)->UnPackTo(&envelope);
  } catch (const std::bad_alloc&) {
    return Status(Code::kResourceExhausted,
                  "message expands beyond available memory when unpacked (shared offsets)");
  } catch (const std::length_error&) {
    return Status(Code::kResourceExhausted, "message expands beyond the largest container");
  }
  return envelope;
}

std::string encode(const EnvelopeT& envelope) {
  flatbuffers::FlatBufferBuilder builder(256);
  auto offset = Envelope::Pack(builder, &envelope);
  FinishEnvelopeBuffer(builder, offset);
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

ErrorT to_wire(const Status& status) {
  ErrorT error;
  error.code = static_cast<ErrorCode>(status.code());
  error.message = status.message();
  error.field = status.field();
  return error;
}

Status from_wire(const ErrorT* error) {
  if (error == nullptr) return Status(Code::kInternal, "missing error");
  auto code = static_cast<uint16_t>(error->code);
  if (code > static_cast<uint16_t>(ErrorCode::MAX)) code = static_cast<uint16_t>(Code::kInternal);
  return Status(static_cast<Code>(code), error->message, error->field);
}

const char* message_name(Message type) {
  return EnumNameMessage(type);
}

}  // namespace autodistill::wire
