#pragma once
// Socket helpers shared by the pull loop and the blob connections.

#include <chrono>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "autodistill/wire/curve.hpp"

namespace autodistill::worker {

// A connected DEALER with linger 0 and the protocol's frame size limit.
// Throws zmq::error_t on a bad endpoint.
// With enabled `curve` keys it speaks CURVE to the daemon.
std::unique_ptr<zmq::socket_t> make_dealer(
    zmq::context_t& context, const std::string& endpoint, const wire::CurveClientKeys& curve = {},
    std::chrono::milliseconds reconnect_min = std::chrono::milliseconds(100),
    std::chrono::milliseconds reconnect_max = std::chrono::milliseconds(5000));

// Waits up to `timeout` for `socket` to have a message; false on timeout or
// when interrupted by a signal (the caller re-checks its state and waits again).
bool wait_readable(zmq::socket_t& socket, std::chrono::milliseconds timeout);

}  // namespace autodistill::worker
