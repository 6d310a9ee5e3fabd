#include "autodistill/worker/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace autodistill::worker {

namespace {

// Longest wait between two looks at the cancellation flag.
constexpr int kCancelSliceMs = 100;
// Once the shell has exited, how long its stdout/stderr may stay open (held
// by a background process it left behind) before they are abandoned.
constexpr std::chrono::milliseconds kPipeGrace{1000};
// Between two looks for the exit of a shell that has closed its output.
constexpr std::chrono::milliseconds kReapSlice{2};

Status os_error(const std::string& what) {
  return Status(Code::kInternal, what + ": " + std::strerror(errno));
}

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Status make_pipe(Pipe& p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return os_error("cannot create a pipe");
  p.read.reset(fds[0]);
  p.write.reset(fds[1]);
  return Status::ok();
}

// Blocks SIGPIPE in this thread for its lifetime, then discards a SIGPIPE
// raised meanwhile and restores the previous mask.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
};

// Starts /bin/sh -c in a new process group with stdio on the given fds.
Result<pid_t> spawn(const ShellCommand& command, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);

  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), command.environment.begin(), command.environment.end());
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", text = command.command;
  char* argv[] = {sh.data(), dash_c.data(), text.data(), nullptr};

  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status(Code::kInternal, std::string("cannot start /bin/sh: ") + std::strerror(rc));
  }
  return pid;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

Result<ShellOutcome> run_shell(const ShellCommand& command,
                               const std::function<bool()>& cancelled) {
  SigpipeGuard sigpipe_guard;
  Pipe in, out, err;
  for (Pipe* p : {&in, &out, &err}) {
    if (Status s = make_pipe(*p); !s) return s;
  }
  auto pid = spawn(command, in.read.get(), out.write.get(), err.write.get());
  if (!pid) return pid.status();
  in.read.reset();
  out.write.reset();
  err.write.reset();
  for (int fd : {in.write.get(), out.read.get(), err.read.get()}) set_nonblocking(fd);

  ShellOutcome outcome;
  size_t written = 0;
  if (command.input.empty()) in.write.reset();
  std::chrono::steady_clock::time_point kill_deadline;
  bool killed_hard = false;
  auto check_cancel = [&] {
    if (!outcome.cancelled && cancelled && cancelled()) {
      outcome.cancelled = true;
      ::kill(-pid.value(), SIGTERM);
      kill_deadline = std::chrono::steady_clock::now() + command.kill_grace;
    }
    if (outcome.cancelled && !killed_hard && std::chrono::steady_clock::now() >= kill_deadline) {
      ::kill(-pid.value(), SIGKILL);
      killed_hard = true;
    }
  };

  int status = 0;
  bool reaped = false;
  auto pipes_deadline = std::chrono::steady_clock::time_point::max();
  auto try_reap = [&] {
    if (!reaped && ::waitpid(pid.value(), &status, WNOHANG) == pid.value()) {
      reaped = true;
      pipes_deadline = std::chrono::steady_clock::now() + kPipeGrace;
    }
  };

  char buffer[65536];
  while ((out.read.get() >= 0 || err.read.get() >= 0) &&
         std::chrono::steady_clock::now() < pipes_deadline) {
    check_cancel();
    try_reap();
    pollfd fds[3] = {
        {in.write.get(), POLLOUT, 0}, {out.read.get(), POLLIN, 0}, {err.read.get(), POLLIN, 0}};
    int rc = ::poll(fds, 3, kCancelSliceMs);
    if (rc < 0 && errno != EINTR) {
      ::kill(-pid.value(), SIGKILL);
      if (!reaped) ::waitpid(pid.value(), nullptr, 0);
      return os_error("poll on the command's pipes failed");
    }
    if (rc <= 0) continue;
    if (fds[0].fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n =
          ::write(in.write.get(), command.input.data() + written, command.input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      // EPIPE: the child does not read its input; that is its business.
      if ((n < 0 && errno != EAGAIN) || written == command.input.size()) in.write.reset();
    }
    if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(out.read.get(), buffer, sizeof buffer);
      if (n > 0) {
        size_t room = command.max_output_bytes - outcome.output.size();
        if (static_cast<size_t>(n) > room) outcome.output_truncated = true;
        outcome.output.append(buffer, std::min(room, static_cast<size_t>(n)));
      } else if (n == 0 || errno != EAGAIN) {
        out.read.reset();
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(err.read.get(), buffer, sizeof buffer);
      if (n > 0) {
        outcome.stderr_tail.append(buffer, static_cast<size_t>(n));
        if (outcome.stderr_tail.size() > command.stderr_tail_bytes) {
          outcome.stderr_tail.erase(0, outcome.stderr_tail.size() - command.stderr_tail_bytes);
        }
      } else if (n == 0 || errno != EAGAIN) {
        err.read.reset();
      }
    }
  }
  in.write.reset();
  out.read.reset();
  err.read.reset();

  // The shell closed its output, so it is exiting (or was killed): reap it.
  while (!reaped) {
    try_reap();
    if (reaped) break;
    check_cancel();
    std::this_thread::sleep_for(kReapSlice);
  }
  // Nothing the command started outlives its trial.
  ::kill(-pid.value(), SIGKILL);
  if (WIFEXITED(status)) outcome.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

}  // namespace autodistill::worker
