#include "autodistill/daemon/blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "private_fs.hpp"

#include "autodistill/wire/digest.hpp"

namespace autodistill::daemon {

namespace fs = std::filesystem;

namespace {

Status errno_status(const std::string& what, int err) {
  Code code = (err == ENOSPC || err == EDQUOT) ? Code::kResourceExhausted : Code::kInternal;
  return Status(code, what + ": " + std::strerror(err));
}

// RAII file descriptor.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status write_all(int fd, const uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write " + path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::ok();
}

Status fsync_dir(const std::string& dir) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY));
  if (d.fd < 0 || ::fsync(d.fd) != 0) return errno_status("fsync " + dir, errno);
  return Status::ok();
}

}  // namespace

Result<BlobStore> BlobStore::open(const std::string& root, uint64_t max_blob_bytes) {
  if (Status s = make_private_dirs(root + "/partial"); !s) {
    return Status(s.code(), s.message(), "data_dir");
  }
  return BlobStore(root, max_blob_bytes);
}

std::string BlobStore::path_of(const std::string& digest) const {
  return root_ + "/" + digest.substr(0, 2) + "/" + digest;
}

std::string BlobStore::partial_path(const std::string& digest) const {
  return root_ + "/partial/" + digest;
}

bool BlobStore::contains(const std::string& digest) const {
  struct stat st;
  return wire::is_valid_digest(digest) && ::stat(path_of(digest).c_str(), &st) == 0;
}

uint64_t BlobStore::partial_size(const std::string& digest) const {
  struct stat st;
  if (!wire::is_valid_digest(digest) || ::stat(partial_path(digest).c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Status BlobStore::append(const std::string& digest, uint64_t offset, uint64_t total_size,
                         const std::vector<uint8_t>& data, bool* published) {
  *published = false;
  if (!wire::is_valid_digest(digest)) {
    return Status(Code::kInvalidArgument, "not a lower-case hex sha256 digest", "digest");
  }
  if (total_size > max_blob_bytes_) {
    return Status(Code::kResourceExhausted,
                  "blob of " + std::to_string(total_size) + " bytes exceeds max_blob_bytes " +
                      std::to_string(max_blob_bytes_),
                  "total_size");
  }
  if (offset + data.size() > total_size) {
    return Status(Code::kInvalidArgument, "chunk extends past total_size", "data");
  }
  const std::string partial = partial_path(digest);
  uint64_t held = partial_size(digest);
  if (offset != held) {
    return Status(Code::kFailedPrecondition,
                  "expected offset " + std::to_string(held) + ", got " + std::to_string(offset),
                  "offset");
  }
  {
    Fd f(::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (f.fd < 0) return errno_status("open " + partial, errno);
    // 0600 whatever the umask (the published blob keeps this mode).
    if (held == 0 && ::fchmod(f.fd, 0600) != 0) return errno_status("chmod " + partial, errno);
    if (Status s = write_all(f.fd, data.data(), data.size(), partial); !s) {
      // Keep the partial file consistent with what the client was told.
      if (::ftruncate(f.fd, static_cast<off_t>(held)) != 0) {
        return errno_status("truncate " + partial, errno);
      }
      return s;
    }
  }
  if (offset + data.size() < total_size) return Status::ok();
  if (Status s = publish(digest, partial); !s) return s;
  *published = true;
  return Status::ok();
}

Status BlobStore::publish(const std::string& digest, const std::string& partial) {
  auto actual = wire::sha256_file(partial);
  if (!actual) return actual.status();
  if (actual.value() != digest) {
    ::unlink(partial.c_str());
    return Status(Code::kDigestMismatch,
                  "uploaded bytes hash to " + actual.value() + ", not " + digest, "digest");
  }
  {
    Fd f(::open(partial.c_str(), O_RDONLY | O_CLOEXEC));
    if (f.fd < 0 || ::fsync(f.fd) != 0) return errno_status("fsync " + partial, errno);
  }
  const std::string dir = root_ + "/" + digest.substr(0, 2);
  if (Status s = make_private_dirs(dir); !s) return s;
  if (::rename(partial.c_str(), path_of(digest).c_str()) != 0) {
    return errno_status("rename " + partial, errno);
  }
  return fsync_dir(dir);
}

Status BlobStore::read(const std::string& digest, uint64_t offset, uint32_t length,
                       std::vector<uint8_t>* out, uint64_t* total_size) const {
  if (!wire::is_valid_digest(digest)) {
    return Status(Code::kInvalidArgument, "not a lower-case hex sha256 digest", "digest");
  }
  const std::string path = path_of(digest);
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, "no blob " + digest, "digest");
    return errno_status("open " + path, errno);
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return errno_status("stat " + path, errno);
  *total_size = static_cast<uint64_t>(st.st_size);
  if (offset > *total_size) {
    return Status(Code::kInvalidArgument, "offset past the end of the blob", "offset");
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>(length, *total_size - offset));
  out->resize(n);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(f.fd, out->data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return errno_status("read " + path, r < 0 ? errno : EIO);
    done += static_cast<size_t>(r);
  }
  return Status::ok();
}

Result<uint64_t> BlobStore::size_of(const std::string& digest) const {
  struct stat st;
  if (!wire::is_valid_digest(digest) || ::stat(path_of(digest).c_str(), &st) != 0) {
    return Status(Code::kNotFound, "no blob " + digest, "digest");
  }
  return static_cast<uint64_t>(st.st_size);
}

Status BlobStore::remove(const std::string& digest) {
  if (!wire::is_valid_digest(digest)) {
    return Status(Code::kInvalidArgument, "not a lower-case hex sha256 digest", "digest");
  }
  const std::string path = path_of(digest);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errno_status("unlink " + path, errno);
  }
  return Status::ok();
}

size_t BlobStore::expire_partials(int64_t max_age_seconds) {
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::seconds(max_age_seconds);
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ + "/partial", ec)) {
    std::error_code entry_ec;
    if (!entry.is_regular_file(entry_ec) ||
        !wire::is_valid_digest(entry.path().filename().string())) {
      continue;
    }
    const auto written = entry.last_write_time(entry_ec);
    if (entry_ec || written >= cutoff) continue;
    if (::unlink(entry.path().c_str()) == 0) ++removed;
  }
  return removed;
}

uint64_t BlobStore::free_bytes() const {
  struct statvfs st;
  if (::statvfs(root_.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

Result<std::string> BlobStore::put(const std::string& bytes) {
  std::string digest = wire::sha256_hex(bytes);
  if (contains(digest)) return digest;
  ::unlink(partial_path(digest).c_str());
  bool published = false;
  std::vector<uint8_t> data(bytes.begin(), bytes.end());
  if (Status s = append(digest, 0, data.size(), data, &published); !s) return s;
  return digest;
}

}  // namespace autodistill::daemon
