#include "progress.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <vector>

#include "autodistill/distill_metrics.hpp"
#include "autodistill/pareto.hpp"
#include "autodistill/report.hpp"
#include "autodistill/study_json.hpp"
#include "render.hpp"

namespace autodistill::cli {

namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

// The state named at the start of a study_state event's message
// ("Exploring", "Failed: every candidate failed"), lower-cased, or empty.
std::string state_word(const std::string& message) {
  std::string word = message.substr(0, message.find_first_of(" :"));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int s = 0; s <= static_cast<int>(StudyState::kCancelled); ++s) {
    if (word == to_string(static_cast<StudyState>(s))) return word;
  }
  return {};
}

// The metrics a Flash trial measures (the daemon queues a flash after each
// probe of a Distill study that has one of them as an objective or
// constraint; docs/study-spec.md).
bool is_accuracy_metric(const std::string& name) {
  return is_distill_accuracy_metric(name);
}

bool expects_flash(const StudySpec& spec) {
  if (spec.kind != StudyKind::kDistill) return false;
  for (const Objective& o : spec.objectives) {
    if (is_accuracy_metric(o.name)) return true;
  }
  for (const Constraint& c : spec.constraints) {
    if (is_accuracy_metric(c.metric)) return true;
  }
  return false;
}

bool exploration(TrialKind kind) {
  return kind == TrialKind::kProbe || kind == TrialKind::kFlash || kind == TrialKind::kExternal;
}

std::string percent(double fraction) {
  char text[16];
  std::snprintf(text, sizeof text, "%.0f%%", 100.0 * std::clamp(fraction, 0.0, 1.0));
  return text;
}

}  // namespace

ProgressPrinter::ProgressPrinter(std::ostream& out, Mode mode, const StudyInfo& study)
    : out_(out),
      mode_(mode),
      study_id_(study.study_id),
      spec_(study.spec),
      has_baseline_(!study.spec.baseline.empty()),
      expects_flash_(expects_flash(study.spec)),
      state_(to_string(study.state)) {}

bool ProgressPrinter::apply(const Event& event) {
  const std::string& kind = event.kind;
  if (kind == "study_state") {
    if (std::string word = state_word(event.message); !word.empty()) state_ = word;
    return false;
  }
  if (event.trial_id == 0) return false;
  const TrialKind trial_kind = event.trial_kind;
  if (trial_kind == TrialKind::kFinetune) return false;  // a delivered model, not a candidate
  Candidate& c = candidates_[event.candidate];
  const std::string name = to_string(trial_kind);
  if (kind == "trial_queued") {
    c.stage = name + " queued";
    if (trial_kind == TrialKind::kRegular) regular_[event.trial_id] = event.candidate;
  } else if (kind == "trial_leased") {
    c.stage = name + " running";
    running_[event.trial_id] = Running{event.candidate, trial_kind, 0};
  } else if (kind == "trial_progress") {
    if (auto it = running_.find(event.trial_id); it != running_.end()) {
      it->second.fraction = std::clamp(event.fraction, 0.0f, 1.0f);
    }
  } else if (kind == "trial_requeued") {
    running_.erase(event.trial_id);
    c.stage = name + " queued";
  } else if (kind == "flash_skipped") {
    c.stage = "skipped";
    const bool newly = !c.explored;
    c.explored = true;
    return newly;
  } else if (kind == "trial_completed" || kind == "trial_failed" || kind == "trial_cancelled") {
    running_.erase(event.trial_id);
    const bool completed = kind == "trial_completed";
    if (trial_kind == TrialKind::kRegular) {
      c.stage = completed ? "distilled" : "regular " + kind.substr(6);
      (completed ? regular_done_ : regular_failed_)++;
      return true;
    }
    if (!exploration(trial_kind)) return false;
    for (const Metric& m : event.values) c.values[m.name] = m.value;
    if (completed && trial_kind == TrialKind::kProbe && expects_flash_) {
      c.stage = "probed";
      return false;
    }
    c.stage = completed ? "explored" : kind.substr(6);  // failed | cancelled
    const bool newly = !c.explored;
    c.explored = true;
    return newly;
  }
  return false;
}

