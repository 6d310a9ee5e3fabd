#include "autodistill/wire/bundle.hpp"

#include <unistd.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

namespace autodistill::wire {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBlock = 512;
using Header = std::array<char, kBlock>;

// Field offsets and sizes of a ustar header.
constexpr size_t kName = 0, kNameLen = 100;
constexpr size_t kMode = 100, kUid = 108, kGid = 116;
constexpr size_t kSize = 124, kSizeLen = 12;
constexpr size_t kMtime = 136, kChecksum = 148, kType = 156;
constexpr size_t kMagic = 257, kVersion = 263;
constexpr size_t kPrefix = 345, kPrefixLen = 155;

void put_octal(Header& h, size_t offset, size_t length, uint64_t value) {
  // length - 1 octal digits and a NUL.
  for (size_t i = length - 1; i-- > 0;) {
    h[offset + i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  h[offset + length - 1] = '\0';
}

void put_size(Header& h, uint64_t size) {
  if (size < (1ull << 33)) {
    put_octal(h, kSize, kSizeLen, size);
    return;
  }
  // GNU base-256 for files of 8 GiB and more.
  h[kSize] = static_cast<char>(0x80);
  for (size_t i = kSizeLen - 1; i > 0; --i) {
    h[kSize + i] = static_cast<char>(size & 0xFF);
    size >>= 8;
  }
}

uint64_t checksum_of(const Header& h) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChecksum && i < kChecksum + 8;
    sum += in_field ? static_cast<uint8_t>(' ') : static_cast<uint8_t>(h[i]);
  }
  return sum;
}

std::optional<uint64_t> get_number(const Header& h, size_t offset, size_t length) {
  if (static_cast<uint8_t>(h[offset]) & 0x80) {  // base-256
    uint64_t value = static_cast<uint8_t>(h[offset]) & 0x7F;
    for (size_t i = 1; i < length; ++i) {
      if (value >> 55) return std::nullopt;
      value = (value << 8) | static_cast<uint8_t>(h[offset + i]);
    }
    return value;
  }
  uint64_t value = 0;
  size_t i = 0;
  while (i < length && h[offset + i] == ' ') ++i;
  bool digits = false;
  for (; i < length && h[offset + i] >= '0' && h[offset + i] <= '7'; ++i) {
    if (value >> 60) return std::nullopt;
    value = value * 8 + static_cast<uint64_t>(h[offset + i] - '0');
    digits = true;
  }
  for (; i < length; ++i) {
    if (h[offset + i] != ' ' && h[offset + i] != '\0') return std::nullopt;
  }
  if (!digits) return std::nullopt;
  return value;
}

std::string get_string(const Header& h, size_t offset, size_t length) {
  const char* begin = h.data() + offset;
  return std::string(begin, strnlen(begin, length));
}

bool zero_block(const Header& h) {
  return std::all_of(h.begin(), h.end(), [](char c) { return c == '\0'; });
}

Status malformed(const fs::path& archive, const std::string& what, const std::string& field = {}) {
  return Status(Code::kMalformed, archive.string() + ": " + what, field);
}

// Splits a relative '/'-path into safe components: no empty (beyond a
// trailing '/'), ".", ".." or absolute paths. nullopt when unsafe.
std::optional<fs::path> safe_relative(std::string name) {
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  if (name == ".") name.clear();
  if (name.empty()) return fs::path();
  if (name.front() == '/') return std::nullopt;
  fs::path out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") out /= part;
    start = end + 1;
  }
  return out;
}

// Parses pax records "<len> <key>=<value>\n" for path and size.
bool parse_pax(const std::string& data, std::optional<std::string>* path,
               std::optional<uint64_t>* size) {
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t space = data.find(' ', pos);
    if (space == std::string::npos) return false;
    uint64_t length = 0;
    for (size_t i = pos; i < space; ++i) {
      if (data[i] < '0' || data[i] > '9' || length > data.size()) return false;
      length = length * 10 + static_cast<uint64_t>(data[i] - '0');
    }
    if (length <= space - pos || pos + length > data.size() || data[pos + length - 1] != '\n') {
      return false;
    }
    const std::string record = data.substr(space + 1, pos + length - space - 2);
    const size_t eq = record.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = record.substr(0, eq), value = record.substr(eq + 1);
    if (key == "path") *path = value;
    if (key == "size") {
      uint64_t s = 0;
      if (value.empty() || value.size() > 19) return false;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        s = s * 10 + static_cast<uint64_t>(c - '0');
      }
      *size = s;
    }
    pos += length;
  }
  return true;
}

}  // namespace

