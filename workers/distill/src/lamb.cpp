#include "autodistill/distill/lamb.hpp"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

namespace autodistill::distill {

Lamb::Lamb(std::vector<ParamGroup> groups, LambOptions options) : options_(options) {
  for (auto& group : groups) {
    for (size_t i = 0; i < group.params.size(); ++i) {
      const at::Tensor& p = group.params[i];
      std::string name =
          i < group.names.size() ? group.names[i] : "#" + std::to_string(states_.size());
      states_.push_back({std::move(name), p, at::zeros_like(p), at::zeros_like(p),
                         at::empty_like(p), group.adapt});
    }
  }
}

void Lamb::step(double lr) {
  at::NoGradGuard no_grad;
  const double b1 = options_.beta1, b2 = options_.beta2;
  for (State& s : states_) {
    const at::Tensor& g = s.param.grad();
    if (!g.defined()) continue;
    ++s.step;
    s.m.lerp_(g, 1.0 - b1);
    s.v.mul_(b2).addcmul_(g, g, 1.0 - b2);
    const double c1 = 1.0 - std::pow(b1, static_cast<double>(s.step));
    const double c2 = 1.0 - std::pow(b2, static_cast<double>(s.step));
    // u = (m / c1) / (sqrt(v / c2) + eps) = m / (sqrt(v) c1 / sqrt(c2) + eps c1), computed
    // in the state's own buffer: no temporaries of the parameter's size (on the CPU a
    // large fresh allocation is a fresh mmap, paid again in page faults every step).
    at::Tensor& update = s.update;
    at::sqrt_out(update, s.v).mul_(c1 / std::sqrt(c2)).add_(options_.eps * c1);
    at::div_out(update, s.m, update);
    if (s.adapt) {
      if (options_.weight_decay != 0.0) update.add_(s.param, options_.weight_decay);
      // The trust ratio stays on the device (no host round trip per tensor).
      const at::Tensor w = s.param.norm(), u = update.norm();
      const at::Tensor ratio = at::where((w > 0) & (u > 0), w / u, at::ones_like(w));
      s.param.addcmul_(update, ratio, -lr);
    } else {
      s.param.add_(update, -lr);
    }
  }
}

void Lamb::zero_grad() {
  for (State& s : states_) {
    if (s.param.grad().defined()) s.param.mutable_grad() = at::Tensor();
  }
}

std::vector<Lamb::Moments> Lamb::save_state() const {
  std::vector<Moments> out;
  out.reserve(states_.size());
  for (const State& s : states_) {
    out.push_back({s.name, s.m.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true),
                   s.v.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true), s.step});
  }
  return out;
}

Status Lamb::load_state(const std::vector<Moments>& state) {
  if (state.size() != states_.size()) {
    return Status(Code::kInvalidArgument,
                  "optimizer state for " + std::to_string(state.size()) +
                      " parameters, this phase trains " + std::to_string(states_.size()),
                  "optimizer");
  }
  for (size_t i = 0; i < state.size(); ++i) {
    const State& s = states_[i];
    const Moments& m = state[i];
    if (m.name != s.name || !m.m.defined() || !m.v.defined() || m.m.sizes() != s.m.sizes() ||
        m.v.sizes() != s.v.sizes() || m.step < 0) {
      return Status(
          Code::kInvalidArgument,
          "optimizer state of \"" + m.name + "\" does not fit parameter \"" + s.name + "\"",
          "optimizer");
    }
  }
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < state.size(); ++i) {
    states_[i].m.copy_(state[i].m);
    states_[i].v.copy_(state[i].v);
    states_[i].step = state[i].step;
  }
  return Status::ok();
}

std::vector<ParamGroup> lamb_groups(const std::vector<std::pair<std::string, at::Tensor>>& named) {
  ParamGroup adapted{{}, true}, plain{{}, false};
  for (const auto& [name, p] : named) {
    const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    const bool norm = name.find("LayerNorm") != std::string::npos;
    ParamGroup& group = bias || norm || p.dim() <= 1 ? plain : adapted;
    group.params.push_back(p);
    group.names.push_back(name);
  }
  return {adapted, plain};
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm().pow(2));
  }
  if (norms.empty()) return 0.0;
  const double total = at::stack(norms).sum().sqrt().item<double>();
  if (total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (const auto& p : params) {
      if (p.grad().defined()) p.grad().mul_(scale);
    }
  }
  return total;
}

double LinearSchedule::at(int64_t step) const {
  if (step < warmup_steps) {
    return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
  const int64_t decay = std::max<int64_t>(1, total_steps - warmup_steps);
  const double left = static_cast<double>(total_steps - step) / static_cast<double>(decay);
  return peak * std::clamp(left, 0.0, 1.0);
}

}  // namespace autodistill::distill
