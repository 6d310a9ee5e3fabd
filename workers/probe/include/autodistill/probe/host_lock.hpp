#pragma once
// A host-wide readers-writer lock on a file (flock(2)), so that latency
// probes never disturb each other or a distillation on the same host:
//
//   - a probe holds it EXCLUSIVE while it builds and times a student, so one
//     probe runs at a time per host (across processes and users: the file is
//     created world-writable);
//   - a process that must not run during a probe (a distillation worker, a
//     build) may hold it SHARED while it works; several of those run together,
//     and a probe waits until all have released it. From a shell:
//       flock -s /tmp/autodistill-probe.lock make -j8
//
// The kernel drops the lock when the holder exits or crashes, so a dead
// prober never wedges the host. Each HostLock opens the file itself, so two
// HostLocks in one process exclude each other like two processes.
//
// Thread-safety: a HostLock object is not shared between threads; acquire()
// may be called from any thread.

#include <chrono>
#include <filesystem>
#include <functional>

#include "autodistill/status.hpp"

namespace autodistill::probe {

class HostLock {
 public:
  enum class Mode { kShared, kExclusive };

  // Waits until the lock at `path` is held in `mode` (creating the file, mode
  // 0666, if missing), checking `cancelled` (may be empty) every
  // `poll_interval`. Codes: kCancelled, kInternal (the file cannot be opened
  // or locked; the message names the path and the OS error).
  static Result<HostLock> acquire(
      const std::filesystem::path& path, Mode mode, const std::function<bool()>& cancelled = {},
      std::chrono::milliseconds poll_interval = std::chrono::milliseconds(20));

  HostLock(HostLock&& other) noexcept;
  HostLock& operator=(HostLock&& other) noexcept;
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  // Releases the lock.
  ~HostLock();

 private:
  explicit HostLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace autodistill::probe
