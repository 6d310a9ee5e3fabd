#include "kill_scenario.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../support/process.hpp"
#include "chaos_client.hpp"
#include "chaos_daemon.hpp"
#include "chaos_spec.hpp"
#include "store_probe.hpp"
#include "wire_tap.hpp"

namespace autodistill::chaos {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// A study's spec is a pure function of its key and size, so resubmitting a
// key sends exactly the same spec.
wire::StudySpecT spec_for(const std::string& key, uint32_t trials, uint32_t parallelism) {
  wire::StudySpecT spec = queue_spec(trials, parallelism);
  spec.name = key;
  // Leases may run out around a kill; a re-run must never fail a trial.
  spec.max_attempts = 20;
  return spec;
}

struct Study {
  std::string key;
  uint64_t id = 0;
  uint32_t trials = 0;
  uint32_t parallelism = 0;
  bool acknowledged = false;  // its StudyReply reached the client
  bool finished = false;
  std::vector<size_t> workers;  // indices into KillScenario::workers_
};

// trial_id -> what GetStudy showed for a completed trial.
struct CompletedTrial {
  uint64_t study = 0;
  uint32_t attempt = 0;
  std::map<std::string, double> objectives;
};

std::map<std::string, double> objectives_of(const wire::TrialInfoT& t) {
  std::map<std::string, double> out;
  for (const auto& m : t.objectives) {
    if (m) out[m->name] = m->value;
  }
  return out;
}

constexpr milliseconds kCallTimeout{20000};

DaemonSettings daemon_settings(const KillScenarioOptions& options) {
  DaemonSettings d;
  d.binary = options.daemon_binary;
  d.data_dir = options.work_dir + "/data";
  d.log_path = options.work_dir + "/daemon.log";
  // Generous: leases must outlive a restart; lease expiry is test (b)'s subject.
  d.lease_ms = 4000;
  return d;
}
constexpr uint64_t kFiredRequestBase = 1u << 30;  // far above the WirePeer's own ids

class KillScenario {
 public:
  explicit KillScenario(const KillScenarioOptions& options)
      : options_(options), daemon_(daemon_settings(options)), probe_(daemon_.db_path()) {
    report_.seed = options.seed != 0
                       ? options.seed
                       : static_cast<uint64_t>(Clock::now().time_since_epoch().count());
    rng_.seed(report_.seed);
  }

  KillReport run() {
    const auto start = Clock::now();
    auto up = daemon_.start();
    if (!up) {
      violation("the daemon did not start: " + up.status().to_string());
      return report_;
    }
    tap_ = std::make_unique<WireTap>(daemon_.worker_endpoint());
    client_ = std::make_unique<ChaosClient>(ctx_, daemon_.client_endpoint());
    const uint32_t main_trials = options_.main_trials
                                     ? options_.main_trials
                                     : 40 * static_cast<uint32_t>(options_.kills) + 40;
    if (Study* main = submit("main", main_trials, 4)) {
      start_workers(*main, 2, options_.main_result_delay_ms);
    }
    for (int k = 1; k <= options_.kills; ++k) cycle(k);
    const auto drain = Clock::now();
    wait_until_finished();
    report_.drain_seconds = ms_since(drain) / 1000.0;
    final_checks();
    const int code = daemon_.stop(SIGTERM);
    if (code != 0) violation("SIGTERM at the end: exit code " + std::to_string(code));
    report_.seconds = ms_since(start) / 1000.0;
    return report_;
  }

 private:
  void note(const std::string& line) {
    if (options_.progress) options_.progress(line);
  }
  void violation(const std::string& what) { report_.violations.push_back(what); }
  milliseconds random_ms(int lo, int hi) {
    return milliseconds(std::uniform_int_distribution<int>(lo, std::max(lo, hi))(rng_));
  }

  Study& add_study(const std::string& key, uint32_t trials, uint32_t parallelism) {
    Study s;
    s.key = key;
    s.trials = trials;
    s.parallelism = parallelism;
    studies_.push_back(std::move(s));
    return studies_.back();
  }

  // Submits and waits for the reply (the daemon is up); records the study.
  Study* submit(const std::string& key, uint32_t trials, uint32_t parallelism) {
    auto reply = client_->submit(key, spec_for(key, trials, parallelism), kCallTimeout);
    if (!reply || !reply->body.AsStudyReply()) {
      violation("submit " + key + ": " + (reply ? describe(*reply) : "no reply"));
      return nullptr;
    }
    Study& s = add_study(key, trials, parallelism);
    s.id = reply->body.AsStudyReply()->study->study_id;
    s.acknowledged = true;
    report_.submissions_acked++;
    return &s;
  }

