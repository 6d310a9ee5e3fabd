#include "fake_daemon.hpp"

#include <zmq.hpp>

#include "autodistill/wire/digest.hpp"

namespace autodistill::test {

namespace {

// How often the serving thread looks at the outgoing queue.
constexpr std::chrono::milliseconds kPollSlice{5};

std::unique_ptr<zmq::socket_t> bind_router(zmq::context_t& context, const std::string& endpoint) {
  // The port of a just-closed socket may take a moment to become free.
  for (int attempt = 0;; ++attempt) {
    auto socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::router);
    socket->set(zmq::sockopt::linger, 0);
    try {
      socket->bind(endpoint);
      return socket;
    } catch (const zmq::error_t&) {
      if (attempt >= 200) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace

FakeDaemon::FakeDaemon(std::chrono::milliseconds heartbeat) : heartbeat_(heartbeat) {
  thread_ = std::thread([this] { serve(); });
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !endpoint_.empty(); });
}

FakeDaemon::~FakeDaemon() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  thread_.join();
}

void FakeDaemon::restart() {
  std::unique_lock lock(mu_);
  restart_requested_ = true;
  cv_.wait(lock, [this] { return !restart_requested_; });
}

void FakeDaemon::clear() {
  std::lock_guard lock(mu_);
  received_.clear();
}

void FakeDaemon::welcome(uint32_t heartbeat_interval_ms, uint32_t liveness, uint32_t lease_ms,
                         uint32_t max_chunk_bytes, std::vector<std::string> features) {
  wire::WelcomeT welcome;
  welcome.heartbeat_interval_ms = heartbeat_interval_ms;
  welcome.liveness = liveness;
  welcome.lease_ms = lease_ms;
  welcome.max_chunk_bytes = max_chunk_bytes;
  welcome.daemon_version = "fake";
  welcome.features = std::move(features);
  send(std::move(welcome));
}

std::string FakeDaemon::put_blob(const std::string& bytes) {
  std::string digest = wire::sha256_hex(bytes);
  std::lock_guard lock(mu_);
  blobs_[digest] = bytes;
  return digest;
}

void FakeDaemon::put_blob_as(const std::string& digest, const std::string& bytes) {
  std::lock_guard lock(mu_);
  blobs_[digest] = bytes;
}

std::optional<std::string> FakeDaemon::blob(const std::string& digest) const {
  std::lock_guard lock(mu_);
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return std::nullopt;
  return it->second;
}

int FakeDaemon::blob_gets() const {
  std::lock_guard lock(mu_);
  return blob_gets_;
}

int FakeDaemon::blob_puts() const {
  std::lock_guard lock(mu_);
  return blob_puts_;
}

int FakeDaemon::results_naming_missing_blobs() const {
  std::lock_guard lock(mu_);
  return results_naming_missing_blobs_;
}

std::optional<wire::EnvelopeT> FakeDaemon::take(wire::Message type,
                                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<wire::EnvelopeT> found;
  cv_.wait_for(lock, timeout, [&] {
    for (auto it = received_.begin(); it != received_.end(); ++it) {
      if (it->body.type == type) {
        found = std::move(*it);
        received_.erase(it);
        return true;
      }
    }
    return false;
  });
  return found;
}

void FakeDaemon::queue_frame(std::string frame) {
  std::lock_guard lock(mu_);
  outgoing_.push_back(std::move(frame));
}

void FakeDaemon::serve() {
  zmq::context_t context;
  auto socket = bind_router(context, "tcp://127.0.0.1:*");
  {
    std::lock_guard lock(mu_);
    endpoint_ = socket->get(zmq::sockopt::last_endpoint);
  }
  cv_.notify_all();
  std::string session;  // routing id of the latest Hello's sender
  auto next_heartbeat = std::chrono::steady_clock::now();

  auto send_to = [&](const std::string& peer, const std::string& frame) {
    socket->send(zmq::buffer(peer), zmq::send_flags::sndmore);
    socket->send(zmq::buffer(frame), zmq::send_flags::dontwait);
  };
  while (true) {
    std::vector<std::string> outgoing;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      if (restart_requested_) {
        socket.reset();
        socket = bind_router(context, endpoint_);
        session.clear();
        partial_.clear();
        restart_requested_ = false;
        cv_.notify_all();
      }
      outgoing.swap(outgoing_);
    }
    if (!session.empty()) {
      for (const std::string& frame : outgoing) send_to(session, frame);
      if (std::chrono::steady_clock::now() >= next_heartbeat) {
        send_to(session, wire::encode_message(0, wire::HeartbeatT{}));
        next_heartbeat = std::chrono::steady_clock::now() + heartbeat_;
      }
    }

    zmq_pollitem_t item{socket->handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, kPollSlice);
    zmq::message_t peer, frame;
    while (socket->recv(peer, zmq::recv_flags::dontwait)) {
      if (!socket->recv(frame, zmq::recv_flags::dontwait)) break;
      auto decoded = wire::decode(frame.data(), frame.size());
      if (!decoded) continue;
      wire::EnvelopeT envelope = std::move(decoded.value());
      const std::string from = peer.to_string();
      std::lock_guard lock(mu_);
      switch (envelope.body.type) {
        case wire::Message::BlobGet: {
          ++blob_gets_;
          const wire::BlobGetT& get = *envelope.body.AsBlobGet();
          auto it = blobs_.find(get.digest);
          if (it == blobs_.end()) {
            send_to(from, wire::encode_error(envelope.request_id,
                                             Status(Code::kNotFound, "no blob " + get.digest)));
            break;
          }
          wire::BlobChunkT chunk;
          chunk.digest = get.digest;
          chunk.offset = get.offset;
          chunk.total_size = it->second.size();
          size_t begin = std::min<size_t>(get.offset, it->second.size());
          size_t end = std::min<size_t>(begin + get.length, it->second.size());
          chunk.data.assign(it->second.begin() + begin, it->second.begin() + end);
          send_to(from, wire::encode_message(envelope.request_id, std::move(chunk)));
          break;
        }
        case wire::Message::BlobStat: {
          const std::string& digest = envelope.body.AsBlobStat()->digest;
          wire::BlobPutAckT ack;
          ack.digest = digest;
          ack.complete = blobs_.count(digest) > 0;
          ack.next_offset = ack.complete ? 0 : partial_[digest].size();
          send_to(from, wire::encode_message(envelope.request_id, std::move(ack)));
          break;
        }
        case wire::Message::BlobPut: {
          ++blob_puts_;
          const wire::BlobPutT& put = *envelope.body.AsBlobPut();
          std::string& bytes = partial_[put.digest];
          if (put.offset != bytes.size()) {
            send_to(from, wire::encode_error(envelope.request_id, Status(Code::kFailedPrecondition,
                                                                         "bad offset", "offset")));
            break;
          }
          bytes.append(put.data.begin(), put.data.end());
          wire::BlobPutAckT ack;
          ack.digest = put.digest;
          ack.next_offset = bytes.size();
          if (bytes.size() == put.total_size) {
            if (wire::sha256_hex(bytes) != put.digest) {
              partial_.erase(put.digest);
              send_to(from, wire::encode_error(envelope.request_id,
                                               Status(Code::kDigestMismatch, "bad digest")));
              break;
            }
            blobs_[put.digest] = bytes;
            partial_.erase(put.digest);
            ack.complete = true;
          }
          send_to(from, wire::encode_message(envelope.request_id, std::move(ack)));
          break;
        }
        default:
          if (envelope.body.type == wire::Message::Hello) session = from;
          if (const wire::ResultT* result = envelope.body.AsResult()) {
            for (const auto& artifact : result->artifacts) {
              if (blobs_.count(artifact->digest) == 0) ++results_naming_missing_blobs_;
            }
          }
          received_.push_back(std::move(envelope));
          cv_.notify_all();
          break;
      }
    }
  }
}

}  // namespace autodistill::test
