#include "autodistill/worker/trial_context.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "autodistill/wire/object_fields.hpp"

namespace autodistill::worker {

TrialSpec trial_spec_from_assign(const wire::AssignT& assign) {
  TrialSpec spec;
  spec.trial_id = assign.trial_id;
  spec.attempt = assign.attempt;
  spec.study_id = assign.study_id;
  spec.kind = assign.kind;
  for (const auto& param : assign.params) {
    if (!param) continue;
    if (!param->category.empty()) {
      spec.params[param->name] = param->category;
    } else {
      spec.params[param->name] = param->number;
    }
  }
  spec.objectives = assign.objectives;
  spec.settings_json = assign.settings_json;
  spec.teacher_digest = assign.teacher_digest;
  spec.corpus_digest = assign.corpus_digest;
  spec.hardware_tag = assign.hardware_tag;
  if (assign.resume) spec.resume = checkpoint_ref_from_wire(*assign.resume);
  if (assign.gang) {
    spec.gang = GangSpec{assign.gang->rank, assign.gang->world_size, assign.gang->address};
  }
  return spec;
}

namespace {

// A checkpoint's fields, listed once for both directions.
struct CheckpointFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.trial_id = in.trial_id;
    out.attempt = in.attempt;
    out.step = in.step;
    out.total_steps = in.total_steps;
    out.format = in.format;
    wire::copy_list(in.blobs, out.blobs, wire::ArtifactFields{});
  }
};

}  // namespace

CheckpointRef checkpoint_ref_from_wire(const wire::CheckpointT& checkpoint) {
  CheckpointRef ref;
  CheckpointFields{}(checkpoint, ref);
  return ref;
}

wire::CheckpointT checkpoint_ref_to_wire(const CheckpointRef& ref) {
  wire::CheckpointT checkpoint;
  CheckpointFields{}(ref, checkpoint);
  return checkpoint;
}

TrialContext::TrialContext(TrialSpec spec, std::filesystem::path scratch_dir, BlobFetcher fetcher)
    : TrialContext(std::move(spec), std::move(scratch_dir),
                   TrialServices{std::move(fetcher), {}, {}, {}}) {}

TrialContext::TrialContext(TrialSpec spec, std::filesystem::path scratch_dir,
                           TrialServices services)
    : spec_(std::move(spec)), scratch_dir_(std::move(scratch_dir)), services_(std::move(services)) {
  if (spec_.gang && !spec_.gang->address.empty()) gang_address_ = spec_.gang->address;
}

TrialContext::~TrialContext() {
  stop_checkpoints();
}

void TrialContext::report_progress(double fraction, std::string message,
                                   std::map<std::string, double> metrics) {
  if (!std::isfinite(fraction)) fraction = 0.0;
  std::lock_guard lock(mu_);
  progress_.fraction = std::clamp(fraction, 0.0, 1.0);
  progress_.message = std::move(message);
  progress_.metrics = std::move(metrics);
}

ProgressReport TrialContext::progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

bool TrialContext::wait_cancelled_for(std::chrono::milliseconds duration) const {
  std::unique_lock lock(mu_);
  cancel_cv_.wait_for(lock, duration, [this] { return cancelled(); });
  return cancelled();
}

void TrialContext::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_.store(true, std::memory_order_release);
  }
  cancel_cv_.notify_all();
}

Result<std::filesystem::path> TrialContext::fetch_blob(const std::string& digest) {
  if (!services_.fetch) {
    return Status(Code::kFailedPrecondition, "this trial context has no blob source");
  }
  if (cancelled()) return Status(Code::kCancelled, "trial cancelled");
  return services_.fetch(digest, [this] { return cancelled(); });
}

// ---- Checkpoints

bool TrialContext::checkpoints_enabled() const {
  return services_.upload && services_.checkpoints_enabled && services_.checkpoints_enabled() &&
         !stop_publishing_.load();
}

bool TrialContext::checkpoint_busy() const {
  std::lock_guard lock(mu_);
  return publishing_;
}

