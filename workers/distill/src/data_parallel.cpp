#include "autodistill/distill/data_parallel.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <charconv>

namespace autodistill::distill {

namespace {

Status lost(const std::string& during, const std::exception& e) {
  return Status(Code::kUnavailable, "the gang is lost (" + during + "): " + e.what());
}

// Waits for a collective; kUnavailable when a peer is gone or too slow.
Status finish(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    return lost(what, e);
  }
  return Status::ok();
}

}  // namespace

struct Gang::Impl {
  GangOptions options;
  std::string address;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  Status require_group() const {
    return group ? Status::ok()
                 : Status(Code::kFailedPrecondition, "the gang is not formed (call form())");
  }
};

namespace {

Status check_options(const GangOptions& o) {
  if (o.world_size < 2) {
    return Status(Code::kInvalidArgument, "a gang has at least 2 ranks", "world_size");
  }
  if (o.rank >= o.world_size) {
    return Status(Code::kInvalidArgument,
                  "rank " + std::to_string(o.rank) + " is not below world_size " +
                      std::to_string(o.world_size),
                  "rank");
  }
  if (o.host.empty()) return Status(Code::kInvalidArgument, "the gang host is empty", "host");
  if (o.timeout.count() <= 0) {
    return Status(Code::kInvalidArgument, "the gang timeout must be positive", "timeout");
  }
  return Status::ok();
}

// A sum over the ranks, one bucket per run of parameters whose gradients
// backward produces together (the parameters in reverse order: the last
// layers' gradients come first).
class BucketSync : public GradientSync {
 public:
  BucketSync(c10::intrusive_ptr<c10d::ProcessGroupGloo> group, uint32_t rank, uint32_t world,
             size_t bucket_bytes)
      : group_(std::move(group)),
        rank_(rank),
        world_(world),
        bucket_bytes_(std::max<size_t>(1, bucket_bytes)) {}
  ~BucketSync() override { end_phase(); }

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_; }

