#pragma once
// The controller: study and trial state machines, the worker registry,
// dispatch, leases, watchers. It consumes decoded requests and produces
// outbound messages; it owns no sockets, so tests drive it directly.
//
// Group commit: every handler writes to the Store's open transaction and
// queues its replies; commit() makes the batch durable and only then hands
// back the queued messages to send. Nothing is acknowledged before it is on
// disk. A failed commit rolls the batch back, answers the batch's requests
// with the error, forgets worker sessions (they Hello again) and rebuilds
// the in-memory state from the store.
//
// Suggestions: a study's next candidates are computed by a SuggestJob (a
// snapshot of its proposer) that the SuggestRunner may run on another thread;
// the result comes back on the loop thread, where the candidates are stored
// (before any is dispatched) in the next batch. At most one suggestion per
// study is in flight; a result for a study that was cancelled, ended or
// rebuilt meanwhile is dropped.
//
// Integrity: a Result or Failure counts only from the worker holding that
// trial's lease, or from the worker that held an earlier attempt (a late
// report); anything else gets Error{PermissionDenied | NotFound}. Under CURVE
// a worker_id belongs to the key of its first Hello. After a lease expiry
// other workers are preferred for that trial; a worker whose leases expire
// twice in a row is quarantined (no new work, growing with each expiry). A Regular trial's
// artifacts are checked (artifact_check.hpp) before it completes. A
// Checkpoint is taken from the lease holder only, acknowledged once durable,
// and a re-leased trial resumes from its newest one.
//
// Not thread-safe: one event-loop thread drives it.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "autodistill/daemon/blob_store.hpp"
#include "autodistill/daemon/config.hpp"
#include "autodistill/daemon/metrics.hpp"
#include "autodistill/daemon/proposer.hpp"
#include "autodistill/daemon/snapshot.hpp"
#include "autodistill/daemon/store.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

namespace protocol {
class SessionRegistry;
struct WorkerSession;
}  // namespace protocol
namespace study {
class ProbeCache;
class StoreProbeRows;
struct Effects;
struct StudyView;
struct TrialView;
struct ReprobePolicy;
}  // namespace study

enum class Endpoint { kWorker = 0, kClient = 1 };

struct Outbound {
  Endpoint endpoint;
  std::string peer;  // ZeroMQ routing id
  std::string bytes;
};

// Wall-clock milliseconds since the epoch (leases are stored as such).
using Clock = std::function<int64_t()>;
int64_t system_now_ms();

// Runs `job` (any thread), then `deliver` with its result on the event-loop
// thread, followed by Controller::commit(). Unset: both run inline at once.
using SuggestRunner =
    std::function<void(SuggestJob job, std::function<void(std::vector<Params>)> deliver)>;
// Runs work that makes later suggestions cheaper without changing them
// (Proposer::background()) on any thread, nothing delivered. Unset: not run
// (suggestions then do that work themselves, to the same results).
using BackgroundRunner = std::function<void(std::function<void()> work)>;

class Controller {
 public:
  Controller(const Config& config, Store& store, BlobStore& blobs, Clock clock = system_now_ms);
  ~Controller();

  // Loads every non-terminal study and trial from the store. Leases that
  // were running get at least lease_ms from now, so workers can reconnect.
  Status recover();

  // Handles one inbound frame (verified here before anything reads it).
  // `user` is the sender's authenticated CURVE public key (ZAP User-Id),
  // empty without authentication.
  void on_message(Endpoint endpoint, const std::string& peer, const void* data, size_t size,
                  const std::string& user = {});

  // Where suggestion jobs run (the daemon: a worker thread). Set before
  // recover().
  void set_suggest_runner(SuggestRunner runner) { runner_ = std::move(runner); }
  // Where background work of the proposers runs (the daemon: the suggestion
  // threads), handed over after each suggestion job. Set before recover().
  void set_background_runner(BackgroundRunner runner) { background_ = std::move(runner); }
  // Suggestion jobs handed to the runner whose result has not come back.
  size_t suggestions_in_flight() const { return suggestions_in_flight_; }

  // Client keys that see and cancel every study (CURVE allow-list `admin`).
  void set_admin_keys(std::set<std::string> keys) { admin_keys_ = std::move(keys); }

  // Lease expiry, dead workers, heartbeats and watch keep-alives.
  void tick();

  // Stop assigning work and accepting studies (SIGTERM); results are still
  // recorded so nothing a worker finishes is lost.
  void begin_shutdown();
  bool shutting_down() const { return shutting_down_; }

