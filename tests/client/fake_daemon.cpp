#include "fake_daemon.hpp"

#include "autodistill/wire/digest.hpp"

namespace autodistill::testing {

FakeDaemon::FakeDaemon(Handler handler)
    : handler_(std::move(handler)), router_(context_, zmq::socket_type::router) {
  router_.set(zmq::sockopt::linger, 0);
  router_.bind("tcp://127.0.0.1:*");
  endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  thread_ = std::thread([this] { serve(); });
}

FakeDaemon::~FakeDaemon() {
  stop_ = true;
  thread_.join();
}

std::vector<wire::EnvelopeT> FakeDaemon::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

size_t FakeDaemon::count(wire::Message type) const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const auto& r : requests_) n += r.body.type == type ? 1 : 0;
  return n;
}

void FakeDaemon::serve() {
  while (!stop_) {
    zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(10));
    if (!(item.revents & ZMQ_POLLIN)) continue;
    zmq::message_t identity;
    zmq::message_t frame;
    if (!router_.recv(identity) || !identity.more()) continue;
    if (!router_.recv(frame)) continue;
    auto request = wire::decode(frame.data(), frame.size());
    if (!request) continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(*request);
    }
    for (const std::string& reply : handler_(*request)) {
      router_.send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore);
      router_.send(zmq::buffer(reply), zmq::send_flags::none);
    }
  }
}

std::string error_reply(const wire::EnvelopeT& request, Code code, const std::string& message,
                        const std::string& field) {
  return wire::encode_error(request.request_id, Status(code, message, field));
}

std::optional<std::string> FakeBlobStore::handle(const wire::EnvelopeT& request) {
  auto ack = [&](const std::string& digest, uint64_t next, bool complete) {
    wire::BlobPutAckT out;
    out.digest = digest;
    out.next_offset = next;
    out.complete = complete;
    return reply_to(request, std::move(out));
  };
  if (const wire::BlobStatT* stat = request.body.AsBlobStat()) {
    if (blobs_.count(stat->digest)) return ack(stat->digest, blobs_[stat->digest].size(), true);
    return ack(stat->digest, partial_[stat->digest].size(), false);
  }
  if (const wire::BlobPutT* put = request.body.AsBlobPut()) {
    std::string& bytes = partial_[put->digest];
    if (put->offset != bytes.size()) {
      return error_reply(request, Code::kFailedPrecondition, "wrong offset", "offset");
    }
    bytes.append(put->data.begin(), put->data.end());
    if (bytes.size() < put->total_size) return ack(put->digest, bytes.size(), false);
    std::string complete = std::move(bytes);
    partial_.erase(put->digest);
    if (wire::sha256_hex(complete) != put->digest) {
      return error_reply(request, Code::kDigestMismatch, "bytes do not match", "digest");
    }
    blobs_[put->digest] = std::move(complete);
    return ack(put->digest, blobs_[put->digest].size(), true);
  }
  if (const wire::BlobGetT* get = request.body.AsBlobGet()) {
    auto it = blobs_.find(get->digest);
    if (it == blobs_.end()) return error_reply(request, Code::kNotFound, "no such blob", "digest");
    wire::BlobChunkT chunk;
    chunk.digest = get->digest;
    chunk.offset = get->offset;
    chunk.total_size = it->second.size();
    const size_t begin = std::min<size_t>(get->offset, it->second.size());
    const size_t end = std::min<size_t>(begin + get->length, it->second.size());
    chunk.data.assign(it->second.begin() + begin, it->second.begin() + end);
    return reply_to(request, std::move(chunk));
  }
  return std::nullopt;
}

}  // namespace autodistill::testing
