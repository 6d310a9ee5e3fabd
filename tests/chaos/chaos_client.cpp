#include "chaos_client.hpp"

#include <algorithm>

namespace autodistill::chaos {

using Clock = std::chrono::steady_clock;

template <class T>
std::optional<wire::EnvelopeT> ChaosClient::call(const T& body, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto reply = peer_.call(body, std::min(left, kAttempt));
    if (reply) return reply;
  }
  return std::nullopt;
}

std::optional<wire::EnvelopeT> ChaosClient::submit(const std::string& key,
                                                   const wire::StudySpecT& spec,
                                                   std::chrono::milliseconds timeout) {
  wire::SubmitT submit;
  submit.idempotency_key = key;
  submit.spec = std::make_unique<wire::StudySpecT>(spec);
  return call(submit, timeout);
}

std::optional<wire::StudyReplyT> ChaosClient::get(uint64_t study, bool include_trials,
                                                  std::chrono::milliseconds timeout) {
  wire::GetStudyT get;
  get.study_id = study;
  get.include_trials = include_trials;
  auto reply = call(get, timeout);
  if (!reply || !reply->body.AsStudyReply()) return std::nullopt;
  return std::move(*reply->body.AsStudyReply());
}

std::optional<wire::StudyListT> ChaosClient::list(std::chrono::milliseconds timeout) {
  wire::ListStudiesT list;
  list.limit = 0;
  auto reply = call(list, timeout);
  if (!reply || !reply->body.AsStudyList()) return std::nullopt;
  return std::move(*reply->body.AsStudyList());
}

std::string describe(const wire::EnvelopeT& envelope) {
  if (const auto* e = envelope.body.AsError()) {
    return std::string("Error ") + wire::EnumNameErrorCode(e->code) + ": " + e->message +
           " (field " + e->field + ")";
  }
  return wire::message_name(envelope.body.type);
}

}  // namespace autodistill::chaos
