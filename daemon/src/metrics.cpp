#include "autodistill/daemon/metrics.hpp"

#include <sstream>

namespace autodistill::daemon {

namespace {

std::string format(double v) {
  std::ostringstream out;
  out.precision(12);
  out << v;
  return out.str();
}

std::string counter(const std::string& name, const std::string& help, uint64_t value) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
         std::to_string(value) + "\n";
}

}  // namespace

void Histogram::observe(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) buckets_[i]++;
  }
  count_++;
  sum_ += seconds;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::string out = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < kBounds.size(); ++i) {
    out +=
        name + "_bucket{le=\"" + format(kBounds[i]) + "\"} " + std::to_string(buckets_[i]) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + format(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
  return out;
}

std::string Metrics::render() const {
  std::string out;
  out += store_commit.render("autodistill_store_commit_seconds",
                             "Duration of one durable group commit of the store.");
  out += suggestion.render("autodistill_suggestion_seconds",
                           "Duration of one suggestion job of a study's proposer.");
  out += dispatch.render("autodistill_dispatch_seconds",
                         "Time a trial waited in the queue before a worker leased it.");
  out +=
      "# HELP autodistill_messages_total Messages received, by endpoint.\n"
      "# TYPE autodistill_messages_total counter\n";
  out += metric_line("autodistill_messages_total", {{"endpoint", "worker"}},
                     static_cast<double>(messages_worker));
  out += metric_line("autodistill_messages_total", {{"endpoint", "client"}},
                     static_cast<double>(messages_client));
  out += counter("autodistill_bad_messages_total",
                 "Messages refused by verification (malformed, oversized, wrong version).",
                 bad_messages);
  out += counter("autodistill_results_total", "Trial results recorded (first delivery only).",
                 results);
  out += counter("autodistill_failures_total", "Trial failures reported by workers.", failures);
  out += counter("autodistill_lease_expiries_total", "Leases that expired.", lease_expiries);
  out += counter("autodistill_reports_refused_total",
                 "Results and failures refused: the worker did not hold that trial's lease.",
                 reports_refused);
  out += counter("autodistill_quarantines_total",
                 "Workers given no new work for a while after one of their leases expired.",
                 quarantines);
  out += counter("autodistill_flash_skipped_total",
                 "Flash trials skipped as hopeless (skip_dominated_flash).", flash_skipped);
  out += counter("autodistill_reprobes_total",
                 "Probe trials queued again after a probe that did not converge.", reprobes);
  out += counter("autodistill_latency_unconverged_total",
                 "Candidates whose latency did not converge within max_reprobes.",
                 latency_unconverged);
  out +=
      "# HELP autodistill_blob_bytes_total Blob bytes moved, by direction.\n"
      "# TYPE autodistill_blob_bytes_total counter\n";
  out += metric_line("autodistill_blob_bytes_total", {{"direction", "in"}},
                     static_cast<double>(blob_bytes_in));
  out += metric_line("autodistill_blob_bytes_total", {{"direction", "out"}},
                     static_cast<double>(blob_bytes_out));
  out += counter("autodistill_checkpoints_total", "Checkpoints recorded as their trial's newest.",
                 checkpoints);
  out += counter("autodistill_checkpoint_blobs_deleted_total",
                 "Checkpoint blobs deleted once superseded or their trial ended.",
                 checkpoint_blobs_deleted);
  out += counter("autodistill_commit_failures_total", "Group commits that failed and rolled back.",
                 commit_failures);
  out +=
      counter("autodistill_rate_limited_total",
              "Messages refused because their connection exceeded its rate limit.", rate_limited);
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string label_name(std::string_view enum_name) {
  std::string out;
  for (size_t i = 0; i < enum_name.size(); ++i) {
    const char c = enum_name[i];
    if (c >= 'A' && c <= 'Z') {
      if (i > 0 && enum_name[i - 1] != '_') out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

std::string metric_line(const std::string& name, const Labels& labels, double value) {
  std::string out = name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
    }
    out += '}';
  }
  return out + " " + format(value) + "\n";
}

}  // namespace autodistill::daemon
