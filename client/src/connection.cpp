#include "connection.hpp"

#include <utility>

#include "wire_convert.hpp"

namespace autodistill::client_wire {

Connection::Connection(std::string endpoint, wire::CurveClientKeys keys, Status keys_status)
    : keys_(std::move(keys)),
      keys_status_(std::move(keys_status)),
      endpoint_(std::move(endpoint)),
      context_(1) {}

Connection::~Connection() {
  reset();
}

Status Connection::open() {
  if (!keys_status_) return keys_status_;
  try {
    zmq::socket_t socket(context_, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    if (Status s = wire::apply_curve_client(socket.handle(), keys_); !s) return s;
    socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxMessageBytes));
    socket.connect(endpoint_);
    socket_ = std::move(socket);
  } catch (const zmq::error_t& e) {
    return Status(Code::kInvalidArgument, "cannot connect to \"" + endpoint_ + "\": " + e.what(),
                  "endpoint");
  }
  return Status::ok();
}

void Connection::reset() {
  socket_.reset();
}

autodistill::Result<uint64_t> Connection::send(const wire::MessageUnion& body) {
  if (!socket_) {
    if (Status s = open(); !s) return s;
  }
  wire::EnvelopeT envelope;
  envelope.version = wire::kProtocolVersion;
  envelope.request_id = next_request_id_++;
  envelope.body = body;
  const std::string frame = wire::encode(envelope);
  try {
    // A DEALER queues while disconnected; dontwait only fails when the
    // queue is full, which a timeout then reports like a lost request.
    (void)socket_->send(zmq::buffer(frame), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    return Status(Code::kUnavailable, std::string("send failed: ") + e.what());
  }
  return envelope.request_id;
}

autodistill::Result<wire::EnvelopeT> Connection::receive(uint64_t request_id,
                                                         Clock::time_point deadline) {
  if (!socket_) return Status(Code::kUnavailable, "not connected to " + endpoint_);
  try {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() < 0) left = std::chrono::milliseconds(0);
      zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, left);
      if (!(item.revents & ZMQ_POLLIN)) {
        if (Clock::now() >= deadline) {
          return Status(Code::kUnavailable, "no reply from autodistilld at " + endpoint_);
        }
        continue;
      }
      zmq::message_t frame;
      if (!socket_->recv(frame, zmq::recv_flags::dontwait)) continue;
      auto envelope = wire::decode(frame.data(), frame.size());
      if (!envelope) return envelope.status();
      if (const wire::ErrorT* error = envelope->body.AsError();
          error != nullptr && wire::from_wire(error).code() == Code::kUnknownPeer) {
        // Only the worker endpoint says UnknownPeer ("send Hello first"):
        // the client was pointed at the wrong port.
        return Status(Code::kFailedPrecondition,
                      endpoint_ + " is autodistilld's worker endpoint (it answered \"" +
                          wire::from_wire(error).message() +
                          "\"); clients talk to its client endpoint, tcp://127.0.0.1:5556 by "
                          "default (client_endpoint in autodistilld.conf): set --endpoint or "
                          "AUTODISTILL_ENDPOINT",
                      "endpoint");
      }
      if (envelope->request_id == request_id) return envelope;
      if (envelope->request_id == 0 && envelope->body.AsError() != nullptr) return envelope;
      // A stale reply: keep waiting for ours.
    }
  } catch (const zmq::error_t& e) {
    return Status(Code::kUnavailable, std::string("receive failed: ") + e.what());
  }
}

autodistill::Result<wire::EnvelopeT> Connection::round_trip(const wire::MessageUnion& body,
                                                            std::chrono::milliseconds timeout,
                                                            int retries) {
  Status last;
  for (int attempt = 0; attempt <= retries; ++attempt) {
    auto id = send(body);
    if (!id) return id.status();
    auto reply = receive(*id, Clock::now() + timeout);
    if (reply || reply.status().code() != Code::kUnavailable) return reply;
    last = reply.status();
    reset();
  }
  return Status(Code::kUnavailable, last.message() + " after " + std::to_string(retries + 1) +
                                        " attempt(s) of " + std::to_string(timeout.count()) +
                                        " ms");
}

}  // namespace autodistill::client_wire
