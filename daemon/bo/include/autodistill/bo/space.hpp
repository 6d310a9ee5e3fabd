#pragma once
// Space: a validated DesignSpace with the operations the engine needs —
// membership and validity checks, canonical points, the unit-cube encoding
// the GP kernel and the evolutionary searches work in, sampling and
// enumeration. Immutable after build(); safe to share between threads.
//
// Unit encoding (one coordinate per factor, in [0, 1]):
//   ordinal    (s(v) - s(min)) / (s(max) - s(min)), s = identity or log (Scale);
//              0.5 when the factor has a single value
//   integer    the same on [low, high]; decoding rounds to the nearest integer
//   continuous the same on [low, high]
//   categorical (index + 0.5) / #categories; the kernel compares categorical
//              coordinates for equality only (distance 0 or 1), so the encoding
//              is equivalent to a one-hot encoding with one shared lengthscale.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/bo/design_space.hpp"
#include "autodistill/bo/rng.hpp"
#include "autodistill/status.hpp"

namespace autodistill::bo {

class Space {
 public:
  // Validates `spec`. Errors are kInvalidArgument with a field path such as
  // "factors[2].values[1]" or "divisibility[0].divisor".
  static Result<Space> build(const DesignSpace& spec);

  size_t dims() const { return spec_.factors.size(); }
  const Factor& factor(size_t i) const { return spec_.factors[i]; }
  // Index of the factor called `name`, or -1.
  int find(std::string_view name) const;
  bool categorical(size_t i) const { return spec_.factors[i].kind == FactorKind::kCategorical; }
  // True when no factor is continuous.
  bool discrete() const { return discrete_; }
  // Number of grid points before the divisibility rules; nullopt when a
  // factor is continuous or the count exceeds 2^62.
  std::optional<uint64_t> grid_size() const { return grid_size_; }

  // Ok when `p` has one in-domain value per factor and satisfies the rules;
  // otherwise kInvalidArgument with field "<field>[i]".
  Status check(const Point& p, const std::string& field) const;
  // The stored representation of a point that passed check(): ordinal values
  // snapped to the configured value, integers rounded.
  Point canonical(const Point& p) const;
  bool satisfies_rules(const Point& p) const;

  // Unit encoding of `p` (see the file comment), written to out[0..dims).
  void encode(const Point& p, double* out) const;
  std::vector<double> encode(const Point& p) const;
  // The grid point nearest to unit coordinates `u` (clamped to [0, 1]),
  // per factor; the result may violate the divisibility rules.
  Point decode(const std::vector<double>& u) const;
  // Uniform per factor (log-uniform for kLog continuous factors); may violate
  // the divisibility rules.
  Point sample(Rng& rng) const;
  // A point that satisfies the rules, by rejection (at most `tries` draws).
  std::optional<Point> sample_valid(Rng& rng, int tries = 1000) const;
  // The centre of the unit cube, decoded.
  Point centre() const;

  // Calls fn for every point that satisfies the rules, in grid order (last
  // factor fastest), until fn returns false. Requires discrete() and a
  // grid_size(); callers bound the count they are willing to visit.
  void for_each(const std::function<bool(const Point&)>& fn) const;

 private:
  struct Compiled {
    std::vector<double> sorted;  // ordinal values, ascending
    double lo = 0.0, hi = 0.0;   // scaled bounds (log applied for kLog)
  };
  double to_unit(size_t i, double v) const;
  double from_unit(size_t i, double u) const;

  DesignSpace spec_;
  std::vector<Compiled> compiled_;
  std::vector<std::pair<size_t, size_t>> rules_;  // (divisor, dividend) factor indices
  bool discrete_ = true;
  std::optional<uint64_t> grid_size_;
};

}  // namespace autodistill::bo
