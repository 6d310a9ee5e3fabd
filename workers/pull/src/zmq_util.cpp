#include "zmq_util.hpp"

#include <cerrno>

#include "autodistill/wire/codec.hpp"

namespace autodistill::worker {

std::unique_ptr<zmq::socket_t> make_dealer(zmq::context_t& context, const std::string& endpoint,
                                           const wire::CurveClientKeys& curve,
                                           std::chrono::milliseconds reconnect_min,
                                           std::chrono::milliseconds reconnect_max) {
  auto socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  socket->set(zmq::sockopt::linger, 0);
  if (!wire::apply_curve_client(socket->handle(), curve)) throw zmq::error_t();
  socket->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxMessageBytes));
  socket->set(zmq::sockopt::reconnect_ivl, static_cast<int>(reconnect_min.count()));
  socket->set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(reconnect_max.count()));
  socket->connect(endpoint);
  return socket;
}

bool wait_readable(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  int rc = zmq_poll(&item, 1, static_cast<long>(timeout.count()));
  if (rc < 0 && zmq_errno() != EINTR) throw zmq::error_t();
  return rc > 0 && (item.revents & ZMQ_POLLIN) != 0;
}

}  // namespace autodistill::worker
