// Checkpoints (docs/protocol.md "Checkpoints"): a lease holder's Checkpoint
// is recorded durably as its trial's newest (one row per trial) and handed
// back in Assign.resume when the trial is leased again; the blobs a newer
// checkpoint or the trial's end releases, and those of a checkpoint not
// recorded (a stale attempt's, an old step's), are deleted after the
// commit, unless something else references them.

#include "autodistill/daemon/controller.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "autodistill/daemon/log.hpp"
#include "autodistill/wire/digest.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

namespace {

constexpr size_t kMaxCheckpointBlobs = 64;
constexpr size_t kMaxCheckpointText = 256;  // a blob name, the format
constexpr uint32_t kGarbageBatch = 256;     // blobs collected per commit at most

std::set<std::string> digests_of(const BlobRefs& blobs) {
  std::set<std::string> out;
  for (const BlobRef& b : blobs) out.insert(b.digest);
  return out;
}

}  // namespace

Status Controller::check_checkpoint(const wire::CheckpointT& c) const {
  if (c.step == 0) return Status(Code::kInvalidArgument, "step must be at least 1", "step");
  if (c.format.size() > kMaxCheckpointText) {
    return Status(Code::kInvalidArgument,
                  "format exceeds " + std::to_string(kMaxCheckpointText) + " characters", "format");
  }
  if (c.blobs.empty() || c.blobs.size() > kMaxCheckpointBlobs) {
    return Status(Code::kInvalidArgument,
                  "a checkpoint names 1.." + std::to_string(kMaxCheckpointBlobs) + " blobs",
                  "blobs");
  }
  for (size_t i = 0; i < c.blobs.size(); ++i) {
    const std::string field = "blobs[" + std::to_string(i) + "]";
    const wire::ArtifactT* b = c.blobs[i].get();
    if (b == nullptr || b->name.empty() || b->name.size() > kMaxCheckpointText) {
      return Status(Code::kInvalidArgument,
                    "a blob name is 1.." + std::to_string(kMaxCheckpointText) + " characters",
                    field + ".name");
    }
    if (!wire::is_valid_digest(b->digest)) {
      return Status(Code::kInvalidArgument, "not a sha256 hex digest", field + ".digest");
    }
    auto size = blobs_.size_of(b->digest);
    if (!size) {
      return Status(Code::kNotFound,
                    "checkpoint blob \"" + b->name + "\" (" + b->digest +
                        ") is not held complete: upload it first",
                    field + ".digest");
    }
    if (size.value() != b->size) {
      return Status(Code::kInvalidArgument,
                    "checkpoint blob \"" + b->name + "\" is announced as " +
                        std::to_string(b->size) + " bytes; its blob has " +
                        std::to_string(size.value()),
                    field + ".size");
    }
  }
  return Status::ok();
}

