#pragma once
// A short-lived DEALER connection for blob requests (BlobStat / BlobGet /
// BlobPut), which the daemon serves without a Hello. Each trial thread opens
// its own, so transfers never share the pull loop's socket.
//
// round_trip() sends a request and waits for the reply with the same
// request_id. A request unanswered within `timeout` is sent again on a fresh
// socket (a dead TCP connection is not reused); after `attempts` tries it
// fails with kUnavailable. It polls in short slices and returns kCancelled
// as soon as `cancelled()` is true. Not thread-safe: one owner thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "autodistill/wire/blob_transfer.hpp"
#include "autodistill/wire/curve.hpp"

namespace autodistill::worker {

class BlobConnection {
 public:
  BlobConnection(zmq::context_t& context, std::string endpoint, std::chrono::milliseconds timeout,
                 uint32_t attempts, std::function<bool()> cancelled,
                 wire::CurveClientKeys curve = {});
  ~BlobConnection();
  BlobConnection(const BlobConnection&) = delete;
  BlobConnection& operator=(const BlobConnection&) = delete;

  autodistill::Result<wire::EnvelopeT> round_trip(wire::MessageUnion request);
  // A RoundTrip bound to this connection (valid while it lives).
  wire::RoundTrip as_round_trip() {
    return [this](wire::MessageUnion request) { return round_trip(std::move(request)); };
  }

 private:
  // Waits for the reply to `request_id` until `deadline` (then kUnavailable).
  autodistill::Result<wire::EnvelopeT> await_reply(uint64_t request_id,
                                                   std::chrono::steady_clock::time_point deadline);

  wire::CurveClientKeys curve_;
  zmq::context_t& context_;
  const std::string endpoint_;
  const std::chrono::milliseconds timeout_;
  const uint32_t attempts_;
  const std::function<bool()> cancelled_;
  std::unique_ptr<zmq::socket_t> socket_;
  uint64_t next_request_id_ = 1;
};

}  // namespace autodistill::worker