bool TrialContext::publish_checkpoint(uint64_t step, uint64_t total_steps, std::string format,
                                      CheckpointWriter writer) {
  if (!checkpoints_enabled() || cancelled()) return false;
  std::lock_guard publish_lock(publish_mu_);
  {
    std::lock_guard lock(mu_);
    if (publishing_ || stop_publishing_.load()) return false;
    publishing_ = true;
  }
  if (publisher_.joinable()) publisher_.join();  // the previous one has ended
  publisher_ = std::thread(
      [this, step, total_steps, format = std::move(format), writer = std::move(writer)]() mutable {
        publish_main(step, total_steps, std::move(format), std::move(writer));
      });
  return true;
}

void TrialContext::publish_main(uint64_t step, uint64_t total_steps, std::string format,
                                CheckpointWriter writer) {
  auto abort = [this] { return cancelled() || stop_publishing_.load(); };
  CheckpointRef ref;
  ref.trial_id = spec_.trial_id;
  ref.attempt = spec_.attempt;
  ref.step = step;
  ref.total_steps = total_steps;
  ref.format = std::move(format);
  Status status;
  Result<std::vector<CheckpointFile>> files = writer();
  if (!files) {
    status = files.status();
  } else {
    for (const CheckpointFile& file : *files) {
      std::error_code ec;
      const uint64_t size = std::filesystem::file_size(file.path, ec);
      if (!status) continue;  // an earlier file failed: only clean up
      if (ec) {
        status =
            Status(Code::kInternal, "checkpoint file " + file.path.string() + ": " + ec.message());
        continue;
      }
      Result<std::string> digest =
          abort() ? Result<std::string>(Status(Code::kCancelled, "checkpoint aborted"))
                  : services_.upload(file.path, abort);
      if (digest) {
        ref.blobs.push_back({file.name, digest.value(), size});
      } else {
        status = digest.status();
      }
    }
    for (const CheckpointFile& file : *files) {
      std::error_code ignored;
      std::filesystem::remove(file.path, ignored);
    }
  }
  {
    std::lock_guard lock(mu_);
    if (status && !abort()) {
      checkpoint_report_ = std::move(ref);
      ++published_;
    }
    last_publication_ = status;
  }
  // The loop is woken before the publication counts as finished, so that
  // whoever waits for it (wait_checkpoint) finds the loop told.
  if (status && services_.wake) services_.wake();
  {
    std::lock_guard lock(mu_);
    publishing_ = false;
  }
  cancel_cv_.notify_all();
}

Status TrialContext::wait_checkpoint() {
  std::unique_lock lock(mu_);
  cancel_cv_.wait(lock, [this] { return !publishing_; });
  return last_publication_;
}

void TrialContext::stop_checkpoints() {
  stop_publishing_.store(true);
  std::lock_guard publish_lock(publish_mu_);
  if (publisher_.joinable()) publisher_.join();
}

std::optional<CheckpointRef> TrialContext::take_checkpoint_report() {
  std::lock_guard lock(mu_);
  std::optional<CheckpointRef> report = std::move(checkpoint_report_);
  checkpoint_report_.reset();
  return report;
}

uint64_t TrialContext::checkpoints_published() const {
  std::lock_guard lock(mu_);
  return published_;
}

// ---- Gangs

void TrialContext::announce_gang_address(std::string address) {
  {
    std::lock_guard lock(mu_);
    announced_ = std::move(address);
  }
  if (services_.wake) services_.wake();
}

std::optional<std::string> TrialContext::gang_announcement() const {
  std::lock_guard lock(mu_);
  return announced_;
}

void TrialContext::set_gang_address(std::string address) {
  {
    std::lock_guard lock(mu_);
    gang_address_ = std::move(address);
  }
  cancel_cv_.notify_all();
}

std::optional<std::string> TrialContext::wait_gang_address(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cancel_cv_.wait_for(lock, timeout, [this] { return gang_address_.has_value() || cancelled(); });
  if (cancelled()) return std::nullopt;
  return gang_address_;
}

}  // namespace autodistill::worker
