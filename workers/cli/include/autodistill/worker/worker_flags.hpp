#pragma once
// The command-line flags every worker executable shares (where the daemon
// is, who the worker is, how many slots, which hardware tag, where blobs and
// scratch files go, which studies), applied to a PullWorkerOptions.

#include <cstdint>
#include <string>

#include "autodistill/flag_parser.hpp"
#include "autodistill/status.hpp"
#include "autodistill/worker/pull_worker.hpp"

namespace autodistill::worker {

struct WorkerFlags {
  // Filled by the flags; `options.role` is set by the executable beforehand.
  PullWorkerOptions options;
  // --tag: the hardware tag reported in Hello.
  std::string tag = "cpu";
  // --instance: which worker of this role on this host (systemd's %i).
  uint32_t instance = 0;
};

// Registers --endpoint, --worker-id, --instance, --slots, --tag, --cache-dir,
// --scratch-dir and --study (repeatable) on `parser`, storing into `flags`.
void add_worker_flags(FlagParser& parser, WorkerFlags& flags);

// Completes the options after parsing: the default worker id
// "<hostname>-<role>-<instance>" (stable across restarts), the hardware
// description of this host under `tag`, and the default cache directory
// ($XDG_CACHE_HOME/autodistill/blobs, else ~/.cache/autodistill/blobs, else
// the library default).
void finish_worker_flags(WorkerFlags& flags);

// "distill" | "probe" | "external" (kInvalidArgument otherwise), and back.
Result<wire::Role> parse_role(const std::string& name);
const char* role_name(wire::Role role);

}  // namespace autodistill::worker
