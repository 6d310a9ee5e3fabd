#pragma once
// Conversions between the client data model (autodistill/study.hpp) and the
// FlatBuffers object API of messages/autodistill.fbs. Private to the client
// library. Enum values are numerically identical on both sides; a value a
// newer daemon adds passes through and renders as "unknown".

#include "autodistill/study.hpp"
#include "autodistill_generated.h"

namespace autodistill::client_wire {

wire::StudySpecT to_wire(const StudySpec& spec);

StudySpec to_model(const wire::StudySpecT& spec);
StudyInfo to_model(const wire::StudyInfoT& study);
TrialInfo to_model(const wire::TrialInfoT& trial);
Event to_model(const wire::EventT& event);
WorkerInfo to_model(const wire::WorkerInfoT& worker);

}  // namespace autodistill::client_wire
