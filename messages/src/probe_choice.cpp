#include "autodistill/probe_choice.hpp"

#include <cmath>

namespace autodistill {

bool probe_converged(const std::map<std::string, double>& metrics) {
  auto it = metrics.find(kProbeConvergedMetric);
  return it == metrics.end() || !std::isfinite(it->second) || it->second != 0;
}

std::optional<size_t> counted_measurement(const std::vector<bool>& converged) {
  if (converged.empty()) return std::nullopt;
  for (size_t i = converged.size(); i-- > 0;) {
    if (converged[i]) return i;
  }
  return converged.size() - 1;
}

}  // namespace autodistill
