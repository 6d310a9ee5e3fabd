#pragma once
// Child processes and loopback ports for integration tests and benchmarks.
// A Process is killed (SIGKILL) and reaped when it goes out of scope.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace autodistill::testing {

class Process {
 public:
  // Starts argv[0] with argv; stdout and stderr go to `log_path` (appended).
  static Process spawn(const std::vector<std::string>& argv, const std::string& log_path) {
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      ::setpgid(0, 0);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    return Process(pid);
  }

  Process() = default;
  explicit Process(pid_t pid) : pid_(pid) {}
  Process(Process&& o) noexcept : pid_(o.pid_), status_(o.status_) { o.pid_ = -1; }
  Process& operator=(Process&& o) noexcept {
    reset();
    pid_ = o.pid_;
    status_ = o.status_;
    o.pid_ = -1;
    return *this;
  }
  ~Process() { reset(); }

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    return ::waitpid(pid_, &status_, WNOHANG) == 0 ? true : (pid_ = -1, false);
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits up to `timeout`; returns the exit code, 128 + signal, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      pid_t r = ::waitpid(pid_, &status_, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
    return -1;
  }
  // Resident set size in KiB (0 when unknown).
  long rss_kib() const {
    FILE* f = std::fopen(("/proc/" + std::to_string(pid_) + "/status").c_str(), "r");
    if (!f) return 0;
    char line[256];
    long kib = 0;
    while (std::fgets(line, sizeof line, f)) {
      if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    }
    std::fclose(f);
    return kib;
  }

 private:
  void reset() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
  }
  pid_t pid_ = -1;
  int status_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago, never the same one
// twice in a process (the kernel may hand a just-closed port out again).
inline int free_tcp_port() {
  static std::set<int> given;
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);
    ::close(fd);
    if (given.insert(port).second) return port;
  }
}

inline std::string loopback(int port) {
  return "tcp://127.0.0.1:" + std::to_string(port);
}

}  // namespace autodistill::testing
