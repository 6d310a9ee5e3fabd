#include "autodistill/probe/host_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace autodistill::probe {

namespace {

Status os_error(const std::string& what, const std::filesystem::path& path) {
  return Status(Code::kInternal, what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

Result<HostLock> HostLock::acquire(const std::filesystem::path& path, Mode mode,
                                   const std::function<bool()>& cancelled,
                                   std::chrono::milliseconds poll_interval) {
  // Open an existing file without O_CREAT: in a sticky world-writable
  // directory (/tmp) fs.protected_regular refuses O_CREAT on another user's
  // file. Create it exclusively only when it is missing.
  // flock needs no write access, so an existing file is opened read-only.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      // Other users' probers must open it too; umask may have narrowed the mode.
      if (::fchmod(fd, 0666) != 0) {
        Status error = os_error("cannot make world-writable", path);
        ::close(fd);
        return error;
      }
    } else if (errno == EEXIST) {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // another prober created it meanwhile
    }
  }
  if (fd < 0) return os_error("cannot open the host lock", path);
  HostLock lock(fd);
  const int operation = (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  while (::flock(fd, operation) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return os_error("cannot lock", path);
    if (cancelled && cancelled()) {
      return Status(Code::kCancelled, "cancelled while waiting for the host lock");
    }
    std::this_thread::sleep_for(poll_interval);
  }
  return lock;
}

HostLock::HostLock(HostLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

HostLock& HostLock::operator=(HostLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

HostLock::~HostLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace autodistill::probe
