#include "autodistill/daemon/artifact_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/wire/digest.hpp"

namespace autodistill::daemon {

namespace {

constexpr const char* kWeights = "model.safetensors";
constexpr const char* kManifest = "manifest.json";

Status invalid(const std::string& file, const std::string& what) {
  return Status(Code::kInvalidArgument, file + ": " + what, "artifacts." + file);
}

// Reads `length` bytes at `offset` of an open file into `out`.
Status read_at(int fd, uint64_t offset, uint64_t length, std::string* out,
               const std::string& path) {
  out->resize(length);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status(Code::kInternal,
                    "cannot read " + path + ": " + (n < 0 ? std::strerror(errno) : "short read"));
    }
    done += static_cast<uint64_t>(n);
  }
  return Status::ok();
}

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

size_t dtype_size(const std::string& name) {
  static const std::map<std::string, size_t> kSizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = kSizes.find(name);
  return it == kSizes.end() ? 0 : it->second;
}

Status check_header(const std::string& header, uint64_t data_size) {
  auto parsed = parse_json(header, kWeights, {kMaxJsonDepth, kMaxSafetensorsHeader});
  if (!parsed) return invalid(kWeights, "the header: " + parsed.status().message());
  const nlohmann::json& json = parsed.value();
  if (!json.is_object()) return invalid(kWeights, "the header is not a JSON object");
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return invalid(kWeights, "__metadata__ is not an object");
      for (auto& [key, text] : value.items()) {
        if (!text.is_string()) {
          return invalid(kWeights, "__metadata__ value \"" + key + "\" is not a string");
        }
      }
      continue;
    }
    const std::string tensor = "tensor \"" + name + "\"";
    if (!value.is_object()) return invalid(kWeights, tensor + " is not an object");
    auto dtype = value.find("dtype");
    const size_t width =
        dtype != value.end() && dtype->is_string() ? dtype_size(dtype->get<std::string>()) : 0;
    if (width == 0) return invalid(kWeights, tensor + " has no known dtype");
    auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) {
      return invalid(kWeights, tensor + " has no shape array");
    }
    uint64_t numel = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) return invalid(kWeights, tensor + " has an invalid dimension");
      if (__builtin_mul_overflow(numel, d.get<uint64_t>(), &numel)) {
        return invalid(kWeights, tensor + " is impossibly large");
      }
    }
    auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      return invalid(kWeights, tensor + " has no data_offsets [begin, end]");
    }
    const uint64_t begin = (*offsets)[0].get<uint64_t>();
    const uint64_t end = (*offsets)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return invalid(kWeights, tensor + " lies outside the file (offsets " + std::to_string(begin) +
                                   ".." + std::to_string(end) + ", the data has " +
                                   std::to_string(data_size) + " bytes)");
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel, width, &bytes)) {
      return invalid(kWeights, tensor + " is impossibly large");
    }
    if (bytes != end - begin) {
      return invalid(kWeights, tensor + " spans " + std::to_string(end - begin) +
                                   " bytes; its dtype and shape need " + std::to_string(bytes));
    }
    spans.emplace_back(begin, end);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) return invalid(kWeights, "two tensors overlap");
  }
  return Status::ok();
}

Status check_manifest(const DeliveredFile& manifest, const std::vector<DeliveredFile>& files) {
  if (manifest.announced_size > kMaxManifestBytes) {
    return invalid(kManifest, "larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  }
  Fd f(::open(manifest.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return Status(Code::kInternal, "cannot open " + manifest.path);
  std::string text;
  if (Status s = read_at(f.fd, 0, manifest.announced_size, &text, manifest.path); !s) return s;
  auto parsed = parse_json(text, kManifest, {kMaxJsonDepth, kMaxManifestBytes});
  if (!parsed) return invalid(kManifest, parsed.status().message());
  const nlohmann::json& json = parsed.value();
  if (!json.is_object()) return invalid(kManifest, "not a JSON object");
  auto listed = json.find("files");
  if (listed == json.end() || !listed->is_object()) {
    return invalid(kManifest, "has no \"files\" object recording the delivered files");
  }
  for (const DeliveredFile& file : files) {
    if (file.name == kManifest) continue;
    auto entry = listed->find(file.name);
    if (entry == listed->end() || !entry->is_object()) {
      return invalid(kManifest, "files does not record \"" + file.name + "\"");
    }
    auto sha = entry->find("sha256");
    if (sha == entry->end() || !sha->is_string() || sha->get<std::string>() != file.digest) {
      return invalid(kManifest, "files." + file.name + ".sha256 is not the sha256 of the " +
                                    file.name + " delivered (" + file.digest + ")");
    }
    auto size = entry->find("size");
    if (size == entry->end() || !size->is_number_unsigned() ||
        size->get<uint64_t>() != file.announced_size) {
      return invalid(kManifest, "files." + file.name + ".size is not the " +
                                    std::to_string(file.announced_size) + " bytes delivered");
    }
  }
  return Status::ok();
}

}  // namespace

Status check_safetensors_file(const std::string& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0) {
    return Status(Code::kInternal, "cannot open " + path + ": " + std::strerror(errno));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) return invalid(kWeights, "shorter than its 8-byte header length");
  std::string prefix;
  if (Status s = read_at(f.fd, 0, 8, &prefix, path); !s) return s;
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) {
    header_size = (header_size << 8) | static_cast<unsigned char>(prefix[i]);
  }
  if (header_size > kMaxSafetensorsHeader) {
    return invalid(kWeights, "header length " + std::to_string(header_size) + " exceeds " +
                                 std::to_string(kMaxSafetensorsHeader) + " bytes");
  }
  if (header_size > size - 8) {
    return invalid(kWeights, "header length " + std::to_string(header_size) + " but only " +
                                 std::to_string(size - 8) + " bytes follow");
  }
  std::string header;
  if (Status s = read_at(f.fd, 8, header_size, &header, path); !s) return s;
  return check_header(header, size - 8 - header_size);
}

Status check_student_artifacts(const std::vector<DeliveredFile>& files) {
  if (files.empty()) return Status::ok();
  const DeliveredFile* weights = nullptr;
  const DeliveredFile* manifest = nullptr;
  for (const DeliveredFile& file : files) {
    struct stat st;
    if (::stat(file.path.c_str(), &st) != 0) {
      return Status(Code::kNotFound,
                    "artifact \"" + file.name + "\": blob " + file.digest + " is not held",
                    "artifacts." + file.name);
    }
    if (static_cast<uint64_t>(st.st_size) != file.announced_size) {
      return invalid(file.name, "announced as " + std::to_string(file.announced_size) +
                                    " bytes, its blob has " + std::to_string(st.st_size));
    }
    if (file.name == kWeights) weights = &file;
    if (file.name == kManifest) manifest = &file;
  }
  if (weights == nullptr) return invalid(kWeights, "a student must deliver it; it is missing");
  if (manifest == nullptr) return invalid(kManifest, "a student must deliver it; it is missing");
  if (Status s = check_safetensors_file(weights->path); !s) return s;
  return check_manifest(*manifest, files);
}

}  // namespace autodistill::daemon
