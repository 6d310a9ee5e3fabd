#include "table1_landscape.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "autodistill/bo/rng.hpp"

namespace autodistill::bo::synthetic {
namespace {

// A fixed N(0, 1) draw per (architecture, stream).
double hashed_normal(const Point& p, uint64_t stream) {
  uint64_t h = stream;
  for (double v : p) h = hash_combine(h, static_cast<uint64_t>(std::llround(v)));
  Rng rng(h);
  return rng.normal();
}

// Fraction of a matrix unit doing useful work for a dimension (128-wide
// tiles: 96 -> 0.75, 160 -> 0.625, 384 -> 1).
double tile_utilization(double width) {
  return width / (std::ceil(width / 128.0) * 128.0);
}

}  // namespace

double accuracy(const Point& p) {
  const double H = p[1], B = p[2], A = p[3], I = p[4], F = p[5];
  const double head_dim = B / A;
  double acc = 64.0;
  acc += 3.5 * (1.0 - std::exp(-(H - 128.0) / 160.0));  // residual / embedding width
  acc +=
      2.6 * (1.0 - std::exp(-(B - 64.0) / 40.0)) / (1.0 - std::exp(-96.0 / 40.0));  // block width
  acc += 1.7 * std::log2(F * I / 768.0) / std::log2(3840.0 / 768.0);  // FFN capacity, diminishing
  acc -=
      0.5 * std::pow(std::max(0.0, std::log2(H / B) - 2.0), 2.0);  // H/B > 4 squeezes information
  acc -= 0.9 * std::max(0.0, std::log2(24.0 / head_dim));          // heads narrower than 24
  acc -= 0.06 * std::log2(A);  // fewer, wider heads distill better
  acc -=
      0.15 * std::max(0.0, F - 4.0) * (B < 128.0 ? 1.0 : 0.0);  // deep FFN stacks on narrow blocks
  acc += 0.2 * hashed_normal(p, 0xacc);                         // flash-distillation noise
  return acc;
}

double latency_ms(const Point& p) {
  const double K = p[0], H = p[1], B = p[2], A = p[3], I = p[4], F = p[5];
  const double S = 128.0;  // serving sequence length
  // Sequential kernels per block: 2 bottleneck linears, attention (QKV, scores,
  // softmax, context, output), F stacked FFNs of 2 matmuls + a norm, 2 norms.
  const double ops = 2.0 + 5.0 + 3.0 * F + 2.0;
  const double launch_us = 0.8 * ops;
  // Dense matmuls at an effective 15 TFLOP/s (batch 1), scaled by tile utilization.
  const double peak = 15e6;  // FLOP per microsecond
  const double bottleneck =
      2.0 * 2.0 * S * H * B / (peak * tile_utilization(B) * tile_utilization(H));
  const double projections = 2.0 * 4.0 * S * B * B / (peak * tile_utilization(B));
  const double ffn = F * 2.0 * 2.0 * S * B * I / (peak * tile_utilization(B) * tile_utilization(I));
  // Attention scores and context per head: small heads use the unit poorly.
  const double head_dim = B / A;
  const double attention =
      2.0 * 2.0 * S * S * B / (peak * std::min(1.0, head_dim / 64.0)) + 0.35 * A;
  const double block_us = launch_us + bottleneck + projections + ffn + attention;
  const double embed_us = 6.0 + H / 128.0;
  const double us = embed_us + K * block_us;
  return us / 1000.0 * (1.0 + 0.01 * hashed_normal(p, 0x1a7));
}

Point mobilebert_reference() {
  return {24, 512, 128, 4, 512, 4};
}

bool dominates_reference(const Point& p) {
  static const Point ref = mobilebert_reference();
  return accuracy(p) > accuracy(ref) && latency_ms(p) < latency_ms(ref);
}

}  // namespace autodistill::bo::synthetic