  void start_workers(Study& s, int count, int result_delay_ms) {
    for (int i = 0; i < count; ++i) {
      const std::string id = s.key + "-w" + std::to_string(i);
      const std::string dir = options_.work_dir + "/" + id;
      workers_.push_back(testing::Process::spawn(
          {options_.worker_binary, "--endpoint", tap_->endpoint(), "--worker-id", id, "--role",
           "external", "--study", std::to_string(s.id), "--slots", "2", "--builtin", "quadratic",
           "--result-delay-ms", std::to_string(result_delay_ms), "--log", dir + ".trials",
           "--cache-dir", dir + ".cache"},
          dir + ".log"));
      s.workers.push_back(workers_.size() - 1);
    }
  }

  // Completed trials of every study, as a client sees them now.
  std::map<uint64_t, CompletedTrial> snapshot() {
    std::map<uint64_t, CompletedTrial> out;
    for (Study& s : studies_) {
      if (s.id == 0) continue;
      auto info = client_->get(s.id, true, kCallTimeout);
      if (!info) {
        violation("GetStudy " + std::to_string(s.id) + " before a kill: no reply");
        continue;
      }
      for (const auto& t : info->trials) {
        if (t->state != wire::TrialState::Completed) continue;
        out[t->trial_id] = CompletedTrial{s.id, t->attempt, objectives_of(*t)};
      }
      if (info->study->state >= wire::StudyState::Succeeded) stop_workers(s);
    }
    return out;
  }

  void stop_workers(Study& s) {
    if (s.finished) return;
    s.finished = true;
    for (size_t i : s.workers) {
      workers_[i].signal(SIGTERM);
      workers_[i].wait(milliseconds(5000));
    }
  }

  void cycle(int k) {
    const auto up_start = Clock::now();
    const milliseconds up = random_ms(options_.min_up_ms, options_.max_up_ms);
    std::this_thread::sleep_for(random_ms(0, static_cast<int>(up.count() / 2)));
    if (Study* s = submit("s" + std::to_string(k), options_.study_trials, 3))
      start_workers(*s, 1, options_.result_delay_ms);
    const auto before = snapshot();
    std::this_thread::sleep_until(up_start + up);

    // One more Submit, cut off (or not) by the kill.
    const std::string fired_key = "u" + std::to_string(k);
    const uint64_t fired_rid = kFiredRequestBase + static_cast<uint64_t>(k);
    wire::SubmitT fired;
    fired.idempotency_key = fired_key;
    fired.spec = std::make_unique<wire::StudySpecT>(spec_for(fired_key, options_.study_trials, 3));
    client_->peer().send(std::move(fired), fired_rid);
    // Every other kill within 3 ms: usually before the reply, often mid-commit.
    std::this_thread::sleep_for(random_ms(0, k % 2 ? 3 : 30));

    if (!daemon_.running()) violation("kill " + std::to_string(k) + ": the daemon had exited");
    report_.up_ms.push_back(ms_since(up_start));
    const auto killed = Clock::now();
    const int code = daemon_.stop(SIGKILL);
    report_.kills++;
    if (code != 128 + SIGKILL) {
      violation("kill " + std::to_string(k) + ": exit status " + std::to_string(code));
    }
    Study& unacked = add_study(fired_key, options_.study_trials, 3);
    while (auto env = client_->peer().receive(milliseconds(0))) {
      if (env->request_id == fired_rid && env->body.AsStudyReply()) {
        unacked.id = env->body.AsStudyReply()->study->study_id;
        unacked.acknowledged = true;
        report_.submissions_acked++;
      }
    }

    auto up_again = daemon_.start();
    if (!up_again) {
      violation("kill " + std::to_string(k) + ": restart failed: " + up_again.status().to_string());
      return;
    }
    report_.restart_ms.push_back(ms_since(killed));
    const size_t acks_checked = check_after_restart(k, before);

    if (!unacked.acknowledged) {
      auto reply = client_->submit(fired_key, spec_for(fired_key, unacked.trials, 3), kCallTimeout);
      if (!reply || !reply->body.AsStudyReply()) {
        violation("resubmit " + fired_key + ": " + (reply ? describe(*reply) : "no reply"));
      } else {
        unacked.id = reply->body.AsStudyReply()->study->study_id;
        report_.submissions_unacked++;
      }
    }
    if (unacked.id != 0) start_workers(unacked, 1, options_.result_delay_ms);
    std::ostringstream line;
    line << "kill " << k << "/" << options_.kills << " after " << report_.up_ms.back()
         << " ms up: restarted in " << report_.restart_ms.back() << " ms; " << before.size()
         << " completed trials and " << acks_checked << " acknowledged results still there";
    note(line.str());
  }

