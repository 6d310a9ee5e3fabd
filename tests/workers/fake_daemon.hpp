#pragma once
// An in-test stand-in for autodistilld's worker endpoint: a ROUTER socket on
// a loopback port, served by its own thread. It records every worker message
// for the test to inspect, serves BlobStat / BlobGet / BlobPut from an
// in-memory store (any peer, no Hello needed, like the daemon), and sends an
// empty Heartbeat to the current session peer (the sender of the latest
// Hello) every `heartbeat` so a worker stays connected. Everything else (the
// Welcome, Assigns, Acks) is up to the test. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "autodistill/wire/codec.hpp"

namespace autodistill::test {

class FakeDaemon {
 public:
  explicit FakeDaemon(std::chrono::milliseconds heartbeat = std::chrono::milliseconds(50));
  ~FakeDaemon();
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;

  // tcp://127.0.0.1:<port>, stable across restart().
  const std::string& endpoint() const { return endpoint_; }

  // Closes the socket and binds again on the same port, forgetting every
  // peer and the session: what a worker sees when the daemon restarts.
  void restart();

  // Removes and returns the oldest recorded message of type T (other
  // messages stay recorded), waiting up to `timeout` for one to arrive.
  template <class T>
  std::optional<T> next(std::chrono::milliseconds timeout) {
    auto envelope = take(wire::MessageUnionTraits<T>::enum_value, timeout);
    if (!envelope) return std::nullopt;
    return std::move(*static_cast<T*>(envelope->body.value));
  }
  // Like next(), with the envelope's request_id (to answer that request).
  template <class T>
  std::optional<std::pair<uint64_t, T>> next_request(std::chrono::milliseconds timeout) {
    auto envelope = take(wire::MessageUnionTraits<T>::enum_value, timeout);
    if (!envelope) return std::nullopt;
    return std::pair<uint64_t, T>(envelope->request_id,
                                  std::move(*static_cast<T*>(envelope->body.value)));
  }
  // As next(), the whole envelope (its request_id included).
  template <class T>
  std::optional<wire::EnvelopeT> next_envelope(std::chrono::milliseconds timeout) {
    return take(wire::MessageUnionTraits<T>::enum_value, timeout);
  }
  // Forgets every recorded message.
  void clear();

  // Sends a message to the session peer (dropped while there is none).
  template <class T>
  void send(T body, uint64_t request_id = 0) {
    queue_frame(wire::encode_message(request_id, std::move(body)));
  }
  // `features`: Welcome.features, e.g. {"checkpoint"}.
  void welcome(uint32_t heartbeat_interval_ms, uint32_t liveness, uint32_t lease_ms,
               uint32_t max_chunk_bytes, std::vector<std::string> features = {});

  // Stores a blob; returns its digest.
  std::string put_blob(const std::string& bytes);
  // Stores `bytes` under `digest` even when they do not hash to it: a blob
  // corrupted in the daemon's store.
  void put_blob_as(const std::string& digest, const std::string& bytes);
  std::optional<std::string> blob(const std::string& digest) const;
  int blob_gets() const;
  int blob_puts() const;
  // Results received that named an artifact the store did not hold yet.
  int results_naming_missing_blobs() const;

 private:
  std::optional<wire::EnvelopeT> take(wire::Message type, std::chrono::milliseconds timeout);
  void queue_frame(std::string frame);
  void serve();

  std::string endpoint_;
  std::chrono::milliseconds heartbeat_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<wire::EnvelopeT> received_;
  std::vector<std::string> outgoing_;
  bool restart_requested_ = false;
  bool stopping_ = false;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, std::string> partial_;
  int blob_gets_ = 0;
  int blob_puts_ = 0;
  int results_naming_missing_blobs_ = 0;

  std::thread thread_;
};

}  // namespace autodistill::test
