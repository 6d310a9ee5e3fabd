#pragma once
// A SYNTHETIC accuracy / latency landscape over the paper's Table 1 space
// (24 blocks; hidden, bottleneck, heads, intermediate, stacked FFNs), used by
// the BO benchmark and the engine tests. It is not measured data: accuracy is
// a hand-made surrogate of flash-distilled MLM accuracy, latency a simple
// cost model of batch-1 inference on an accelerator (see the .cpp for every
// term). Each point also gets a fixed pseudo-random perturbation (hashed from
// the architecture), so the landscape is a fixed table, like a tabular
// benchmark, with the small irregularities of real measurements.
// Pure functions; thread-safe.

#include "autodistill/bo/design_space.hpp"

namespace autodistill::bo::synthetic {

// Points are table1_space() points: {blocks, hidden, bottleneck, heads,
// intermediate, stacked_ffn}.
double accuracy(const Point& p);    // percent, higher is better
double latency_ms(const Point& p);  // milliseconds, lower is better

// The MobileBERT-like reference architecture: hidden 512, bottleneck 128,
// 4 heads, intermediate 512, 4 stacked FFNs.
Point mobilebert_reference();

// True when p is strictly better than the reference in both objectives.
bool dominates_reference(const Point& p);

}  // namespace autodistill::bo::synthetic