  // Everything acknowledged before kill `k` is still there. Returns the
  // number of distinct acknowledged results checked.
  size_t check_after_restart(int k, const std::map<uint64_t, CompletedTrial>& before) {
    const std::string when = "after kill " + std::to_string(k) + ": ";
    for (const Study& s : studies_) {
      if (!s.acknowledged) continue;
      auto reply = client_->submit(s.key, spec_for(s.key, s.trials, s.parallelism), kCallTimeout);
      const wire::StudyReplyT* r = reply ? reply->body.AsStudyReply() : nullptr;
      if (!r || r->study->study_id != s.id || r->created) {
        violation(when + "acknowledged submission " + s.key + " (study " + std::to_string(s.id) +
                  ") came back as " +
                  (r ? "study " + std::to_string(r->study->study_id) +
                           (r->created ? " (created anew)" : "")
                     : (reply ? describe(*reply) : std::string("no reply"))));
      }
    }
    std::map<uint64_t, std::map<uint64_t, const wire::TrialInfoT*>> by_study;
    std::map<uint64_t, wire::StudyReplyT> infos;
    for (const auto& [trial, seen] : before) {
      if (!infos.count(seen.study)) {
        auto info = client_->get(seen.study, true, kCallTimeout);
        if (!info) {
          violation(when + "GetStudy " + std::to_string(seen.study) + ": no reply");
          continue;
        }
        infos[seen.study] = std::move(*info);
        for (const auto& t : infos[seen.study].trials) by_study[seen.study][t->trial_id] = t.get();
      }
      auto it = by_study[seen.study].find(trial);
      report_.snapshot_trials_checked++;
      if (it == by_study[seen.study].end()) {
        violation(when + "completed trial " + std::to_string(trial) + " is gone");
      } else if (it->second->state != wire::TrialState::Completed ||
                 it->second->attempt != seen.attempt ||
                 objectives_of(*it->second) != seen.objectives) {
        violation(when + "completed trial " + std::to_string(trial) + " changed (state " +
                  wire::EnumNameTrialState(it->second->state) + ", attempt " +
                  std::to_string(it->second->attempt) + ")");
      }
    }
    return check_acks_durable(when);
  }

  size_t check_acks_durable(const std::string& when) {
    const auto acks = tap_->acks();
    auto rows = probe_.result_keys();
    if (!rows) {
      violation(when + "reading the store: " + rows.status().to_string());
      return 0;
    }
    std::set<TrialKey> distinct(acks.begin(), acks.end());
    for (const TrialKey& key : distinct) {
      if (!rows->count(key)) {
        violation(when + "acknowledged result (trial " + std::to_string(key.first) + ", attempt " +
                  std::to_string(key.second) + ") has no 'result' row");
      }
    }
    return distinct.size();
  }

  void wait_until_finished() {
    const auto deadline = Clock::now() + milliseconds(90000);
    while (Clock::now() < deadline) {
      bool all = true;
      for (Study& s : studies_) {
        if (s.id == 0 || s.finished) continue;
        auto info = client_->get(s.id, false, kCallTimeout);
        if (info && info->study->state >= wire::StudyState::Succeeded) {
          stop_workers(s);
        } else {
          all = false;
        }
      }
      if (all) return;
      std::this_thread::sleep_for(milliseconds(200));
    }
    violation("not every study finished within 90 s of the last restart");
  }

