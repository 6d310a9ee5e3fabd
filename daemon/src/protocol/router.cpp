// Routing: every inbound frame is verified, rate-limited and handed to the
// worker or client protocol handler of its message type.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>

#include "autodistill/daemon/log.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

bool Controller::visible(const StudyRow& row) const {
  return caller_.empty() || row.owner == caller_ || admin_keys_.count(caller_) > 0;
}

bool Controller::admit(Endpoint ep, const std::string& peer, int64_t now) {
  if (config_.max_messages_per_second == 0) return true;
  const double rate = config_.max_messages_per_second;
  auto [it, fresh] = buckets_.try_emplace({static_cast<int>(ep), peer});
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = 2 * rate;
    b.refilled_ms = now;
  }
  b.tokens = std::min(2 * rate, b.tokens + rate * static_cast<double>(now - b.refilled_ms) / 1000);
  b.refilled_ms = now;
  if (b.tokens < 1) {
    if (now - b.last_refusal_ms >= 1000) {
      b.last_refusal_ms = now;
      LOG_WARN("rate limit: a " << (ep == Endpoint::kWorker ? "worker" : "client")
                                << " connection exceeds " << rate << " messages/s");
    }
    return false;
  }
  b.tokens -= 1;
  return true;
}

void Controller::on_message(Endpoint endpoint, const std::string& peer, const void* data,
                            size_t size, const std::string& user) {
  caller_ = user;
  (endpoint == Endpoint::kWorker ? metrics_.messages_worker : metrics_.messages_client)++;
  auto env = wire::decode(data, size);
  if (!env) {
    metrics_.bad_messages++;
    LOG_WARN((endpoint == Endpoint::kWorker ? "worker" : "client")
             << " peer sent a bad message (" << size << " bytes): " << env.status().to_string());
    reply_error(endpoint, peer, 0, env.status());
    return;
  }
  if (!admit(endpoint, peer, now_())) {
    metrics_.rate_limited++;
    return reply_error(endpoint, peer, env->request_id,
                       Status(Code::kResourceExhausted,
                              "rate limit of " + std::to_string(config_.max_messages_per_second) +
                                  " messages/s exceeded; slow down",
                              "rate"));
  }
  if (endpoint == Endpoint::kWorker) {
    on_worker(peer, env.value());
  } else {
    on_client(peer, env.value());
  }
}

void Controller::on_worker(const std::string& peer, wire::EnvelopeT& env) {
  const uint64_t rid = env.request_id;
  switch (env.body.type) {
    case Message::Hello:
      return on_hello(peer, rid, *env.body.AsHello());
    case Message::BlobGet:
    case Message::BlobPut:
    case Message::BlobStat:
      return on_blob(Endpoint::kWorker, peer, rid, env);
    default:
      break;
  }
  Worker* session = sessions_->find(peer);
  if (session == nullptr) {
    reply_error(Endpoint::kWorker, peer, rid,
                Status(Code::kUnknownPeer, "no session: send Hello first"));
    return;
  }
  Worker& w = *session;
  w.last_seen_ms = now_();
  switch (env.body.type) {
    case Message::Pull:
      return on_pull(w, *env.body.AsPull());
    case Message::Heartbeat:
      return on_heartbeat(w, *env.body.AsHeartbeat());
    case Message::Result:
      return on_result(w, rid, *env.body.AsResult());
    case Message::Failure:
      return on_failure(w, rid, *env.body.AsFailure());
    case Message::Checkpoint:
      return on_checkpoint(w, rid, *env.body.AsCheckpoint());
    case Message::GangAddress:
      return on_gang_address(w, *env.body.AsGangAddress());
    case Message::Bye:
      return on_bye(peer, *env.body.AsBye());
    default:
      reply_error(Endpoint::kWorker, peer, rid,
                  Status(Code::kInvalidArgument,
                         std::string(wire::message_name(env.body.type)) +
                             " is not a worker-protocol request",
                         "body"));
  }
}

void Controller::on_client(const std::string& peer, wire::EnvelopeT& env) {
  const uint64_t rid = env.request_id;
  switch (env.body.type) {
    case Message::Submit:
      return on_submit(peer, rid, *env.body.AsSubmit());
    case Message::GetStudy:
      return on_get(peer, rid, *env.body.AsGetStudy());
    case Message::ListStudies:
      return on_list(peer, rid, *env.body.AsListStudies());
    case Message::Watch:
      return on_watch(peer, rid, *env.body.AsWatch());
    case Message::CancelStudy:
      return on_cancel(peer, rid, *env.body.AsCancelStudy());
    case Message::ListWorkers:
      return on_list_workers(peer, rid);
    case Message::BlobGet:
    case Message::BlobPut:
    case Message::BlobStat:
      return on_blob(Endpoint::kClient, peer, rid, env);
    default:
      reply_error(Endpoint::kClient, peer, rid,
                  Status(Code::kInvalidArgument,
                         std::string(wire::message_name(env.body.type)) +
                             " is not a client-protocol request",
                         "body"));
  }
}

}  // namespace autodistill::daemon
