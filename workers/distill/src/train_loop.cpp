#include "train_loop.hpp"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>

namespace autodistill::distill::detail {

namespace {

double mean(const std::vector<double>& v, size_t begin, size_t end) {
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += v[i];
  return end > begin ? sum / static_cast<double>(end - begin) : 0.0;
}

}  // namespace

Result<PhaseReport> TrainLoop::run(const std::string& phase, int64_t steps,
                                   const std::vector<model::NamedTensor>& params,
                                   const std::function<at::Tensor(const model::Batch&)>& loss_fn,
                                   const ProgressFn& progress) {
  PhaseReport report;
  report.phase = phase;
  if (steps <= 0) return report;
  planned = std::max(planned, done + steps);
  Lamb optimizer(lamb_groups(params), lamb);
  const LinearSchedule schedule{learning_rate,
                                std::llround(warmup_fraction * static_cast<double>(steps)), steps};
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : params) tensors.push_back(t);
  std::vector<double> losses;
  const auto start = std::chrono::steady_clock::now();
  auto account = [&] {
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (int64_t step = 0; step < steps; ++step) {
    auto cpu = loader->next();
    if (!cpu) {
      account();
      return cpu.status();
    }
    const model::Batch batch = cpu->to(device);
    at::Tensor loss = loss_fn(batch);
    optimizer.zero_grad();
    loss.backward();
    clip_grad_norm(tensors, clip_norm);
    const double lr = schedule.at(step);
    optimizer.step(lr);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      account();
      return Status(Code::kTrialError, "training diverged: the loss is not finite in " + phase +
                                           " at step " + std::to_string(step + 1));
    }
    losses.push_back(value);
    tokens += batch.tokens;
    ++done;
    if (progress) {
      const size_t window = std::min<size_t>(losses.size(), 20);
      if (!progress(
              {done, planned, phase, mean(losses, losses.size() - window, losses.size()), lr})) {
        account();
        return Status(Code::kCancelled, "training cancelled");
      }
    }
  }
  account();
  const size_t tenth = std::max<size_t>(1, losses.size() / 10);
  report.steps = steps;
  report.first_loss = mean(losses, 0, tenth);
  report.last_loss = mean(losses, losses.size() - tenth, losses.size());
  return report;
}

}  // namespace autodistill::distill::detail