  void final_checks() {
    auto rows = probe_.result_rows_per_trial();
    if (!rows) {
      violation("reading the store: " + rows.status().to_string());
      return;
    }
    const auto sent = tap_->results();
    std::map<TrialKey, const wire::TrialInfoT*> final_attempts;
    std::vector<wire::StudyReplyT> infos;
    infos.reserve(studies_.size());
    for (const Study& s : studies_) {
      if (s.id == 0) continue;
      auto info = client_->get(s.id, true, kCallTimeout);
      if (!info) {
        violation("GetStudy " + std::to_string(s.id) + " at the end: no reply");
        continue;
      }
      infos.push_back(std::move(*info));
      const wire::StudyReplyT& r = infos.back();
      const std::string name = "study " + s.key + " (" + std::to_string(s.id) + ")";
      if (r.study->state != wire::StudyState::Succeeded) {
        violation(name + " ended " + wire::EnumNameStudyState(r.study->state) + ": " +
                  r.study->message);
      }
      if (r.trials.size() != s.trials || r.study->trials_completed != s.trials) {
        violation(name + ": " + std::to_string(r.study->trials_completed) + " of " +
                  std::to_string(r.trials.size()) + " trials completed, wanted " +
                  std::to_string(s.trials));
      }
      for (const auto& t : r.trials) {
        report_.trials++;
        if (t->attempt > 1) report_.reattempted_trials++;
        final_attempts[{t->trial_id, t->attempt}] = t.get();
        const int n = rows->count(t->trial_id) ? rows->at(t->trial_id) : 0;
        if (n != 1) {
          violation(name + ": trial " + std::to_string(t->trial_id) + " has " + std::to_string(n) +
                    " 'result' rows (want exactly 1)");
        }
      }
    }
    report_.studies = infos.size();
    const auto acks = tap_->acks();
    report_.acks = acks.size();
    report_.acked_results = check_acks_durable("at the end: ");
    for (const TrialKey& key : std::set<TrialKey>(acks.begin(), acks.end())) {
      auto t = final_attempts.find(key);
      auto s = sent.find(key);
      if (t == final_attempts.end() || s == sent.end()) continue;
      if (objectives_of(*t->second) != s->second) {
        violation("trial " + std::to_string(key.first) +
                  ": stored objectives differ from the acknowledged Result");
      }
    }
    auto list = client_->list(kCallTimeout);
    if (!list) {
      violation("ListStudies at the end: no reply");
      return;
    }
    std::map<std::string, int> per_key;
    for (const auto& info : list->studies) per_key[info->idempotency_key]++;
    for (const Study& s : studies_) {
      if (per_key[s.key] != 1) {
        violation("key " + s.key + ": " + std::to_string(per_key[s.key]) + " studies (want 1)");
      }
    }
    if (list->studies.size() != studies_.size()) {
      violation(std::to_string(list->studies.size()) + " studies stored, " +
                std::to_string(studies_.size()) + " submitted");
    }
  }

  KillScenarioOptions options_;
  KillReport report_;
  std::mt19937_64 rng_;
  ChaosDaemon daemon_;
  StoreProbe probe_;
  zmq::context_t ctx_;
  std::unique_ptr<WireTap> tap_;
  std::unique_ptr<ChaosClient> client_;
  std::deque<Study> studies_;  // a deque: references stay valid as it grows
  std::vector<testing::Process> workers_;
};

std::string figures(const std::vector<double>& v) {
  if (v.empty()) return "-";
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  std::ostringstream out;
  out.precision(0);
  out << std::fixed << "min " << s.front() << " / median " << s[s.size() / 2] << " / max "
      << s.back();
  return out.str();
}

}  // namespace

KillReport run_kill_scenario(const KillScenarioOptions& options) {
  return KillScenario(options).run();
}

std::string summarize(const KillReport& r) {
  std::ostringstream out;
  out << "seed " << r.seed << ": " << r.kills << " SIGKILLs in " << r.seconds << " s\n"
      << "  daemon up before each kill (ms): " << figures(r.up_ms) << "\n"
      << "  SIGKILL -> answering again (ms): " << figures(r.restart_ms) << "\n"
      << "  studies " << r.studies << ", trials " << r.trials << " (" << r.reattempted_trials
      << " re-attempted), all finished " << r.drain_seconds << " s after the last restart\n"
      << "  acknowledged: " << r.submissions_acked << " submissions (" << r.submissions_unacked
      << " more cut off and resubmitted), " << r.acked_results << " results (" << r.acks
      << " Acks); completed-trial checks across restarts: " << r.snapshot_trials_checked << "\n"
      << "  violations: " << r.violations.size() << "\n";
  const size_t shown = std::min<size_t>(r.violations.size(), 20);
  for (size_t i = 0; i < shown; ++i) out << "    " << r.violations[i] << "\n";
  if (shown < r.violations.size()) out << "    ... " << r.violations.size() - shown << " more\n";
  return out.str();
}

}  // namespace autodistill::chaos