std::string ProgressPrinter::best_so_far() const {
  if (spec_.objectives.empty()) return {};
  // Complete candidates within every constraint, objectives maximized.
  std::vector<const Candidate*> feasible;
  std::vector<ObjectiveVector> points;
  for (const auto& [index, c] : candidates_) {
    // A constrained metric the events did not carry is not judged here.
    auto y = feasible_objectives(spec_, c.values, /*missing_violates=*/false);
    if (!y) continue;
    feasible.push_back(&c);
    points.push_back(std::move(*y));
  }
  if (feasible.empty()) return "no complete candidate yet";
  size_t best = 0;
  for (size_t i = 1; i < points.size(); ++i) {
    if (points[i][0] > points[best][0]) best = i;
  }
  const Objective& first = spec_.objectives[0];
  std::string out = "front " + std::to_string(pareto_front(points).size()) + ", best " +
                    first.name + " " + format_number(feasible[best]->values.at(first.name));
  std::string others;
  for (size_t i = 1; i < spec_.objectives.size(); ++i) {
    const std::string& n = spec_.objectives[i].name;
    others += (others.empty() ? "" : ", ") + n + " " + format_number(feasible[best]->values.at(n));
  }
  return others.empty() ? out : out + " (" + others + ")";
}

std::string ProgressPrinter::summary() const {
  size_t proposed = 0, explored = 0;
  for (const auto& [index, c] : candidates_) {
    if (baseline(index)) continue;
    ++proposed;
    explored += c.explored;
  }
  const size_t total = std::max<size_t>(spec_.max_trials, proposed);
  std::string out = std::to_string(explored) + "/" + std::to_string(total) + " candidates explored";
  if (has_baseline_ && candidates_.count(0)) {
    out += std::string(", baseline ") + (candidates_.at(0).explored ? "done" : "pending");
  }
  std::map<std::string, int> by_kind;
  for (const auto& [trial, r] : running_) {
    if (exploration(r.kind)) by_kind[to_string(r.kind)]++;
  }
  if (!by_kind.empty()) {
    std::string kinds;
    int n = 0;
    for (const auto& [k, count] : by_kind) {
      kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(count);
      n += count;
    }
    out += ", " + std::to_string(n) + " running (" + kinds + ")";
  }
  if (const std::string best = best_so_far(); !best.empty()) out += "; " + best;
  if (!regular_.empty()) {
    out += "; regular " + std::to_string(regular_done_) + "/" + std::to_string(regular_.size()) +
           " done";
    if (regular_failed_ > 0) out += ", " + std::to_string(regular_failed_) + " failed";
    for (const auto& [trial, r] : running_) {
      if (r.kind == TrialKind::kRegular) {
        out += ", candidate " + std::to_string(r.candidate) + " at " + percent(r.fraction);
      }
    }
  }
  return out;
}

void ProgressPrinter::on_event(const Event& event) {
  if (mode_ == Mode::kJson) {
    out_ << to_json(event) << "\n" << std::flush;
    return;
  }
  const std::string before = state_;
  const bool ended = apply(event);
  if (mode_ == Mode::kLines) {
    out_ << format_time(event.time_ms) << "  #" << event.seq << "  " << event.kind;
    if (event.trial_id != 0) {
      out_ << "  trial " << event.trial_id << "/" << event.attempt << "  candidate "
           << event.candidate << " " << to_string(event.trial_kind);
    }
    if (event.kind == "trial_progress") out_ << "  " << percent(event.fraction);
    for (const Metric& m : event.values) out_ << "  " << m.name << "=" << format_number(m.value);
    if (event.duration_ms > 0) out_ << "  took " << format_duration(event.duration_ms);
    if (!event.message.empty()) out_ << "  " << event.message;
    out_ << "\n";
    // What the study stands at, whenever a candidate or a regular trial ended.
    if (ended || (event.kind == "trial_progress" && event.trial_kind == TrialKind::kRegular)) {
      out_ << "  progress: " << summary() << "\n";
    }
    out_ << std::flush;
    return;
  }
  draw(state_ != before || ended);
}

void ProgressPrinter::draw(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  drawn_ = true;
  // The bar: candidates explored; during finalizing, regular distillation.
  double fraction = 0;
  if (!regular_.empty()) {
    double partial = regular_done_ + regular_failed_;
    for (const auto& [trial, r] : running_) {
      if (r.kind == TrialKind::kRegular) partial += r.fraction;
    }
    fraction = partial / static_cast<double>(regular_.size());
  } else {
    size_t proposed = 0, explored = 0;
    for (const auto& [index, c] : candidates_) {
      if (baseline(index)) continue;
      ++proposed;
      explored += c.explored;
    }
    fraction = static_cast<double>(explored) /
               static_cast<double>(std::max<size_t>({1, spec_.max_trials, proposed}));
  }
  const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * kBarWidth + 0.5);
  out_ << "\rstudy " << study_id_ << " " << state_ << " ["
       << std::string(static_cast<size_t>(filled), '#')
       << std::string(static_cast<size_t>(kBarWidth - filled), '.') << "] " << summary() << "\x1b[K"
       << std::flush;
}

void ProgressPrinter::finish() {
  if (mode_ != Mode::kBar) return;
  draw(true);
  out_ << "\n" << std::flush;
}

}  // namespace autodistill::cli
