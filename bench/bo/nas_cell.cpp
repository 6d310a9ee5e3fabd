#include "nas_cell.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "autodistill/bo/rng.hpp"

namespace autodistill::bo::nas_cell {
namespace {

enum Op { kNone = 0, kSkip = 1, kConv1 = 2, kConv3 = 3, kPool = 4 };
constexpr std::array<std::pair<int, int>, 6> kEdges = {
    {{0, 1}, {0, 2}, {1, 2}, {0, 3}, {1, 3}, {2, 3}}};
// Capacity an operation adds to accuracy when it lies on a live path.
constexpr std::array<double, 5> kCapacity = {0.0, 0.0, 0.55, 1.0, 0.12};
// Milliseconds an operation costs when executed (every non-none edge runs).
constexpr std::array<double, 5> kCost = {0.0, 0.04, 0.22, 0.55, 0.15};

// A fixed uniform draw in [0, 1) per (architecture, stream).
double hashed_uniform(const Point& p, uint64_t stream) {
  uint64_t h = stream;
  for (double v : p) h = hash_combine(h, static_cast<uint64_t>(std::llround(v)));
  Rng rng(h);
  return rng.uniform();
}

}  // namespace

const std::vector<std::string>& operations() {
  static const std::vector<std::string> k = {"none", "skip", "conv1x1", "conv3x3", "avgpool"};
  return k;
}

DesignSpace space() {
  DesignSpace s;
  for (int e = 0; e < 6; ++e) {
    Factor f;
    f.name = "e" + std::to_string(e);
    f.kind = FactorKind::kCategorical;
    f.categories = operations();
    s.factors.push_back(std::move(f));
  }
  return s;
}

Values evaluate(const Point& p) {
  std::array<int, 6> op{};
  for (size_t e = 0; e < 6; ++e) op[e] = static_cast<int>(std::llround(p[e]));
  // Nodes reachable from the input, and nodes that reach the output.
  std::array<bool, 4> live = {true, false, false, false};
  for (size_t e = 0; e < 6; ++e) {
    if (op[e] != kNone && live[kEdges[e].first]) live[kEdges[e].second] = true;
  }
  std::array<bool, 4> reaches = {false, false, false, true};
  for (size_t e = 6; e-- > 0;) {
    if (op[e] != kNone && reaches[kEdges[e].second]) reaches[kEdges[e].first] = true;
  }
  // Latency: 1.2 ms of stem, stacked cells and head; every executed operation;
  // 0.05 ms per node that sums two or more inputs; +-1.5 % device perturbation.
  Values v;
  v.latency_ms = 1.2;
  std::array<int, 4> inputs{};
  for (size_t e = 0; e < 6; ++e) {
    v.latency_ms += kCost[static_cast<size_t>(op[e])];
    if (op[e] != kNone) ++inputs[kEdges[e].second];
  }
  for (int n : inputs) v.latency_ms += n >= 2 ? 0.05 : 0.0;
  v.latency_ms *= 1.0 + 0.03 * (hashed_uniform(p, 0x1a7) - 0.5);
  if (!live[3]) {
    v.degenerate = true;
    v.accuracy = 10.0 + 0.2 * (hashed_uniform(p, 0xacc) - 0.5);
    return v;
  }
  // Accuracy over the effective edges (on a path from the input to the output).
  double capacity = 0.0;
  int pools = 0;
  bool skip = false;
  std::array<int, 4> depth = {0, -1, -1, -1};  // most convolutions on a path to the node
  for (size_t e = 0; e < 6; ++e) {
    const auto [from, to] = kEdges[e];
    if (op[e] == kNone || !live[static_cast<size_t>(from)] || !reaches[static_cast<size_t>(to)])
      continue;
    capacity += kCapacity[static_cast<size_t>(op[e])];
    pools += op[e] == kPool ? 1 : 0;
    skip = skip || op[e] == kSkip;
    const int conv = op[e] == kConv1 || op[e] == kConv3 ? 1 : 0;
    depth[static_cast<size_t>(to)] =
        std::max(depth[static_cast<size_t>(to)], depth[static_cast<size_t>(from)] + conv);
  }
  v.accuracy = 55.0 + 38.0 * (1.0 - std::exp(-0.75 * capacity)) + 1.5 * std::min(depth[3], 3) +
               (skip && capacity > 0 ? 1.2 : 0.0) - 0.8 * pools +
               0.5 * (hashed_uniform(p, 0xacc) - 0.5);
  return v;
}

Point baseline() {
  return {kConv3, kNone, kConv3, kSkip, kNone, kSkip};
}

}  // namespace autodistill::bo::nas_cell
