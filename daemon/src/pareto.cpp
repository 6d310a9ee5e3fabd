#include "autodistill/daemon/pareto.hpp"

#include <cmath>
#include <map>

#include "autodistill/daemon/study_spec.hpp"

namespace autodistill::daemon {

namespace {

struct Candidate {
  std::map<std::string, double> values;  // objectives and metrics
  bool complete = true;
};

bool satisfies(const wire::StudySpecT& spec, const std::map<std::string, double>& v) {
  for (const auto& c : spec.constraints) {
    auto it = v.find(c->metric);
    if (it == v.end()) return false;
    if (c->comparison == wire::Comparison::LessEqual ? it->second > c->bound
                                                     : it->second < c->bound) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<uint32_t> pareto_candidates(const wire::StudySpecT& spec,
                                        const std::vector<TrialRow>& trials) {
  std::map<uint32_t, Candidate> candidates;
  for (const TrialRow& t : trials) {
    if (t.kind == static_cast<int>(wire::TrialKind::Regular)) continue;
    Candidate& c = candidates[t.candidate];
    if (t.state != static_cast<int>(wire::TrialState::Completed)) {
      c.complete = false;
      continue;
    }
    for (auto& [k, v] : metrics_from_json(t.metrics_json)) c.values[k] = v;
    for (auto& [k, v] : metrics_from_json(t.objectives_json)) c.values[k] = v;
  }
  // Objective vectors, each oriented so that larger is better.
  std::vector<std::pair<uint32_t, std::vector<double>>> points;
  for (auto& [index, c] : candidates) {
    if (!c.complete || !satisfies(spec, c.values)) continue;
    std::vector<double> p;
    for (const auto& o : spec.objectives) {
      auto it = c.values.find(o->name);
      if (it == c.values.end() || !std::isfinite(it->second)) break;
      p.push_back(o->direction == wire::Direction::Maximize ? it->second : -it->second);
    }
    if (p.size() == spec.objectives.size()) points.emplace_back(index, std::move(p));
  }
  std::vector<uint32_t> front;
  for (size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.size() && !dominated; ++j) {
      if (i == j) continue;
      bool no_worse = true, better = false;
      for (size_t k = 0; k < points[i].second.size(); ++k) {
        if (points[j].second[k] < points[i].second[k]) no_worse = false;
        if (points[j].second[k] > points[i].second[k]) better = true;
      }
      dominated = no_worse && better;
    }
    if (!dominated) front.push_back(points[i].first);
  }
  return front;
}

}  // namespace autodistill::daemon
