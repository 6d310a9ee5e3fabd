#pragma once
// A client-endpoint peer that rides out daemon restarts: each call is sent
// again (with a new request id) every `attempt` until a reply arrives or the
// deadline passes. Only idempotent requests go through it: submissions
// always carry an idempotency key.
// Not thread-safe: one test thread drives it.

#include <chrono>
#include <optional>
#include <string>
#include <thread>  // wire_peer.hpp uses std::this_thread without including it

#include "../support/wire_peer.hpp"

namespace autodistill::chaos {

class ChaosClient {
 public:
  // Sends time out after a second instead of blocking when the daemon stops
  // reading (its queue is full): a hung or dead daemon fails a call, not the test.
  ChaosClient(zmq::context_t& ctx, const std::string& endpoint) : peer_(ctx, endpoint) {
    peer_.socket().set(zmq::sockopt::sndtimeo, 1000);
  }

  // The reply (StudyReply or Error) to Submit{key, spec}; nullopt at the deadline.
  std::optional<wire::EnvelopeT> submit(const std::string& key, const wire::StudySpecT& spec,
                                        std::chrono::milliseconds timeout);
  // GetStudy; nullopt at the deadline or when the daemon answers with an Error.
  std::optional<wire::StudyReplyT> get(uint64_t study, bool include_trials,
                                       std::chrono::milliseconds timeout);
  // Every study (ListStudies{limit 0}); nullopt at the deadline or on an Error.
  std::optional<wire::StudyListT> list(std::chrono::milliseconds timeout);

  // The raw peer, for fire-and-forget requests and draining replies.
  testing::WirePeer& peer() { return peer_; }

 private:
  template <class T>
  std::optional<wire::EnvelopeT> call(const T& body, std::chrono::milliseconds timeout);

  testing::WirePeer peer_;
  // How long one attempt waits for its reply before the request is sent again.
  static constexpr std::chrono::milliseconds kAttempt{1000};
};

// "Error RESOURCE_EXHAUSTED: ... (field f)" or the message's name, for logs.
std::string describe(const wire::EnvelopeT& envelope);

}  // namespace autodistill::chaos