  Status begin_phase(const std::vector<at::Tensor>& params) override {
    end_phase();
    size_t bytes = 0;
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      const at::Tensor& p = *it;
      if (p.scalar_type() != at::kFloat) {
        return Status(Code::kInvalidArgument, "data parallelism exchanges float32 gradients only",
                      "params");
      }
      const size_t size = static_cast<size_t>(p.numel()) * sizeof(float);
      if (buckets_.empty() || (bytes + size > bucket_bytes_ && !buckets_.back().slots.empty())) {
        buckets_.emplace_back();
        bytes = 0;
      }
      Bucket& b = buckets_.back();
      slots_.push_back(
          {p, static_cast<int64_t>(bytes / sizeof(float)), p.numel(), buckets_.size() - 1});
      b.slots.push_back(slots_.size() - 1);
      bytes += size;
      b.numel = static_cast<int64_t>(bytes / sizeof(float));
      b.device = p.device();
    }
    for (Bucket& b : buckets_) {
      b.flat = at::zeros({b.numel}, at::TensorOptions().dtype(at::kFloat).device(b.device));
    }
    for (size_t i = 0; i < slots_.size(); ++i) {
      const at::Tensor& p = slots_[i].param;
      const unsigned handle =
          p.register_hook([this, i](const at::Tensor& grad) { on_grad(i, grad); });
      hooks_.emplace_back(p, handle);
    }
    reset_step();
    return Status::ok();
  }

  void end_phase() override {
    for (auto& [param, handle] : hooks_) param.remove_hook(handle);
    hooks_.clear();
    slots_.clear();
    buckets_.clear();
  }

  Result<double> finish_step(double loss) override {
    // Buckets still waiting hold parameters backward did not reach (the
    // same on every rank): they go out with zeros there.
    for (Bucket& b : buckets_) {
      if (b.pending == 0) continue;
      for (size_t i : b.slots) {
        if (!slots_[i].filled) b.flat.narrow(0, slots_[i].offset, slots_[i].numel).zero_();
      }
      b.pending = 0;
    }
    launch_ready();
    for (size_t k = 0; k < buckets_.size() && error_; ++k) {
      if (buckets_[k].work) error_ = finish(buckets_[k].work, "gradient all-reduce");
    }
    Status status = error_;
    if (status) {
      at::NoGradGuard no_grad;
      for (const Slot& s : slots_) {
        if (!s.filled) continue;
        const at::Tensor sum =
            buckets_[s.bucket].flat.narrow(0, s.offset, s.numel).view(s.param.sizes());
        if (s.param.grad().defined()) {
          s.param.mutable_grad().copy_(sum);
        } else {
          s.param.mutable_grad() = sum.clone();
        }
      }
    }
    reset_step();
    if (!status) return status;
    std::vector<at::Tensor> value{at::full({1}, loss, at::kDouble)};
    try {
      auto work = group_->allreduce(value);
      if (Status s = finish(work, "loss all-reduce"); !s) return s;
    } catch (const std::exception& e) {
      return lost("loss all-reduce", e);
    }
    return value[0].item<double>();
  }

 private:
  struct Slot {
    at::Tensor param;
    int64_t offset = 0;  // in its bucket's flat buffer, in elements
    int64_t numel = 0;
    size_t bucket = 0;
    bool filled = false;  // its gradient of this step is in the bucket
  };
  struct Bucket {
    std::vector<size_t> slots;
    int64_t numel = 0;
    at::Device device = at::kCPU;
    at::Tensor flat;
    size_t pending = 0;  // slots not filled yet this step
    c10::intrusive_ptr<c10d::Work> work;
  };

  void reset_step() {
    for (Slot& s : slots_) s.filled = false;
    for (Bucket& b : buckets_) {
      b.pending = b.slots.size();
      b.work.reset();
    }
    next_launch_ = 0;
    error_ = Status::ok();
  }

  // Called by autograd with a parameter's gradient, before it is
  // accumulated into .grad().
  void on_grad(size_t index, const at::Tensor& grad) {
    Slot& s = slots_[index];
    Bucket& b = buckets_[s.bucket];
    if (b.work) {
      if (error_) {
        error_ = Status(Code::kInternal, "a gradient arrived after its bucket was sent");
      }
      return;
    }
    at::NoGradGuard no_grad;
    at::Tensor slice = b.flat.narrow(0, s.offset, s.numel);
    if (s.filled) {
      slice.add_(grad.reshape(-1));
    } else {
      slice.copy_(grad.reshape(-1));
      s.filled = true;
      --b.pending;
    }
    launch_ready();
  }

  // Starts the all-reduce of every full bucket whose predecessors are all
  // started: the same order on every rank.
  void launch_ready() {
    while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
      Bucket& b = buckets_[next_launch_++];
      if (!error_) continue;
      try {
        std::vector<at::Tensor> tensors{b.flat};
        b.work = group_->allreduce(tensors);
      } catch (const std::exception& e) {
        error_ = lost("gradient all-reduce", e);
      }
    }
  }

  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  const uint32_t rank_, world_;
  const size_t bucket_bytes_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<at::Tensor, unsigned>> hooks_;
  size_t next_launch_ = 0;
  Status error_;
};

}  // namespace

