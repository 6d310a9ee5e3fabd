#pragma once
// Directories and files of the data directory are the daemon user's alone:
// created 0700 / 0600 whatever the process umask (the store holds every
// study, result and artifact; the blob store the teachers and students).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "autodistill/status.hpp"

namespace autodistill::daemon {

// mkdir -p with mode 0700 for every directory it creates; directories that
// already exist are left as they are (e.g. a data directory made by the
// operator or by systemd's StateDirectory=).
inline Status make_private_dirs(const std::string& path) {
  if (path.empty()) return Status(Code::kInvalidArgument, "empty directory path");
  for (size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
    const std::string prefix = at == std::string::npos ? path : path.substr(0, at);
    if (!prefix.empty() && prefix.back() != '/') {
      if (::mkdir(prefix.c_str(), 0700) == 0) {
        if (::chmod(prefix.c_str(), 0700) != 0) {
          return Status(Code::kInternal, "cannot chmod " + prefix + ": " + std::strerror(errno));
        }
      } else if (errno != EEXIST) {
        return Status(Code::kInternal, "cannot create " + prefix + ": " + std::strerror(errno));
      }
    }
    if (at == std::string::npos) break;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(Code::kInternal, path + " is not a directory");
  }
  return Status::ok();
}

// open(path, flags | O_CREAT) with mode 0600, tightened to 0600 even when
// the file existed; -1 with errno on failure.
inline int open_private(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0 && ::fchmod(fd, 0600) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

}  // namespace autodistill::daemon
