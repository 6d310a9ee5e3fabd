#pragma once
// SHA-256 digests for the content-addressed blob store (lower-case hex).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "autodistill/status.hpp"

namespace autodistill::wire {

// Incremental SHA-256. Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Lower-case hex of the digest; the object can't be updated afterwards.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
// Hashes a whole file, streaming.
autodistill::Result<std::string> sha256_file(const std::string& path);
// 64 lower-case hex characters.
bool is_valid_digest(std::string_view digest);

}  // namespace autodistill::wire