  // Commits the batch; returns the messages to send (empty when nothing).
  std::vector<Outbound> commit();

  // Prometheus text: accumulated metrics plus current gauges (studies and
  // trials by state, queue depth per role and tag, connected workers).
  std::string render_metrics();
  // /healthz body (JSON); `ok` false while shutting down.
  std::string health_json(bool* ok);
  // One line for systemd's STATUS=.
  std::string status_line() const;

  // The active studies (candidates and their stages) and connected workers.
  Snapshot snapshot() const;

  // Introspection for tests and metrics.
  size_t active_trials() const { return trials_.size(); }
  size_t connected_workers() const;

 private:
  struct Study;
  struct Trial;
  using Worker = protocol::WorkerSession;
  struct Watcher {
    std::string peer;
    uint64_t request_id;
  };

  // --- inbound
  void on_worker(const std::string& peer, wire::EnvelopeT& env);
  void on_client(const std::string& peer, wire::EnvelopeT& env);
  // May the current caller see this study? (Always, without authentication.)
  bool visible(const StudyRow& row) const;
  void on_hello(const std::string& peer, uint64_t rid, wire::HelloT& hello);
  void on_pull(Worker& w, const wire::PullT& pull);
  void on_heartbeat(Worker& w, const wire::HeartbeatT& hb);
  void on_result(Worker& w, uint64_t rid, const wire::ResultT& result);
  void on_failure(Worker& w, uint64_t rid, const wire::FailureT& failure);
  // A Checkpoint (protocol/checkpoints.cpp): recorded durably from the lease
  // holder, acknowledged after the commit; refused from anyone else.
  void on_checkpoint(Worker& w, uint64_t rid, const wire::CheckpointT& checkpoint);
  // A GangAddress from rank 0 of a leased gang attempt: relayed to its other
  // ranks (protocol/sessions.cpp); anything else is ignored. No reply.
  void on_gang_address(Worker& w, const wire::GangAddressT& address);
  // Its fields and blobs (held complete, sizes as announced): kInvalidArgument / kNotFound.
  Status check_checkpoint(const wire::CheckpointT& checkpoint) const;
  // The trial's newest recorded checkpoint for Assign.resume; null when none.
  std::unique_ptr<wire::CheckpointT> resume_of(const Trial& t);
  // The trial ended: its checkpoint row goes, its blobs are released.
  void drop_checkpoint(uint64_t trial_id);
  // Lists a blob for deletion after the commit (unless referenced then).
  void release_blob(const std::string& digest);
  // After a commit: deletes the released blobs nothing references.
  void collect_blob_garbage();
  // Whether `w` may report (trial, attempt): it holds that lease, or held
  // that earlier attempt; as gang rank `rank` when >= 0 (any rank when < 0).
  // kPermissionDenied / kNotFound otherwise.
  Status may_report(const Worker& w, uint64_t trial_id, uint32_t attempt, int rank = -1);
  void refuse_report(const Worker& w, uint64_t rid, const char* what, const Status& why);
  void on_bye(const std::string& peer, const wire::ByeT& bye);
  void on_submit(const std::string& peer, uint64_t rid, wire::SubmitT& submit);
  void on_get(const std::string& peer, uint64_t rid, const wire::GetStudyT& get);
  void on_list(const std::string& peer, uint64_t rid, const wire::ListStudiesT& list);
  void on_watch(const std::string& peer, uint64_t rid, const wire::WatchT& watch);
  void on_cancel(const std::string& peer, uint64_t rid, const wire::CancelStudyT& cancel);
  void on_list_workers(const std::string& peer, uint64_t rid);
  void on_blob(Endpoint ep, const std::string& peer, uint64_t rid, wire::EnvelopeT& env);

