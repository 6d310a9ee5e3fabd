#include "autodistill/wire/codec.hpp"

#include <flatbuffers/minireflect.h>

#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

namespace autodistill::wire {

namespace {
constexpr flatbuffers::uoffset_t kMaxDepth = 32;
constexpr flatbuffers::uoffset_t kMaxTables = 1'000'000;

// What the object API will allocate, estimated per item, is bounded by
// kExpansionFactor x the frame + kExpansionSlack. An honest frame stores
// each table, string and vector once and stays well below (each counted
// item takes at least 4 bytes of the frame); a frame whose offsets alias
// one object many times (the Verifier accepts that) would make UnPackTo
// copy it once per reference: gigabytes from kilobytes (RELIABILITY.md, F4).
constexpr size_t kExpansionFactor = 8;
constexpr size_t kExpansionSlack = 64 << 10;
constexpr size_t kTableCost = 32;
constexpr size_t kStringCost = 24;
constexpr size_t kElementCost = 8;

struct FrameRefused {
  Status status;
};

// Walks a verified frame the way UnPackTo will, adding up the estimate and
// stopping (by throwing) as soon as it passes the budget, so the walk costs
// at most the budget however far the frame would expand. It also refuses
// vectors of 8-byte scalars that are not 8-aligned in the frame: the
// Verifier checks only their length's alignment, and reading them would be
// a misaligned load (F2). Our encoder always aligns them.
class ExpansionBudget : public flatbuffers::IterationVisitor {
 public:
  ExpansionBudget(const uint8_t* frame, size_t size)
      : frame_(frame), budget_(kExpansionFactor * size + kExpansionSlack) {}

  void StartSequence() override { charge(kTableCost); }
  void String(const flatbuffers::String* s) override { charge(kStringCost + s->size()); }
  void Element(size_t i, flatbuffers::ElementaryType type, const flatbuffers::TypeTable*,
               const uint8_t* val) override {
    charge(kElementCost);
    const bool wide = type == flatbuffers::ET_LONG || type == flatbuffers::ET_ULONG ||
                      type == flatbuffers::ET_DOUBLE;
    if (i == 0 && wide && (val - frame_) % 8 != 0) {
      throw FrameRefused{Status(Code::kMalformed, "a vector of 8-byte numbers is misaligned")};
    }
  }

 private:
  void charge(size_t bytes) {
    used_ += bytes;
    if (used_ > budget_) {
      throw FrameRefused{Status(Code::kResourceExhausted,
                                "message would expand to more than " + std::to_string(budget_) +
                                    " bytes when decoded (shared offsets)")};
    }
  }

  const uint8_t* frame_;
  size_t budget_;
  size_t used_ = 0;
};

Status check_expansion(const uint8_t* frame, size_t size) {
  ExpansionBudget budget(frame, size);
  try {
    flatbuffers::IterateFlatBuffer(frame, EnvelopeTypeTable(), &budget);
  } catch (const FrameRefused& refused) {
    return refused.status;
  }
  return Status::ok();
}
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
  // Offsets are checked relative to the frame, so the frame itself must be
  // 8-aligned for 8-byte fields to be: copy it when it is not.
  std::unique_ptr<uint64_t[]> aligned;
  if (reinterpret_cast<uintptr_t>(data) % 8 != 0 && data != nullptr) {
    aligned.reset(new uint64_t[(size + 7) / 8]);
    std::memcpy(aligned.get(), data, size);
    data = aligned.get();
  }
  Status status = verify(data, size);
  if (!status) return status;
  status = check_expansion(static_cast<const uint8_t*>(data), size);
  if (!status) return status;
  EnvelopeT envelope;
  try {
    // The budget above bounds what this allocates; memory can still run out.
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
