#pragma once
// A SYNTHETIC categorical problem shaped like a hardware-aware cell-NAS table
// (the NAS-Bench-201 cell: 4 nodes, 6 edges, 5 operations per edge; 5^6 =
// 15,625 architectures), built from a documented formula rather than from
// measured data. Every term is in nas_cell.cpp; the shape is what matters for
// a search engine:
//   * 6 categorical factors of 5 unordered choices;
//   * cells whose output is cut off from the input (every path through a
//     `none` edge) are DEGENERATE: chance accuracy (10 %) and the lowest
//     latencies of the table, so they lie on the low-latency end of the
//     Pareto front (2.2 % of the table);
//   * accuracy grows with the convolutions on live paths, with diminishing
//     returns, a bonus for depth and for a residual (skip) edge, a penalty
//     per pooling edge; latency adds a cost per executed operation (dead
//     edges still run), a cost per node that sums inputs, and a fixed ±1.5 %
//     per-architecture device perturbation; accuracy a fixed ±0.25 point one.
// Pure functions; thread-safe.

#include <string>
#include <vector>

#include "autodistill/bo/design_space.hpp"

namespace autodistill::bo::nas_cell {

// Edge order (as NAS-Bench-201's string): 0->1, 0->2, 1->2, 0->3, 1->3, 2->3.
// Operation categories, in index order.
const std::vector<std::string>& operations();  // none, skip, conv1x1, conv3x3, avgpool

// Factors "e0".."e5", each categorical over operations().
DesignSpace space();

struct Values {
  double accuracy = 0;    // percent, higher is better
  double latency_ms = 0;  // lower is better
  bool degenerate = false;
};
Values evaluate(const Point& p);

// The hand-designed baseline: the ResNet-like cell conv3x3 (0->1),
// none (0->2), conv3x3 (1->2), skip (0->3), none (1->3), skip (2->3).
Point baseline();

}  // namespace autodistill::bo::nas_cell