Gang::Gang(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gang::~Gang() = default;

Result<std::unique_ptr<Gang>> Gang::host(GangOptions options) {
  if (Status s = check_options(options); !s) return s;
  if (options.rank != 0) {
    return Status(Code::kInvalidArgument, "only rank 0 hosts the rendezvous", "rank");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  try {
    c10d::TCPStoreOptions store;
    store.port = 0;  // a free port
    store.isServer = true;
    store.waitWorkers = false;
    store.timeout = options.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(options.host, store);
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable,
                  "cannot start the rendezvous store on " + options.host + ": " + e.what(),
                  "gang_host");
  }
  impl->address = options.host + ":" + std::to_string(impl->store->getPort());
  return std::unique_ptr<Gang>(new Gang(std::move(impl)));
}

Result<std::unique_ptr<Gang>> Gang::join(GangOptions options, const std::string& address) {
  if (Status s = check_options(options); !s) return s;
  if (options.rank == 0) {
    return Status(Code::kInvalidArgument, "rank 0 hosts the rendezvous", "rank");
  }
  const size_t colon = address.rfind(':');
  uint16_t port = 0;
  std::string host = colon == std::string::npos ? std::string() : address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const char* begin = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  if (colon == std::string::npos || host.empty() || std::from_chars(begin, end, port).ptr != end ||
      port == 0) {
    return Status(Code::kInvalidArgument,
                  "the gang address must be host:port, not \"" + address + "\"", "gang.address");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->address = address;
  try {
    c10d::TCPStoreOptions store;
    store.port = port;
    store.isServer = false;
    store.timeout = options.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(host, store);
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable,
                  "cannot reach the rendezvous store at " + address + ": " + e.what(),
                  "gang.address");
  }
  return std::unique_ptr<Gang>(new Gang(std::move(impl)));
}

const std::string& Gang::address() const {
  return impl_->address;
}
uint32_t Gang::rank() const {
  return impl_->options.rank;
}
uint32_t Gang::world_size() const {
  return impl_->options.world_size;
}

Status Gang::form() {
  Impl& m = *impl_;
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(m.options.timeout);
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(m.options.host));
    auto store = c10::make_intrusive<c10d::PrefixStore>(m.options.key_prefix + "/", m.store);
    m.group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        store, static_cast<int>(m.options.rank), static_cast<int>(m.options.world_size), options);
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, "the gang did not form within " +
                                          std::to_string(m.options.timeout.count()) +
                                          " ms: " + e.what());
  }
  return Status::ok();
}

Status Gang::broadcast(std::vector<at::Tensor> tensors) {
  if (Status s = impl_->require_group(); !s) return s;
  if (tensors.empty()) return Status::ok();
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> flat_parts;
  for (const at::Tensor& t : tensors) flat_parts.push_back(t.detach().reshape(-1));
  std::vector<at::Tensor> flat{at::cat(flat_parts)};
  try {
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    if (Status s = finish(impl_->group->broadcast(flat, options), "broadcast"); !s) return s;
  } catch (const std::exception& e) {
    return lost("broadcast", e);
  }
  int64_t offset = 0;
  for (at::Tensor& t : tensors) {
    t.detach().copy_(flat[0].narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
  return Status::ok();
}

Status Gang::check_same(uint64_t value, const std::string& what) {
  if (Status s = impl_->require_group(); !s) return s;
  int64_t seen[2];
  for (int i = 0; i < 2; ++i) {
    std::vector<at::Tensor> t{at::full({1}, static_cast<int64_t>(value), at::kLong)};
    c10d::AllreduceOptions options;
    options.reduceOp = i == 0 ? c10d::ReduceOp::MIN : c10d::ReduceOp::MAX;
    try {
      if (Status s = finish(impl_->group->allreduce(t, options), "check of " + what); !s) {
        return s;
      }
    } catch (const std::exception& e) {
      return lost("check of " + what, e);
    }
    seen[i] = t[0].item<int64_t>();
  }
  if (seen[0] != seen[1]) {
    return Status(Code::kTrialError, "the ranks of the gang disagree on " + what);
  }
  return Status::ok();
}

Status Gang::barrier() {
  if (Status s = impl_->require_group(); !s) return s;
  try {
    return finish(impl_->group->barrier(), "barrier");
  } catch (const std::exception& e) {
    return lost("barrier", e);
  }
}

std::unique_ptr<GradientSync> Gang::gradient_sync(size_t bucket_bytes) {
  return std::make_unique<BucketSync>(impl_->group, impl_->options.rank, impl_->options.world_size,
                                      bucket_bytes);
}

}  // namespace autodistill::distill
