#include "wake_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace autodistill::worker {

WakePipe::~WakePipe() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

Status WakePipe::open() {
  if (::pipe2(fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
    return Status(Code::kInternal, std::string("cannot create wake pipe: ") + std::strerror(errno));
  }
  return Status::ok();
}

void WakePipe::notify() const {
  if (fds_[1] < 0) return;
  const char byte = 1;
  // A full pipe is already readable, so a failed write loses nothing.
  [[maybe_unused]] ssize_t n = ::write(fds_[1], &byte, 1);
}

void WakePipe::drain() const {
  char buffer[256];
  while (::read(fds_[0], buffer, sizeof buffer) > 0) {
  }
}

}  // namespace autodistill::worker