Status pack_directory(const fs::path& dir, const fs::path& archive) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status(Code::kNotFound, dir.string() + ": not a directory");
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (fs::is_directory(status)) continue;
    const std::string relative = fs::relative(it->path(), dir, ec).generic_string();
    if (!fs::is_regular_file(status)) {
      return Status(Code::kInvalidArgument,
                    dir.string() + ": \"" + relative + "\" is not a regular file", relative);
    }
    files.push_back(relative);
  }
  if (ec) return Status(Code::kInternal, dir.string() + ": cannot list: " + ec.message());
  std::sort(files.begin(), files.end());

  static std::atomic<uint64_t> counter{0};
  const fs::path temp =
      archive.string() + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  if (!out) return Status(Code::kInternal, temp.string() + ": cannot create");
  auto fail = [&](Status s) {
    out.close();
    std::error_code ignored;
    fs::remove(temp, ignored);
    return s;
  };
  std::vector<char> buffer(1 << 20);
  for (const std::string& name : files) {
    Header h{};
    if (name.size() <= kNameLen) {
      std::memcpy(h.data() + kName, name.data(), name.size());
    } else {
      // Split at a '/' so the prefix fits 155 bytes and the rest 100.
      size_t split = name.rfind('/', kPrefixLen);
      while (split != std::string::npos && name.size() - split - 1 > kNameLen)
        split = std::string::npos;
      if (split == std::string::npos || split == 0) {
        return fail(Status(Code::kInvalidArgument,
                           "path \"" + name + "\" is too long for a ustar archive", name));
      }
      std::memcpy(h.data() + kPrefix, name.data(), split);
      std::memcpy(h.data() + kName, name.data() + split + 1, name.size() - split - 1);
    }
    const uint64_t size = fs::file_size(dir / name, ec);
    if (ec) return fail(Status(Code::kInternal, (dir / name).string() + ": " + ec.message()));
    put_octal(h, kMode, 8, 0644);
    put_octal(h, kUid, 8, 0);
    put_octal(h, kGid, 8, 0);
    put_size(h, size);
    put_octal(h, kMtime, 12, 0);
    h[kType] = '0';
    std::memcpy(h.data() + kMagic, "ustar", 6);
    std::memcpy(h.data() + kVersion, "00", 2);
    put_octal(h, kChecksum, 7, checksum_of(h));
    h[kChecksum + 7] = ' ';
    out.write(h.data(), kBlock);

    std::ifstream in(dir / name, std::ios::binary);
    uint64_t left = size;
    while (left > 0 && in) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
      in.read(buffer.data(), static_cast<std::streamsize>(chunk));
      out.write(buffer.data(), in.gcount());
      left -= static_cast<uint64_t>(in.gcount());
    }
    if (left != 0) {
      return fail(Status(Code::kInternal, (dir / name).string() + ": changed while packing"));
    }
    const size_t pad = (kBlock - size % kBlock) % kBlock;
    out.write(std::string(pad, '\0').data(), static_cast<std::streamsize>(pad));
  }
  out.write(std::string(2 * kBlock, '\0').data(), 2 * kBlock);
  out.flush();
  if (!out) return fail(Status(Code::kInternal, temp.string() + ": cannot write"));
  out.close();
  fs::rename(temp, archive, ec);
  if (ec) return fail(Status(Code::kInternal, archive.string() + ": " + ec.message()));
  return Status::ok();
}

bool is_bundle(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  Header h{};
  if (!in.read(h.data(), kBlock)) return false;
  return std::memcmp(h.data() + kMagic, "ustar", 5) == 0 && !zero_block(h);
}

