#include "autodistill/daemon/pareto.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "autodistill/bo/pareto.hpp"
#include "autodistill/daemon/probe_handoff.hpp"
#include "autodistill/daemon/study_spec.hpp"
#include "autodistill/pareto.hpp"

namespace autodistill::daemon {

namespace {

struct Candidate {
  std::map<std::string, double> values;  // objectives and metrics
  bool complete = true;
};

}  // namespace

std::vector<std::pair<uint32_t, ObjectiveVector>> feasible_points(
    const wire::StudySpecT& spec, const std::vector<TrialRow>& trials) {
  // Of a candidate's completed probes (re-probes), only the one that counts.
  std::map<uint32_t, uint64_t> counted_probe;
  for (const TrialRow& t : trials) {
    if (t.kind != wire::TrialKind::Probe || counted_probe.count(t.candidate)) {
      continue;
    }
    if (auto probe = completed_probe(trials, t.candidate)) counted_probe[t.candidate] = probe->id;
  }
  std::map<uint32_t, Candidate> candidates;
  for (const TrialRow& t : trials) {
    if (t.kind == wire::TrialKind::Regular || t.kind == wire::TrialKind::Finetune) {
      continue;
    }
    // The other probes (earlier, failed or cancelled re-probes) do not count.
    if (t.kind == wire::TrialKind::Probe && counted_probe.count(t.candidate) &&
        counted_probe[t.candidate] != t.id) {
      continue;
    }
    Candidate& c = candidates[t.candidate];
    if (t.state != wire::TrialState::Completed) {
      c.complete = false;
      continue;
    }
    for (auto& [k, v] : t.metrics) c.values[k] = v;
    for (auto& [k, v] : t.objectives) c.values[k] = v;
  }
  std::vector<std::pair<uint32_t, ObjectiveVector>> points;
  for (auto& [index, c] : candidates) {
    if (!c.complete) continue;
    if (auto p = feasible_objectives(spec, c.values)) points.emplace_back(index, std::move(*p));
  }
  return points;
}

std::vector<uint32_t> pareto_candidates(const wire::StudySpecT& spec,
                                        const std::vector<TrialRow>& trials) {
  const auto points = feasible_points(spec, trials);
  std::vector<ObjectiveVector> values;
  for (const auto& p : points) values.push_back(p.second);
  std::vector<uint32_t> front;
  for (size_t i : pareto_front(values)) front.push_back(points[i].first);
  return front;
}

std::vector<uint32_t> selected_candidates(const wire::StudySpecT& spec,
                                          const std::vector<TrialRow>& trials) {
  const wire::SelectionT* sel = spec.selection.get();
  if (sel && sel->rule == wire::SelectionRule::TopK) {
    size_t m = 0;
    while (m < spec.objectives.size() && spec.objectives[m]->name != sel->metric) ++m;
    if (m == spec.objectives.size()) return {};
    auto points = feasible_points(spec, trials);
    std::stable_sort(points.begin(), points.end(),
                     [m](const auto& a, const auto& b) { return a.second[m] > b.second[m]; });
    std::vector<uint32_t> out;
    for (size_t i = 0; i < points.size() && i < sel->k; ++i) out.push_back(points[i].first);
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<uint32_t> front = pareto_candidates(spec, trials);
  const uint32_t k = sel ? sel->k : 0;
  if (k == 0 || front.size() <= k) return front;
  // Normalize over the feasible complete candidates.
  const auto points = feasible_points(spec, trials);
  const size_t d = spec.objectives.size();
  std::vector<double> lo(d, INFINITY), hi(d, -INFINITY);
  std::map<uint32_t, bo::Objectives> by_candidate;
  for (const auto& [c, p] : points) {
    by_candidate[c] = p;
    for (size_t j = 0; j < d; ++j) {
      lo[j] = std::min(lo[j], p[j]);
      hi[j] = std::max(hi[j], p[j]);
    }
  }
  auto normalized = [&](uint32_t c) {
    bo::Objectives y(d);
    for (size_t j = 0; j < d; ++j) {
      const double range = hi[j] - lo[j];
      y[j] = range > 0 ? (by_candidate[c][j] - lo[j]) / range : 1.0;
    }
    return y;
  };
  const bo::Objectives ref(d, -0.1);
  while (front.size() > k) {
    std::vector<bo::Objectives> all;
    for (uint32_t c : front) all.push_back(normalized(c));
    const double total = bo::hypervolume(all, ref);
    size_t drop = 0;
    double smallest = INFINITY;
    for (size_t i = 0; i < front.size(); ++i) {
      std::vector<bo::Objectives> rest;
      for (size_t j = 0; j < front.size(); ++j) {
        if (j != i) rest.push_back(all[j]);
      }
      const double contribution = total - bo::hypervolume(rest, ref);
      if (contribution <= smallest) {  // ties: the later (higher) candidate
        smallest = contribution;
        drop = i;
      }
    }
    front.erase(front.begin() + static_cast<long>(drop));
  }
  return front;
}

}  // namespace autodistill::daemon
