#pragma once
// Data-parallel distillation of one trial across the ranks of a gang, over
// torch.distributed's c10d (docs/distillation.md "Data parallelism"):
//
//  - rendezvous: rank 0 starts a TCPStore on `host` at a free port and
//    announces "host:port"; the other ranks connect to it; every rank then
//    builds a ProcessGroupGloo over it (a full mesh of TCP connections);
//  - each rank trains on its shard of the global batch (train_loop.hpp) and
//    the gradients are summed over the ranks, bucketed: per-parameter hooks
//    copy each gradient into its bucket as backward produces it, and a
//    bucket's all-reduce starts as soon as it and every earlier bucket are
//    full (the same order on every rank, as c10d requires), so the
//    exchange overlaps the rest of backward;
//  - a peer that is gone (its connections closed) or silent past `timeout`
//    fails the collective: kUnavailable, which the worker reports as a
//    retryable Failure so the daemon re-forms the gang.
//
// Gloo runs CPU tensors (and CUDA tensors through host copies); NCCL is not
// wired: Debian's LibTorch has no CUDA.
//
// Thread-safety: a Gang is used by one trial thread.

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/distill/gradient_sync.hpp"
#include "autodistill/status.hpp"

namespace autodistill::distill {

struct GangOptions {
  uint32_t rank = 0;
  uint32_t world_size = 2;
  // This worker's address for the others: rank 0's store listens on it and
  // every rank's gloo connections bind to it. Default loopback.
  std::string host = "127.0.0.1";
  // Longest wait for the rendezvous and for any collective. Default 300 s.
  std::chrono::milliseconds timeout{300000};
  // Keys of this gang in the store (e.g. "trial/attempt"), so a stale peer
  // of another attempt cannot join.
  std::string key_prefix;
};

class Gang {
 public:
  // Rank 0: starts the rendezvous store on options.host at a free port.
  // kInvalidArgument for bad options, kUnavailable when it cannot listen.
  static Result<std::unique_ptr<Gang>> host(GangOptions options);
  // Ranks > 0: connects to rank 0's store at `address` ("host:port"),
  // retrying until options.timeout. kInvalidArgument for a bad address,
  // kUnavailable when it cannot connect.
  static Result<std::unique_ptr<Gang>> join(GangOptions options, const std::string& address);
  ~Gang();
  Gang(const Gang&) = delete;
  Gang& operator=(const Gang&) = delete;

  // "host:port" of rank 0's store.
  const std::string& address() const;
  uint32_t rank() const;
  uint32_t world_size() const;

  // Builds the process group: returns when every rank has connected, or
  // kUnavailable after the timeout.
  Status form();

  // Collectives (after form()); kUnavailable when the gang is lost.
  // Rank 0's tensors overwrite every other rank's, in place.
  Status broadcast(std::vector<at::Tensor> tensors);
  // kTrialError naming `what` when the ranks' values differ (retryable: the
  // daemon re-forms the gang).
  Status check_same(uint64_t value, const std::string& what);
  // Waits until every rank got here.
  Status barrier();

  // Bucketed gradient summation over this gang (buckets of at most
  // `bucket_bytes`); valid while the gang lives.
  std::unique_ptr<GradientSync> gradient_sync(size_t bucket_bytes);

 private:
  struct Impl;
  explicit Gang(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::distill
