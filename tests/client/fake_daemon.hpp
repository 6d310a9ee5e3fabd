#pragma once
// A scripted stand-in for autodistilld's client endpoint, for client tests:
// a ROUTER socket on loopback served by a background thread. Each decoded
// request is recorded and passed to the handler, whose returned frames are
// sent back to the requesting peer in order (none = the daemon stays
// silent). FakeBlobStore answers BlobStat / BlobPut / BlobGet like the real
// daemon's blob store, in memory.
//
// Thread-safety: requests() may be called from any thread; the handler runs
// on the fake's thread.

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "autodistill/wire/codec.hpp"

namespace autodistill::testing {

class FakeDaemon {
 public:
  using Handler = std::function<std::vector<std::string>(const wire::EnvelopeT& request)>;

  explicit FakeDaemon(Handler handler);
  ~FakeDaemon();
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;

  // "tcp://127.0.0.1:<port>"
  const std::string& endpoint() const { return endpoint_; }

  // Every request received so far, in order.
  std::vector<wire::EnvelopeT> requests() const;
  // How many requests of one type were received.
  size_t count(wire::Message type) const;

 private:
  void serve();

  Handler handler_;
  zmq::context_t context_{1};
  zmq::socket_t router_;
  std::string endpoint_;
  mutable std::mutex mutex_;
  std::vector<wire::EnvelopeT> requests_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Encodes `body` as the reply to `request`.
template <class T>
std::string reply_to(const wire::EnvelopeT& request, T body) {
  return wire::encode_message(request.request_id, std::move(body));
}

std::string error_reply(const wire::EnvelopeT& request, Code code, const std::string& message,
                        const std::string& field = {});

// In-memory content-addressed blobs with resumable uploads. Not
// thread-safe: call it from the fake daemon's handler only.
class FakeBlobStore {
 public:
  // The reply when `request` is a blob message, nullopt otherwise.
  std::optional<std::string> handle(const wire::EnvelopeT& request);

 private:
  std::map<std::string, std::string> blobs_;    // digest -> bytes
  std::map<std::string, std::string> partial_;  // digest -> bytes received so far
};

}  // namespace autodistill::testing
