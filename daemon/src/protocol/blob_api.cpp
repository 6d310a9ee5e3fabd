// The blob API (both endpoints): content-addressed chunks in and out.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>

#include "autodistill/daemon/log.hpp"
#include "autodistill/wire/digest.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

void Controller::on_blob(Endpoint ep, const std::string& peer, uint64_t rid, wire::EnvelopeT& env) {
  note_request(ep, peer, rid);
  if (auto* stat = env.body.AsBlobStat()) {
    if (!wire::is_valid_digest(stat->digest)) {
      return reply_error(ep, peer, rid,
                         Status(Code::kInvalidArgument, "not a sha256 hex digest", "digest"));
    }
    wire::BlobPutAckT ack;
    ack.digest = stat->digest;
    ack.complete = blobs_.contains(stat->digest);
    ack.next_offset = ack.complete ? 0 : blobs_.partial_size(stat->digest);
    return send(ep, peer, wire::encode_message(rid, std::move(ack)));
  }
  if (auto* put = env.body.AsBlobPut()) {
    if (put->data.size() > config_.max_chunk_bytes) {
      return reply_error(
          ep, peer, rid,
          Status(Code::kResourceExhausted,
                 "chunk exceeds max_chunk_bytes " + std::to_string(config_.max_chunk_bytes),
                 "data"));
    }
    wire::BlobPutAckT ack;
    ack.digest = put->digest;
    if (blobs_.contains(put->digest)) {
      ack.complete = true;
      return send(ep, peer, wire::encode_message(rid, std::move(ack)));
    }
    if (uint64_t free_bytes = blobs_.free_bytes();
        put->total_size > put->offset &&
        free_bytes < (put->total_size - put->offset) + config_.min_free_disk_bytes) {
      return reply_error(
          ep, peer, rid,
          Status(Code::kResourceExhausted,
                 "not enough free disk for " + std::to_string(put->total_size - put->offset) +
                     " more bytes (" + std::to_string(free_bytes) + " free, min_free_disk_bytes " +
                     std::to_string(config_.min_free_disk_bytes) + " kept)",
                 "total_size"));
    }
    bool published = false;
    metrics_.blob_bytes_in += put->data.size();
    Status s = blobs_.append(put->digest, put->offset, put->total_size, put->data, &published);
    if (!s) return reply_error(ep, peer, rid, s);
    if (published) {
      store_.insert_blob(put->digest, put->total_size, now_());
      LOG_INFO("blob " << put->digest.substr(0, 12) << " stored (" << put->total_size << " bytes)");
    }
    ack.next_offset = put->offset + put->data.size();
    ack.complete = published;
    return send(ep, peer, wire::encode_message(rid, std::move(ack)));
  }
  if (auto* get = env.body.AsBlobGet()) {
    wire::BlobChunkT chunk;
    chunk.digest = get->digest;
    chunk.offset = get->offset;
    uint32_t length =
        std::min(get->length ? get->length : config_.max_chunk_bytes, config_.max_chunk_bytes);
    Status s = blobs_.read(get->digest, get->offset, length, &chunk.data, &chunk.total_size);
    if (!s) return reply_error(ep, peer, rid, s);
    metrics_.blob_bytes_out += chunk.data.size();
    return send(ep, peer, wire::encode_message(rid, std::move(chunk)));
  }
}

}  // namespace autodistill::daemon
