#include "autodistill/bo/pareto.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "autodistill/bo/rng.hpp"

namespace autodistill::bo {

std::vector<std::vector<size_t>> non_dominated_sort(const std::vector<Objectives>& points) {
  const size_t n = points.size();
  std::vector<std::vector<size_t>> dominated_by(n);
  std::vector<size_t> count(n, 0);
  std::vector<std::vector<size_t>> fronts;
  std::vector<size_t> current;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      if (dominates(points[i], points[j])) {
        dominated_by[i].push_back(j);
      } else if (dominates(points[j], points[i])) {
        ++count[i];
      }
    }
    if (count[i] == 0) current.push_back(i);
  }
  while (!current.empty()) {
    fronts.push_back(current);
    std::vector<size_t> next;
    for (size_t i : current) {
      for (size_t j : dominated_by[i]) {
        if (--count[j] == 0) next.push_back(j);
      }
    }
    std::sort(next.begin(), next.end());
    current = std::move(next);
  }
  return fronts;
}

std::vector<double> crowding_distance(const std::vector<Objectives>& points,
                                      const std::vector<size_t>& front) {
  const size_t n = front.size();
  std::vector<double> distance(n, 0.0);
  if (n == 0) return distance;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<size_t> order(n);
  for (size_t j = 0; j < points[front[0]].size(); ++j) {
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return points[front[a]][j] < points[front[b]][j]; });
    const double lo = points[front[order.front()]][j];
    const double hi = points[front[order.back()]][j];
    distance[order.front()] = inf;
    distance[order.back()] = inf;
    if (hi <= lo) continue;
    for (size_t k = 1; k + 1 < n; ++k) {
      distance[order[k]] +=
          (points[front[order[k + 1]]][j] - points[front[order[k - 1]]][j]) / (hi - lo);
    }
  }
  return distance;
}

Objectives front_reference(const std::vector<Objectives>& points, double scale) {
  return layered_front_reference(points, 1, scale);
}

Objectives layered_front_reference(const std::vector<Objectives>& points, size_t layers,
                                   double scale) {
  if (points.empty()) return {};
  const size_t k = points.front().size();
  Objectives lo(k, std::numeric_limits<double>::infinity());
  Objectives hi(k, -std::numeric_limits<double>::infinity());
  std::vector<size_t> near;
  if (layers <= 1) {
    near = pareto_front(points);
  } else {
    const auto fronts = non_dominated_sort(points);
    for (size_t l = 0; l < layers && l < fronts.size(); ++l)
      near.insert(near.end(), fronts[l].begin(), fronts[l].end());
  }
  for (size_t i : near) {
    for (size_t j = 0; j < k; ++j) {
      lo[j] = std::min(lo[j], points[i][j]);
      hi[j] = std::max(hi[j], points[i][j]);
    }
  }
  Objectives ref(k);
  for (size_t j = 0; j < k; ++j)
    ref[j] =
        hi[j] > lo[j] ? lo[j] - scale * (hi[j] - lo[j]) : std::numeric_limits<double>::quiet_NaN();
  return ref;
}

Objectives front_gap_reference(const std::vector<Objectives>& points) {
  if (points.empty()) return {};
  const size_t k = points.front().size();
  const std::vector<size_t> front = pareto_front(points);
  Objectives ref(k);
  std::vector<double> values;
  for (size_t j = 0; j < k; ++j) {
    values.clear();
    for (size_t i : front) values.push_back(points[i][j]);
    std::sort(values.begin(), values.end());
    double gap = 0.0;
    for (size_t i = 1; i < values.size(); ++i) gap = std::max(gap, values[i] - values[i - 1]);
    ref[j] = gap > 0 ? values.front() - gap : std::numeric_limits<double>::quiet_NaN();
  }
  return ref;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(pos);
  if (below + 1 >= values.size()) return values.back();
  const double t = pos - static_cast<double>(below);
  return values[below] + t * (values[below + 1] - values[below]);
}

namespace {

double hv_2d(std::vector<Objectives> pts, const Objectives& ref) {
  std::sort(pts.begin(), pts.end(),
            [](const Objectives& a, const Objectives& b) { return a[0] > b[0]; });
  double area = 0.0;
  double top = ref[1];
  for (size_t i = 0; i < pts.size(); ++i) {
    top = std::max(top, pts[i][1]);
    const double next_x = i + 1 < pts.size() ? pts[i + 1][0] : ref[0];
    area += (pts[i][0] - next_x) * (top - ref[1]);
  }
  return area;
}

// Points are strictly better than ref in every objective of dims [0, d).
double hv_slice(std::vector<Objectives> pts, const Objectives& ref, size_t d) {
  if (pts.empty()) return 0.0;
  if (d == 1) {
    double best = ref[0];
    for (const auto& p : pts) best = std::max(best, p[0]);
    return best - ref[0];
  }
  if (d == 2) return hv_2d(std::move(pts), ref);
  const size_t last = d - 1;
  std::sort(pts.begin(), pts.end(),
            [&](const Objectives& a, const Objectives& b) { return a[last] > b[last]; });
  double volume = 0.0;
  std::vector<Objectives> above;
  for (size_t i = 0; i < pts.size(); ++i) {
    above.push_back(pts[i]);
    const double next = i + 1 < pts.size() ? pts[i + 1][last] : ref[last];
    const double depth = pts[i][last] - next;
    if (depth > 0) volume += depth * hv_slice(above, ref, d - 1);
  }
  return volume;
}

std::vector<Objectives> strictly_better(const std::vector<Objectives>& points,
                                        const Objectives& ref) {
  std::vector<Objectives> out;
  for (const auto& p : points) {
    bool ok = true;
    for (size_t j = 0; j < ref.size() && ok; ++j) ok = p[j] > ref[j];
    if (ok) out.push_back(p);
  }
  return out;
}

}  // namespace

double hypervolume(const std::vector<Objectives>& points, const Objectives& ref) {
  std::vector<Objectives> pts = strictly_better(points, ref);
  if (pts.empty()) return 0.0;
  std::vector<Objectives> front;
  for (size_t i : pareto_front(pts)) front.push_back(pts[i]);
  return hv_slice(std::move(front), ref, ref.size());
}

double hypervolume_mc(const std::vector<Objectives>& points, const Objectives& ref, size_t samples,
                      uint64_t seed) {
  const std::vector<Objectives> pts = strictly_better(points, ref);
  if (pts.empty() || samples == 0) return 0.0;
  const size_t d = ref.size();
  Objectives hi = ref;
  for (const auto& p : pts) {
    for (size_t j = 0; j < d; ++j) hi[j] = std::max(hi[j], p[j]);
  }
  double box = 1.0;
  for (size_t j = 0; j < d; ++j) box *= hi[j] - ref[j];
  Rng rng(seed);
  Objectives z(d);
  size_t inside = 0;
  for (size_t s = 0; s < samples; ++s) {
    for (size_t j = 0; j < d; ++j) z[j] = rng.uniform(ref[j], hi[j]);
    for (const auto& p : pts) {
      bool covers = true;
      for (size_t j = 0; j < d && covers; ++j) covers = p[j] >= z[j];
      if (covers) {
        ++inside;
        break;
      }
    }
  }
  return box * static_cast<double>(inside) / static_cast<double>(samples);
}

}  // namespace autodistill::bo
