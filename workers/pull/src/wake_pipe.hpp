#pragma once
// A self-pipe that wakes the pull loop's zmq_poll from other threads (a
// finished trial, stop()). notify() is thread-safe and async-signal-safe;
// read_fd() and drain() belong to the polling thread.

#include "autodistill/status.hpp"

namespace autodistill::worker {

class WakePipe {
 public:
  WakePipe() = default;
  ~WakePipe();
  WakePipe(const WakePipe&) = delete;
  WakePipe& operator=(const WakePipe&) = delete;

  // Creates the non-blocking pipe. kInternal when the OS refuses.
  Status open();
  int read_fd() const { return fds_[0]; }
  // Makes read_fd() readable. A no-op before open().
  void notify() const;
  // Empties the pipe.
  void drain() const;

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace autodistill::worker