void Controller::on_checkpoint(Worker& w, uint64_t rid, const wire::CheckpointT& c) {
  const std::string peer = w.peer;
  note_request(Endpoint::kWorker, peer, rid);
  // Only the worker holding (or that held) the attempt: anyone else is
  // refused like a forged Result.
  if (Status allowed = may_report(w, c.trial_id, c.attempt); !allowed) {
    return refuse_report(w, rid, "checkpoint", allowed);
  }
  if (Status bad = check_checkpoint(c); !bad) {
    LOG_WARN("checkpoint of trial " << c.trial_id << " attempt " << c.attempt << " from worker \""
                                    << w.worker_id << "\" refused: " << bad.to_string());
    return reply_error(Endpoint::kWorker, peer, rid, bad);
  }
  auto ack = [&] {
    wire::CheckpointAckT a;
    a.trial_id = c.trial_id;
    a.attempt = c.attempt;
    a.step = c.step;
    send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(a)));
  };
  // Not recorded: its blobs go too, unless something names them (the
  // recorded checkpoint may be the same bytes).
  auto ignore = [&] {
    for (const auto& b : c.blobs) release_blob(b->digest);
    ack();
  };
  auto it = trials_.find(c.trial_id);
  // A stale or finished attempt: nothing to record, and nothing to resend.
  if (it == trials_.end() || it->second->row.state != TrialState::Leased ||
      it->second->row.attempt != c.attempt || it->second->row.worker_id != w.worker_id) {
    return ignore();
  }
  Trial& t = *it->second;
  t.leases.renew(0, now_() + config_.lease_ms);  // a sign of life, as a Heartbeat
  auto recorded = store_.get_checkpoint(t.row.id);
  if (!recorded) return reply_error(Endpoint::kWorker, peer, rid, recorded.status());
  if (recorded.value() && recorded.value()->step >= c.step) return ignore();
  CheckpointRow row;
  row.trial_id = t.row.id;
  row.attempt = c.attempt;
  row.step = c.step;
  row.total_steps = c.total_steps;
  row.blobs = blob_refs_of(c.blobs);
  row.format = c.format;
  row.received_ms = now_();
  store_.put_checkpoint(row);
  if (recorded.value()) {
    const std::set<std::string> kept = digests_of(row.blobs);
    for (const std::string& d : digests_of(recorded.value()->blobs)) {
      if (!kept.count(d)) release_blob(d);
    }
  }
  metrics_.checkpoints++;
  LOG_DEBUG("trial " << t.row.id << " attempt " << c.attempt << ": checkpoint at step " << c.step
                     << " of " << c.total_steps);
  ack();
}

std::unique_ptr<wire::CheckpointT> Controller::resume_of(const Trial& t) {
  // Only a re-leased attempt can have one: checkpoints are recorded from
  // the lease holder, and every re-queue takes the next attempt.
  if (t.row.attempt <= 1) return nullptr;
  auto row = store_.get_checkpoint(t.row.id);
  if (!row) {
    LOG_WARN("trial " << t.row.id << ": its checkpoint cannot be read, it starts from step 0: "
                      << row.status().to_string());
    return nullptr;
  }
  if (!row.value()) return nullptr;
  const CheckpointRow& r = *row.value();
  auto c = std::make_unique<wire::CheckpointT>();
  c->trial_id = r.trial_id;
  c->attempt = r.attempt;
  c->step = r.step;
  c->total_steps = r.total_steps;
  c->format = r.format;
  c->blobs = wire_artifacts(r.blobs);
  return c;
}

void Controller::drop_checkpoint(uint64_t trial_id) {
  auto row = store_.get_checkpoint(trial_id);
  if (!row || !row.value()) return;  // none (a read error leaves it for nothing to resume)
  store_.delete_checkpoint(trial_id);
  for (const std::string& d : digests_of(row.value()->blobs)) release_blob(d);
}

void Controller::release_blob(const std::string& digest) {
  store_.add_blob_garbage(digest);
  blob_garbage_ = true;
}

void Controller::collect_blob_garbage() {
  if (!blob_garbage_) return;
  auto digests = store_.blob_garbage(kGarbageBatch);
  if (!digests) {
    LOG_WARN("blob retention: " << digests.status().to_string());
    return;
  }
  blob_garbage_ = digests.value().size() == kGarbageBatch;  // more wait for the next commit
  size_t deleted = 0;
  for (const std::string& d : digests.value()) {
    auto referenced = store_.blob_referenced(d);
    if (!referenced) {
      LOG_WARN("blob retention: " << referenced.status().to_string());
      blob_garbage_ = true;
      break;
    }
    if (referenced.value()) {
      store_.release_blob(d, false);
      continue;
    }
    if (Status s = blobs_.remove(d); !s) {
      LOG_WARN("blob retention: " << s.to_string());
      store_.release_blob(d, false);  // the file stays; its index row with it
      continue;
    }
    store_.release_blob(d, true);
    ++deleted;
  }
  metrics_.checkpoint_blobs_deleted += deleted;
  if (Status s = store_.commit(); !s) {
    // The files are gone; their list and index rows are retried from the list.
    LOG_WARN("blob retention: " << s.to_string());
    blob_garbage_ = true;
  } else if (deleted > 0) {
    LOG_INFO("deleted " << deleted << " checkpoint blobs no longer referenced");
  }
}

}  // namespace autodistill::daemon