  // --- state machine
  // A stored study recovery cannot load (issue #11): marked failed with
  // `why` in its message; recovery goes on with the others.
  Study* load_study(const StudyRow& row);
  void fail_unloadable(uint64_t study_id, const Status& why);
  // The earlier study's measurements a warm start gives the proposer.
  std::vector<PriorObservation> warm_start_of(const wire::StudySpecT& spec, int64_t created_ms);
  Result<std::optional<wire::StudySpecT>> find_visible_spec(uint64_t id);
  // study::refill(), applied: a suggestion job when the study wants
  // candidates (controller/lifecycle.cpp).
  void refill(Study& s);
  // AskProposer: hands a suggestion job for `count` candidates to the runner.
  void ask_proposer(Study& s, size_t count);
  // A suggestion job's proposals: study::take_suggestions(), applied (unless
  // the state was rebuilt or the study is gone meanwhile).
  void on_suggestions(uint64_t study_id, uint64_t epoch, std::vector<Params> proposals);
  // AddCandidate: the next candidate, study::first_trial() and
  // study::settle_proposed() applied.
  void add_candidate(Study& s, const Params& params);
  // ProbeCandidate: the probe from the cache (then after_probe()), else a
  // queued Probe trial.
  void probe_candidate(Study& s, uint32_t candidate, const Params& params, const std::string& note);
  // Queues a trial of the candidate (kept open), not to be leased before
  // `not_before_ms`; false when the store failed.
  bool queue_trial(Study& s, uint32_t candidate, wire::TrialKind kind, const Params& params,
                   const std::string& note, int64_t not_before_ms = 0);
  // The probe of the candidate completed: queue its flash trial, or record
  // it as skipped (skip_dominated_flash): study::after_probe(), applied.
  void after_probe(Study& s, uint32_t candidate, const Params& params,
                   const std::map<std::string, double>& probe_values);
  // Stores the candidate's Flash trial as skipped (ended at once); false
  // when the store failed.
  bool skip_flash(Study& s, uint32_t candidate, const Params& params, const std::string& why);
  // ReviewProbes: reads the study's rows and applies
  // study::after_probe_round() for the candidate (controller/reprobe.cpp);
  // unreadable rows: nothing (true).
  bool review_probes(Study& s, uint32_t candidate, const Params& params);
  study::ReprobePolicy reprobe_policy() const;
  // How long re-probe number `reprobe` (1, 2, ...) waits: reprobe_backoff_ms,
  // doubled for each re-probe after the first.
  int64_t reprobe_delay_ms(uint32_t reprobe) const;
  // Candidates proposed by the engine (the baseline excluded).
  uint32_t explored(const Study& s) const;
  // Completes a candidate's probe from the cache when hardware with the
  // study's tag already measured this architecture at this serving setting;
  // `measured` gets the cached objectives.
  bool complete_from_cache(Study& s, uint32_t candidate, const Params& params,
                           std::map<std::string, double>* measured);
  // The Assign of the trial's current attempt (without `gang`).
  wire::AssignT assign_of(Study& s, Trial& t);
  // Leases the trial's attempt to `ranks` (one worker, or a gang's workers
  // by rank: all Assigns in this batch), one credit each.
  void lease(Study& s, Trial& t, const std::vector<Worker*>& ranks);
  // Forgets the attempt's holders (every rank): their sessions' leased sets.
  void release_ranks(Trial& t);
  // Tells every rank still running the attempt (but `except`) to stop.
  void cancel_ranks(Trial& t, const std::string& reason, const std::string& except = {});
  // The attempt ended (`ended_by`: the worker whose expiry, Failure or Bye
  // ended it; a gang's other ranks get a Cancel): re-queued as the next
  // attempt, or failed when not retryable or out of attempts.
  // study::requeue_or_fail(), applied.
  void requeue_or_fail(Trial& t, const std::string& reason, bool retryable,
                       const std::string& ended_by = {});
  // The trial ends in `state`: study::finish_trial(), applied.
  void finish_trial(Trial& t, wire::TrialState state);
  // RecordTrialEnd: the row stored terminal, its ranks released, its
  // checkpoint dropped, its event; the trial forgotten (`t` is gone after).
  void record_trial_end(Study& s, Trial& t, wire::TrialState state);
  // RequeueTrial: the next attempt, first in its ready queue.
  void requeue(Study& s, Trial& t, const std::string& reason);
  // What the trial decisions read of `t`.
  study::TrialView trial_view(const Trial& t) const;
  void candidate_finished(Study& s, uint32_t candidate);
  void maybe_advance(Study& s);
  void select_for_regular(Study& s);
  // The settings_json a Finetune trial is assigned with.
  Result<std::string> finetune_settings(const Study& s, const Trial& t);
  // Moves the study to `state` (stored, a "study_state" event); a move to
  // the state it is in does nothing; one study::transition_allowed() refuses
  // is logged and not made (false).
  bool set_study_state(Study& s, wire::StudyState state, const std::string& message);
  // Applies the study domain's effects (study/lifecycle.hpp) in order: store
  // writes, ready queues, events. False at the first that fails (the store
  // failed: the batch fails at commit; a refused transition): the rest are
  // not applied.
  bool apply(Study& s, const study::Effects& effects);
  // What the study domain's decisions read of `s`.
  study::StudyView view_of(const Study& s) const;
  // study::cancel_study(), applied.
  void cancel_study(Study& s, const std::string& reason);
  // Cancels these live trials (study::cancel_trial() each, applied), in
  // this order; one that ended meanwhile (a cascade) is skipped.
  void cancel_trials(const std::vector<uint64_t>& ids, const std::string& reason);
  // One scheduling turn (study/scheduler.hpp): builds its views, leases
  // what it assigns (controller/scheduling.cpp).
  void dispatch();
  // The session on `peer` is gone (silent, or its connection now speaks for
  // another worker): its gang attempts end for every rank, then it is dropped.
  void forget_worker(const std::string& peer, const std::string& why);
  // Forgets the session on `peer`, logging why; its leases stay.
  void drop_worker(const std::string& peer, const std::string& why);
  // A live trial whose study is not live (never expected): forget it.
  void drop_orphan(Trial& t);
  // `worker_id` let its lease of `t` (a rank's) expire: quarantine it,
  // prefer others for `t`.
  void penalize(Trial& t, const std::string& worker_id, int64_t now);
  // Worker-row pruning, partial-upload expiry, stale penalties (at most once a second).
  void housekeeping(int64_t now);

