#include "autodistill/worker/worker_flags.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <limits>

#include "autodistill/wire/hardware_tag.hpp"
#include "autodistill/worker/hardware.hpp"

namespace autodistill::worker {

namespace {

std::string hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

Status set_dir(std::filesystem::path& out, const std::string& value) {
  if (value.empty()) return Status(Code::kInvalidArgument, "needs a directory");
  out = value;
  return Status::ok();
}

}  // namespace

void add_worker_flags(FlagParser& parser, WorkerFlags& flags) {
  PullWorkerOptions& o = flags.options;
  parser.add("endpoint", "URL", "The daemon's worker endpoint (default " + o.endpoint + ").",
             [&o](const std::string& v) {
               if (v.empty()) return Status(Code::kInvalidArgument, "needs an endpoint");
               o.endpoint = v;
               return Status::ok();
             });
  parser.add_text("worker-id", "ID",
                  "Stable worker identity, kept across restarts (default\n"
                  "<hostname>-<role>-<instance>).",
                  &o.worker_id);
  parser.add_int("instance",
                 "Which worker of this role on this host, for the default --worker-id\n"
                 "(default 0; systemd: autodistill-worker@N).",
                 &flags.instance, 0, std::numeric_limits<uint32_t>::max());
  parser.add_int("slots", "Trials evaluated at once, each on its own thread (default 1).", &o.slots,
                 1, 1024);
  parser.add("tag", "TAG",
             "Hardware tag reported to the daemon; probe trials go to workers whose\n"
             "tag equals the study's hardware_tag (default cpu). At most 128 of\n"
             "A-Z a-z 0-9 . _ : - (the daemon refuses any other tag).",
             [&flags](const std::string& v) {
               if (v.empty()) return Status(Code::kInvalidArgument, "needs a tag");
               if (Status s = wire::check_hardware_tag(v, "--tag"); !s) return s;
               flags.tag = v;
               return Status::ok();
             });
  parser.add("cache-dir", "DIR",
             "Blob cache, keyed by sha256; may be shared by the workers of a host\n"
             "(default $XDG_CACHE_HOME/autodistill/blobs or ~/.cache/autodistill/blobs).",
             [&o](const std::string& v) { return set_dir(o.cache_dir, v); });
  parser.add("scratch-dir", "DIR",
             "Parent of the per-trial scratch directories, removed after each trial\n"
             "(default <temp>/autodistill-scratch/<worker-id>).",
             [&o](const std::string& v) { return set_dir(o.scratch_dir, v); });
  parser.add_text("server-key", "FILE",
                  "The daemon's CURVE public key file (default $AUTODISTILL_SERVER_KEY;\n"
                  "unset: no CURVE).",
                  &o.server_key_file);
  parser.add_text("key-file", "FILE",
                  "This worker's CURVE secret key file, mode 0600 (default\n"
                  "$AUTODISTILL_KEY_FILE).",
                  &o.key_file);
  parser.add("study", "ID",
             "A study whose trials this worker evaluates (repeatable; External role).",
             [&o](const std::string& v) {
               auto n = parse_uint(v, 1, std::numeric_limits<uint64_t>::max());
               if (!n) return n.status();
               o.studies.push_back(n.value());
               return Status::ok();
             });
}

void finish_worker_flags(WorkerFlags& flags) {
  PullWorkerOptions& o = flags.options;
  if (o.worker_id.empty()) {
    o.worker_id = hostname() + "-" + role_name(o.role) + "-" + std::to_string(flags.instance);
  }
  o.hardware = describe_host(flags.tag);
  if (const char* env = std::getenv("AUTODISTILL_SERVER_KEY"); env && o.server_key_file.empty()) {
    o.server_key_file = env;
  }
  if (const char* env = std::getenv("AUTODISTILL_KEY_FILE"); env && o.key_file.empty()) {
    o.key_file = env;
  }
  if (o.cache_dir.empty()) {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
      o.cache_dir = std::filesystem::path(xdg) / "autodistill" / "blobs";
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      o.cache_dir = std::filesystem::path(home) / ".cache" / "autodistill" / "blobs";
    }
  }
}

Result<wire::Role> parse_role(const std::string& name) {
  if (name == "distill") return wire::Role::Distill;
  if (name == "probe") return wire::Role::Probe;
  if (name == "external") return wire::Role::External;
  return Status(Code::kInvalidArgument,
                "unknown role \"" + name + "\" (want distill, probe or external)", "role");
}

const char* role_name(wire::Role role) {
  switch (role) {
    case wire::Role::Distill:
      return "distill";
    case wire::Role::Probe:
      return "probe";
    case wire::Role::External:
      return "external";
  }
  return "unknown";
}

}  // namespace autodistill::worker
