#pragma once
// Little-endian binary encoding of the data pipeline's state (the position
// an ExampleStream or a BatchLoader resumes from): fixed-width integers and
// length-prefixed vectors. The reader checks every length against what is
// left, so a truncated or corrupt state is refused, never over-read.
//
// Thread-safety: plain values; one owner each.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autodistill::model::detail {

class ByteWriter {
 public:
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void i32s(const std::vector<int32_t>& v) {
    u64(v.size());
    for (int32_t x : v) {
      const auto u = static_cast<uint32_t>(x);
      for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
    }
  }
  void i64s(const std::vector<int64_t>& v) {
    u64(v.size());
    for (int64_t x : v) i64(x);
  }
  void bytes(std::string_view b) {
    u64(b.size());
    out_.append(b);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  // False once anything was missing; every later read fails too.
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::vector<int32_t> i32s() {
    const uint64_t n = u64();
    std::vector<int32_t> v;
    if (!ok_ || n > (in_.size() - pos_) / 4) {
      ok_ = false;
      return v;
    }
    v.resize(n);
    for (uint64_t k = 0; k < n; ++k) {
      uint32_t u = 0;
      for (int i = 0; i < 4; ++i) {
        u |= static_cast<uint32_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
      }
      v[k] = static_cast<int32_t>(u);
      pos_ += 4;
    }
    return v;
  }
  std::vector<int64_t> i64s() {
    const uint64_t n = u64();
    std::vector<int64_t> v;
    if (!ok_ || n > (in_.size() - pos_) / 8) {
      ok_ = false;
      return v;
    }
    v.reserve(n);
    for (uint64_t k = 0; k < n; ++k) v.push_back(i64());
    return v;
  }
  std::string_view bytes() {
    const uint64_t n = u64();
    if (!need(n)) return {};
    std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  bool need(uint64_t n) {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace autodistill::model::detail