  // --- helpers
  void event(Study& s, const std::string& kind, uint64_t trial_id, uint32_t attempt,
             const std::string& message);
  // Fills a trial event's candidate, trial kind, values and duration from
  // its trial (live, or as just stored).
  void describe_trial_event(EventRow& e);
  void send(Endpoint ep, const std::string& peer, std::string bytes);
  void reply_error(Endpoint ep, const std::string& peer, uint64_t rid, const Status& status);
  void note_request(Endpoint ep, const std::string& peer, uint64_t rid);
  Result<wire::StudyInfoT> study_info(const StudyRow& row, const std::vector<TrialRow>* trials);
  wire::TrialInfoT trial_info(const TrialRow& row) const;
  void flush_events();
  void reset_memory();

  Metrics metrics_;
  SuggestRunner runner_;
  BackgroundRunner background_;
  uint64_t epoch_ = 0;  // bumped when the in-memory state is rebuilt
  size_t suggestions_in_flight_ = 0;
  std::set<std::string> admin_keys_;
  std::string caller_;  // the current message's CURVE key (empty: no auth)
  const Config& config_;
  Store& store_;
  BlobStore& blobs_;
  Clock now_;
  bool shutting_down_ = false;
  // Set by begin_shutdown(): running suggestion jobs stop early.
  std::shared_ptr<std::atomic<bool>> cancel_suggestions_ = std::make_shared<std::atomic<bool>>();

  std::map<uint64_t, std::unique_ptr<Study>> studies_;           // non-terminal, by id
  std::unordered_map<uint64_t, std::unique_ptr<Trial>> trials_;  // non-terminal
  // Worker sessions and lease-expiry penalties (protocol/session_registry.hpp).
  std::unique_ptr<protocol::SessionRegistry> sessions_;
  // The probe cache (study/probe_cache.hpp): fingerprints seen per hardware
  // tag, measurements in the store's probe rows.
  std::unique_ptr<study::StoreProbeRows> probe_rows_;
  std::unique_ptr<study::ProbeCache> probes_;
  int64_t last_housekeeping_ms_ = 0;
  bool blob_garbage_ = false;  // released blobs may wait (store's blob_garbage)
  std::unordered_map<uint64_t, std::vector<Watcher>> watchers_;  // by study
  // Last durable event seq each watcher (study, peer) has been sent.
  std::map<std::pair<uint64_t, std::string>, uint64_t> watcher_seq_;
  int64_t last_keepalive_ms_ = 0;

  // Per-connection token buckets (rate limit), by (endpoint, peer).
  struct Bucket {
    double tokens = 0;
    int64_t refilled_ms = 0;
    int64_t last_refusal_ms = 0;
  };
  std::map<std::pair<int, std::string>, Bucket> buckets_;
  bool admit(Endpoint ep, const std::string& peer, int64_t now);

  // The current batch.
  std::vector<Outbound> outbox_;
  struct PendingRequest {
    Endpoint endpoint;
    std::string peer;
    uint64_t request_id;
  };
  std::vector<PendingRequest> batch_requests_;
  std::map<uint64_t, std::vector<wire::EventT>> batch_events_;  // study -> new events
  std::set<uint64_t> ended_studies_;                            // reached a terminal state
};

}  // namespace autodistill::daemon