Status unpack_bundle(const fs::path& archive, const fs::path& dir) {
  std::ifstream in(archive, std::ios::binary);
  std::error_code ec;
  if (!in || !fs::is_regular_file(archive, ec)) {
    return Status(Code::kNotFound, archive.string() + ": cannot open");
  }
  const uint64_t archive_size = fs::file_size(archive, ec);
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, dir.string() + ": cannot create: " + ec.message());

  std::optional<std::string> next_path;  // from a GNU long name or pax record
  std::optional<uint64_t> next_size;     // from a pax record
  std::vector<char> buffer(1 << 20);
  uint64_t offset = 0;
  bool ended = false;
  while (true) {
    Header h{};
    if (!in.read(h.data(), kBlock)) {
      if (offset == archive_size && offset > 0) break;  // no end marker: tolerated
      return malformed(archive, "truncated: a header is cut off at byte " + std::to_string(offset));
    }
    offset += kBlock;
    if (zero_block(h)) {
      ended = true;
      break;
    }
    const auto recorded = get_number(h, kChecksum, 8);
    if (!recorded || *recorded != checksum_of(h)) {
      return malformed(archive, "bad header checksum at byte " + std::to_string(offset - kBlock) +
                                    " (not a tar archive, or corrupt)");
    }
    if (std::memcmp(h.data() + kMagic, "ustar", 5) != 0) {
      return malformed(archive, "not a ustar archive (old tar format?)");
    }
    std::string name = get_string(h, kName, kNameLen);
    const std::string prefix = get_string(h, kPrefix, kPrefixLen);
    if (!prefix.empty() && std::memcmp(h.data() + kMagic, "ustar\0", 6) == 0) {
      name = prefix + "/" + name;
    }
    auto size = get_number(h, kSize, kSizeLen);
    if (!size) return malformed(archive, "entry \"" + name + "\" has a bad size field", name);
    const char type = h[kType];
    if (type == 'L' || type == 'x' || type == 'g') {
      if (*size > (1u << 20)) return malformed(archive, "oversized extended header", name);
      std::string data(*size, '\0');
      if (!in.read(data.data(), static_cast<std::streamsize>(data.size()))) {
        return malformed(archive, "truncated extended header", name);
      }
      const uint64_t pad = (kBlock - *size % kBlock) % kBlock;
      in.seekg(static_cast<std::streamoff>(pad), std::ios::cur);
      offset += *size + pad;
      if (type == 'L') {
        next_path = std::string(data.c_str());
      } else if (type == 'x' && !parse_pax(data, &next_path, &next_size)) {
        return malformed(archive, "bad pax extended header", name);
      }
      continue;
    }
    if (next_path) name = *next_path;
    if (next_size) size = *next_size;
    next_path.reset();
    next_size.reset();

    const auto relative = safe_relative(name);
    if (!relative) return malformed(archive, "unsafe path \"" + name + "\"", name);
    if (*size > archive_size - std::min(archive_size, offset)) {
      return malformed(archive,
                       "truncated: entry \"" + name + "\" needs " + std::to_string(*size) +
                           " bytes, the archive has " +
                           std::to_string(archive_size - std::min(archive_size, offset)) + " left",
                       name);
    }
    if (type == '5') {
      if (!relative->empty()) fs::create_directories(dir / *relative, ec);
      if (ec) return Status(Code::kInternal, (dir / *relative).string() + ": " + ec.message());
      continue;
    }
    if (type != '0' && type != '\0' && type != '7') {
      return malformed(archive,
                       "entry \"" + name + "\" has unsupported type '" + std::string(1, type) +
                           "' (only regular files and directories)",
                       name);
    }
    if (relative->empty()) return malformed(archive, "a file entry has no name", name);
    const fs::path target = dir / *relative;
    fs::create_directories(target.parent_path(), ec);
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    if (!out) return Status(Code::kInternal, target.string() + ": cannot create");
    uint64_t left = *size;
    while (left > 0) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
      if (!in.read(buffer.data(), static_cast<std::streamsize>(chunk))) {
        return malformed(archive, "truncated inside \"" + name + "\"", name);
      }
      out.write(buffer.data(), static_cast<std::streamsize>(chunk));
      left -= chunk;
    }
    out.flush();
    if (!out) return Status(Code::kInternal, target.string() + ": cannot write");
    const uint64_t pad = (kBlock - *size % kBlock) % kBlock;
    in.seekg(static_cast<std::streamoff>(pad), std::ios::cur);
    offset += *size + pad;
  }
  if (!ended && offset == 0) return malformed(archive, "empty archive");
  return Status::ok();
}

}  // namespace autodistill::wire
