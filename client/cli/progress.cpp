#include "progress.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "autodistill/study_json.hpp"
#include "render.hpp"

namespace autodistill::cli {

namespace {

constexpr int kBarWidth = 30;
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

}  // namespace

ProgressPrinter::ProgressPrinter(std::ostream& out, Mode mode, const StudyInfo& study)
    : out_(out),
      mode_(mode),
      study_id_(study.study_id),
      budget_(study.spec.max_trials),
      state_(to_string(study.state)) {}

void ProgressPrinter::on_event(const Event& event) {
  if (mode_ == Mode::kJson) {
    out_ << to_json(event) << "\n" << std::flush;
    return;
  }
  bool changed_state = false;
  const std::string& kind = event.kind;
  if (kind == "study_state") {
    if (std::string word = state_word(event.message); !word.empty()) {
      changed_state = word != state_;
      state_ = word;
    }
  } else if (kind == "trial_queued") {
    queued_.insert(event.trial_id);
  } else if (kind == "trial_leased") {
    queued_.insert(event.trial_id);
    running_[event.trial_id] = 0;
  } else if (kind == "trial_progress") {
    if (auto it = running_.find(event.trial_id); it != running_.end()) {
      it->second = std::clamp(event.fraction, 0.0f, 1.0f);
    }
  } else if (kind == "trial_requeued") {
    running_.erase(event.trial_id);
  } else if (kind == "trial_completed" || kind == "trial_failed" || kind == "trial_cancelled") {
    running_.erase(event.trial_id);
    queued_.insert(event.trial_id);
    if (kind == "trial_completed") {
      ++completed_;
    } else if (kind == "trial_failed") {
      ++failed_;
    } else {
      ++cancelled_;
    }
  }
  if (mode_ == Mode::kLines) {
    out_ << format_time(event.time_ms) << "  #" << event.seq << "  " << event.kind;
    if (event.trial_id != 0) out_ << "  trial " << event.trial_id << "/" << event.attempt;
    if (kind == "trial_progress") out_ << "  " << format_number(100.0 * event.fraction) << "%";
    if (!event.message.empty()) out_ << "  " << event.message;
    out_ << "\n" << std::flush;
    return;
  }
  draw(changed_state);
}

void ProgressPrinter::draw(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  drawn_ = true;
  const uint32_t finished = completed_ + failed_ + cancelled_;
  double partial = 0;
  for (const auto& [trial, fraction] : running_) partial += fraction;
  const double total = std::max<double>({1.0, static_cast<double>(queued_.size()), budget_ * 1.0});
  const double fraction = std::min(1.0, (finished + partial) / total);
  const int filled = static_cast<int>(fraction * kBarWidth + 0.5);
  char line[256];
  std::snprintf(line, sizeof line, "\rstudy %llu %-10s [%s%s] %3.0f%%  %u/%zu done, %zu running",
                static_cast<unsigned long long>(study_id_), state_.c_str(),
                std::string(static_cast<size_t>(filled), '#').c_str(),
                std::string(static_cast<size_t>(kBarWidth - filled), '.').c_str(), 100.0 * fraction,
                finished, std::max<size_t>(queued_.size(), budget_), running_.size());
  out_ << line;
  if (failed_ > 0) out_ << ", " << failed_ << " failed";
  out_ << "\x1b[K" << std::flush;
}

void ProgressPrinter::finish() {
  if (mode_ != Mode::kBar) return;
  draw(true);
  out_ << "\n" << std::flush;
}

}  // namespace autodistill::cli
