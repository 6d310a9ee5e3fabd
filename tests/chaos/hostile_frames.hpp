#pragma once
// Hostile but verifiable frames. A FlatBuffer may point many offsets at one
// sub-object: the Verifier accepts that (it checks bounds, not aliasing),
// while unpacking into the object API copies the sub-object once per
// reference. Two levels of it multiply: a frame of tens of KiB can ask its
// receiver for gigabytes.

#include <cstddef>
#include <string>
#include <vector>

#include "autodistill/wire/codec.hpp"

namespace autodistill::chaos {

// A Submit whose spec.factors holds `factors` offsets to one Categorical
// factor whose `categories` hold `categories` offsets to one string of
// `length` bytes: about 4 * (factors + categories) + length bytes on the
// wire, factors * categories * length bytes once unpacked.
inline std::string aliased_submit(size_t factors, size_t categories, size_t length) {
  flatbuffers::FlatBufferBuilder b;
  auto label = b.CreateString(std::string(length, 'c'));
  std::vector<flatbuffers::Offset<flatbuffers::String>> labels(categories, label);
  auto factor =
      wire::CreateFactorDirect(b, "optimizer", wire::FactorKind::Categorical, nullptr, &labels);
  std::vector<flatbuffers::Offset<wire::Factor>> all(factors, factor);
  auto spec = wire::CreateStudySpecDirect(b, "aliased", wire::StudyKind::External, &all);
  auto submit = wire::CreateSubmitDirect(b, "aliased", spec);
  auto envelope =
      wire::CreateEnvelope(b, wire::kProtocolVersion, 1, wire::Message::Submit, submit.Union());
  wire::FinishEnvelopeBuffer(b, envelope);
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace autodistill::chaos
