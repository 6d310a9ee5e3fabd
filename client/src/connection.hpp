#pragma once
// The client's transport to autodistilld: one DEALER socket on the client
// endpoint, requests tagged with an increasing request_id, and the "lazy
// pirate" pattern (ZeroMQ guide, ch. 4): when a reply does not come in time,
// close the socket, open a fresh one and send again. Replies whose
// request_id is not the awaited one (late answers to an earlier request, the
// tail of an abandoned Watch stream) are discarded. Private to the client.
//
// Thread-safety: one thread at a time.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "autodistill/status.hpp"
#include "autodistill/wire/codec.hpp"
#include "autodistill/wire/curve.hpp"

namespace autodistill::client_wire {

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // `keys`: CURVE client keys (not enabled = plain TCP); `keys_status` is
  // what loading them said, returned by every send() when not ok.
  explicit Connection(std::string endpoint, wire::CurveClientKeys keys = {},
                      Status keys_status = Status::ok());
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `body` under a fresh request_id and returns that id. Opens the
  // socket first if there is none. kInvalidArgument (field "endpoint") for
  // an address ZeroMQ cannot parse.
  autodistill::Result<uint64_t> send(const wire::MessageUnion& body);

  // Waits until `deadline` for the next reply to request `request_id`.
  // An Error with request_id 0 (the daemon could not read the request) also
  // counts as the reply. kUnavailable when the deadline passes; the decode
  // Status (kMalformed, kUnsupportedVersion, ...) for an unreadable reply.
  autodistill::Result<wire::EnvelopeT> receive(uint64_t request_id, Clock::time_point deadline);

  // send() + receive(), trying `1 + retries` times with `timeout` each and a
  // fresh socket between attempts. kUnavailable when every attempt timed out.
  autodistill::Result<wire::EnvelopeT> round_trip(const wire::MessageUnion& body,
                                                  std::chrono::milliseconds timeout, int retries);

  // Closes the socket; the next send() connects a fresh one (with a new
  // routing identity, so nothing more of an earlier stream arrives).
  void reset();

  const std::string& endpoint() const { return endpoint_; }

 private:
  Status open();

  wire::CurveClientKeys keys_;
  Status keys_status_;
  std::string endpoint_;
  zmq::context_t context_;
  std::optional<zmq::socket_t> socket_;
  uint64_t next_request_id_ = 1;
};

}  // namespace autodistill::client_wire
