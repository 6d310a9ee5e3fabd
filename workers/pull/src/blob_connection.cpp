#include "blob_connection.hpp"

#include <algorithm>
#include <utility>

#include "zmq_util.hpp"

namespace autodistill::worker {

namespace {
// Longest wait between two looks at the cancellation flag.
constexpr std::chrono::milliseconds kCancelSlice{100};
}  // namespace

BlobConnection::BlobConnection(zmq::context_t& context, std::string endpoint,
                               std::chrono::milliseconds timeout, uint32_t attempts,
                               std::function<bool()> cancelled, wire::CurveClientKeys curve)
    : curve_(std::move(curve)),
      context_(context),
      endpoint_(std::move(endpoint)),
      timeout_(timeout),
      attempts_(std::max(1u, attempts)),
      cancelled_(std::move(cancelled)) {}

BlobConnection::~BlobConnection() = default;

autodistill::Result<wire::EnvelopeT> BlobConnection::round_trip(wire::MessageUnion request) {
  const uint64_t request_id = next_request_id_++;
  wire::EnvelopeT envelope;
  envelope.version = wire::kProtocolVersion;
  envelope.request_id = request_id;
  const char* name = wire::message_name(request.type);
  envelope.body = std::move(request);
  const std::string frame = wire::encode(envelope);
  for (uint32_t attempt = 0; attempt < attempts_; ++attempt) {
    if (cancelled_ && cancelled_()) return Status(Code::kCancelled, "trial cancelled");
    try {
      if (!socket_) socket_ = make_dealer(context_, endpoint_, curve_);
      if (!socket_->send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
        socket_.reset();
        continue;
      }
      auto reply = await_reply(request_id, std::chrono::steady_clock::now() + timeout_);
      if (reply || reply.status().code() != Code::kUnavailable) return reply;
    } catch (const zmq::error_t& e) {
      return Status(Code::kUnavailable,
                    std::string("blob connection to ") + endpoint_ + " failed: " + e.what());
    }
    socket_.reset();
  }
  return Status(Code::kUnavailable, std::string("no reply from ") + endpoint_ + " to " + name +
                                        " after " + std::to_string(attempts_) + " attempts of " +
                                        std::to_string(timeout_.count()) + " ms");
}

autodistill::Result<wire::EnvelopeT> BlobConnection::await_reply(
    uint64_t request_id, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    if (cancelled_ && cancelled_()) return Status(Code::kCancelled, "trial cancelled");
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status(Code::kUnavailable, "timed out");
    auto wait = std::min<std::chrono::steady_clock::duration>(deadline - now, kCancelSlice);
    if (!wait_readable(*socket_, std::chrono::ceil<std::chrono::milliseconds>(wait))) continue;
    zmq::message_t message;
    while (socket_->recv(message, zmq::recv_flags::dontwait)) {
      auto envelope = wire::decode(message.data(), message.size());
      // A stray or unreadable frame is not the reply; keep waiting for it.
      if (envelope && envelope->request_id == request_id) return envelope;
    }
  }
}

}  // namespace autodistill::worker
