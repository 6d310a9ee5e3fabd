#include "autodistill/model/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "autodistill/bounded_json.hpp"

namespace autodistill::model {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader assumes a little-endian host");

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {{DType::kF64, "F64", 8}, {DType::kF32, "F32", 4},
                                 {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
                                 {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
                                 {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},
                                 {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1}};

Status malformed(const std::filesystem::path& path, const std::string& what,
                 const std::string& field = {}) {
  return Status(Code::kMalformed, path.string() + ": " + what, field);
}

}  // namespace

const char* dtype_name(DType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return d.name;
  }
  return "?";
}

Result<DType> parse_dtype(std::string_view name) {
  for (const auto& d : kDTypes) {
    if (name == d.name) return d.dtype;
  }
  return Status(Code::kInvalidArgument, "unknown dtype \"" + std::string(name) + "\"");
}

size_t dtype_size(DType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return d.size;
  }
  return 0;
}

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct SafetensorsFile::Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (address != nullptr) munmap(address, size);
  }
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

Result<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status(Code::kNotFound, path.string() + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(Code::kNotFound, path.string() + ": not a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    return malformed(path, "truncated: " + std::to_string(file_size) +
                               " bytes, shorter than the 8-byte header length");
  }
  void* address = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (address == MAP_FAILED) {
    return Status(Code::kInternal, path.string() + ": mmap failed: " + std::strerror(errno));
  }
  SafetensorsFile file;
  file.mapping_ = std::make_unique<Mapping>();
  file.mapping_->address = address;
  file.mapping_->size = file_size;
  const auto* base = static_cast<const std::byte*>(address);

  uint64_t header_size = 0;
  std::memcpy(&header_size, base, 8);
  if (header_size > kMaxHeader) {
    return malformed(path, "header length " + std::to_string(header_size) +
                               " exceeds the 100 MiB limit (corrupt file?)");
  }
  if (header_size > file_size - 8) {
    return malformed(path, "truncated: the header needs " + std::to_string(header_size) +
                               " bytes but only " + std::to_string(file_size - 8) + " follow");
  }
  const std::string_view header(reinterpret_cast<const char*>(base + 8), header_size);
  const uint64_t data_size = file_size - 8 - header_size;
  file.data_ = base + 8 + header_size;

  JsonLimits limits;
  limits.max_bytes = kMaxHeader;
  auto parsed = parse_json(header, "header", limits);
  if (!parsed) return malformed(path, "the header: " + parsed.status().message());
  nlohmann::json& json = parsed.value();
  if (!json.is_object()) return malformed(path, "the header is not a JSON object");
  for (auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return malformed(path, "__metadata__ is not an object", name);
      for (auto& [key, text] : value.items()) {
        if (!text.is_string()) {
          return malformed(path, "__metadata__ value \"" + key + "\" is not a string", name);
        }
        file.metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) return malformed(path, "entry is not an object", name);
    TensorEntry entry;
    entry.name = name;
    auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) {
      return malformed(path, "tensor \"" + name + "\" lacks a dtype string", name);
    }
    auto parsed = parse_dtype(dtype->get<std::string>());
    if (!parsed)
      return malformed(path, "tensor \"" + name + "\": " + parsed.status().message(), name);
    entry.dtype = *parsed;
    auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) {
      return malformed(path, "tensor \"" + name + "\" lacks a shape array", name);
    }
    uint64_t numel = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 62)) {
        return malformed(path, "tensor \"" + name + "\" has an invalid dimension", name);
      }
      if (__builtin_mul_overflow(numel, d.get<uint64_t>(), &numel) || numel > (1ull << 62)) {
        return malformed(path, "tensor \"" + name + "\" is impossibly large", name);
      }
      entry.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    }
    auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      return malformed(path, "tensor \"" + name + "\" lacks data_offsets [begin, end]", name);
    }
    entry.begin = (*offsets)[0].get<uint64_t>();
    entry.end = (*offsets)[1].get<uint64_t>();
    if (entry.begin > entry.end || entry.end > data_size) {
      return malformed(path,
                       "tensor \"" + name + "\" lies outside the data section (offsets " +
                           std::to_string(entry.begin) + ".." + std::to_string(entry.end) +
                           ", data has " + std::to_string(data_size) + " bytes; truncated file?)",
                       name);
    }
    if (entry.end - entry.begin != numel * dtype_size(entry.dtype)) {
      return malformed(path,
                       "tensor \"" + name + "\" has " + std::to_string(entry.end - entry.begin) +
                           " bytes, its shape and dtype need " +
                           std::to_string(numel * dtype_size(entry.dtype)),
                       name);
    }
    file.entries_.push_back(std::move(entry));
  }
  // Empty tensors (shape with a 0, as transformers writes for a zero-width
  // layer) take no bytes and overlap nothing.
  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : file.entries_) {
    if (e.end > e.begin) by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return malformed(
          path,
          "tensors \"" + by_offset[i - 1]->name + "\" and \"" + by_offset[i]->name + "\" overlap",
          by_offset[i]->name);
    }
  }
  std::sort(file.entries_.begin(), file.entries_.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  return file;
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const TensorEntry& e, std::string_view n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? &*it : nullptr;
}

Status SafetensorsFile::read_float(const TensorEntry& entry, float* out) const {
  const std::byte* p = data_ + entry.begin;
  const int64_t n = entry.numel();
  if (n == 0 &&
      (entry.dtype == DType::kF32 || entry.dtype == DType::kF16 || entry.dtype == DType::kBF16)) {
    return Status::ok();
  }
  switch (entry.dtype) {
    case DType::kF32:
      std::memcpy(out, p, static_cast<size_t>(n) * 4);
      return Status::ok();
    case DType::kF16:
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, p + 2 * i, 2);
        out[i] = entry.dtype == DType::kF16 ? half_to_float(bits) : bfloat16_to_float(bits);
      }
      return Status::ok();
    default:
      return Status(Code::kInvalidArgument,
                    "tensor \"" + entry.name + "\" has dtype " + dtype_name(entry.dtype) +
                        "; only F32, F16 and BF16 convert to float",
                    entry.name);
  }
}

Status write_safetensors(const std::filesystem::path& path,
                         const std::vector<TensorToWrite>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second) {
      return Status(Code::kInvalidArgument, "invalid or duplicate tensor name \"" + t.name + "\"",
                    t.name);
    }
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) return Status(Code::kInvalidArgument, "negative dimension", t.name);
      numel *= static_cast<uint64_t>(d);
    }
    const uint64_t size = numel * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.append((8 - text.size() % 8) % 8, ' ');

  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path temp =
      path.string() + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    const uint64_t length = text.size();
    out.write(reinterpret_cast<const char*>(&length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : tensors) {
      uint64_t numel = 1;
      for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
      out.write(static_cast<const char*>(t.data),
                static_cast<std::streamsize>(numel * dtype_size(t.dtype)));
    }
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      return Status(Code::kInternal, path.string() + ": cannot write");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    return Status(Code::kInternal, path.string() + ": cannot rename into place");
  }
  return Status::ok();
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F;
  const uint32_t mantissa = h & 0x3FF;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float bfloat16_to_float(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

}  // namespace autodistill::model
