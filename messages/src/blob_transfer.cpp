#include "autodistill/wire/blob_transfer.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "autodistill/wire/digest.hpp"

namespace autodistill::wire {

namespace {

// Returns the reply as message T, or the Status of an Error reply / wrong type.
template <class T>
autodistill::Result<T> expect(autodistill::Result<EnvelopeT> reply) {
  if (!reply) return reply.status();
  EnvelopeT& env = reply.value();
  if (const ErrorT* error = env.body.AsError()) return from_wire(error);
  using Table = typename T::TableType;
  if (env.body.type != MessageTraits<Table>::enum_value) {
    return Status(Code::kMalformed, std::string("unexpected reply ") + message_name(env.body.type));
  }
  return std::move(*static_cast<T*>(env.body.value));
}

// Reads [offset, offset + size) of a source: a file or a string.
using ReadAt = std::function<Status(uint64_t offset, size_t size, std::vector<uint8_t>& out)>;

autodistill::Result<std::string> upload(const RoundTrip& round_trip, const std::string& digest,
                                        uint64_t total, const ReadAt& read_at,
                                        uint32_t chunk_bytes) {
  MessageUnion stat_request;
  BlobStatT stat;
  stat.digest = digest;
  stat_request.Set(std::move(stat));
  auto ack = expect<BlobPutAckT>(round_trip(std::move(stat_request)));
  if (!ack) return ack.status();
  uint64_t offset = ack->next_offset;
  bool complete = ack->complete;
  // An empty blob is still "uploaded" by one empty final chunk.
  while (!complete) {
    if (offset > total) return Status(Code::kInternal, "daemon holds more bytes than the blob");
    BlobPutT put;
    put.digest = digest;
    put.offset = offset;
    put.total_size = total;
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_bytes, total - offset));
    if (Status s = read_at(offset, n, put.data); !s) return s;
    MessageUnion request;
    request.Set(std::move(put));
    auto put_ack = expect<BlobPutAckT>(round_trip(std::move(request)));
    if (!put_ack) return put_ack.status();
    if (put_ack->next_offset <= offset && !put_ack->complete && n > 0) {
      return Status(Code::kInternal, "daemon made no progress on upload of " + digest);
    }
    offset = put_ack->next_offset;
    complete = put_ack->complete;
  }
  return digest;
}

}  // namespace

autodistill::Result<std::string> upload_file(const RoundTrip& round_trip, const std::string& path,
                                             uint32_t chunk_bytes) {
  auto digest = sha256_file(path);
  if (!digest) return digest.status();
  std::error_code ec;
  uint64_t total = std::filesystem::file_size(path, ec);
  if (ec) return Status(Code::kNotFound, "cannot stat " + path + ": " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot open " + path);
  ReadAt read_at = [&](uint64_t offset, size_t size, std::vector<uint8_t>& out) -> Status {
    out.resize(size);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size));
    if (static_cast<size_t>(in.gcount()) != size) {
      return Status(Code::kInternal, path + " changed during upload");
    }
    return Status::ok();
  };
  return upload(round_trip, digest.value(), total, read_at, chunk_bytes);
}

autodistill::Result<std::string> upload_bytes(const RoundTrip& round_trip, const std::string& bytes,
                                              uint32_t chunk_bytes) {
  ReadAt read_at = [&](uint64_t offset, size_t size, std::vector<uint8_t>& out) -> Status {
    out.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset),
               bytes.begin() + static_cast<std::ptrdiff_t>(offset + size));
    return Status::ok();
  };
  return upload(round_trip, sha256_hex(bytes), bytes.size(), read_at, chunk_bytes);
}

Status download_blob(const RoundTrip& round_trip, const std::string& digest,
                     const std::string& path, uint32_t chunk_bytes) {
  if (!is_valid_digest(digest)) {
    return Status(Code::kInvalidArgument, "not a sha256 hex digest: " + digest, "digest");
  }
  const std::string part = path + ".part";
  std::ofstream out(part, std::ios::binary | std::ios::trunc);
  if (!out) return Status(Code::kInternal, "cannot write " + part);
  Sha256 hash;
  uint64_t offset = 0;
  uint64_t total = 0;
  do {
    BlobGetT get;
    get.digest = digest;
    get.offset = offset;
    get.length = chunk_bytes;
    MessageUnion request;
    request.Set(std::move(get));
    auto chunk = expect<BlobChunkT>(round_trip(std::move(request)));
    if (!chunk) {
      out.close();
      std::remove(part.c_str());
      return chunk.status();
    }
    if (chunk->offset != offset || (chunk->data.empty() && offset < chunk->total_size)) {
      out.close();
      std::remove(part.c_str());
      return Status(Code::kMalformed, "blob chunk out of order for " + digest);
    }
    total = chunk->total_size;
    out.write(reinterpret_cast<const char*>(chunk->data.data()),
              static_cast<std::streamsize>(chunk->data.size()));
    hash.update(chunk->data.data(), chunk->data.size());
    offset += chunk->data.size();
  } while (offset < total);
  out.close();
  if (!out) {
    std::remove(part.c_str());
    return Status(Code::kInternal, "write error on " + part);
  }
  if (hash.hex_digest() != digest) {
    std::remove(part.c_str());
    return Status(Code::kDigestMismatch, "downloaded bytes do not match " + digest);
  }
  std::error_code ec;
  std::filesystem::rename(part, path, ec);
  if (ec) return Status(Code::kInternal, "cannot rename " + part + ": " + ec.message());
  return Status::ok();
}

}  // namespace autodistill::wire
