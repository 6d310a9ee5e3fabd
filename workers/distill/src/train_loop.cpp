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

at::Tensor scaled(const at::Tensor& loss, double share) {
  return share == 1.0 ? loss : loss * share;
}

Result<PhaseReport> TrainLoop::run(const std::string& phase, int64_t steps,
                                   const std::vector<model::NamedTensor>& params,
                                   const LossFn& loss_fn, const ProgressFn& progress) {
  PhaseReport report;
  report.phase = phase;
  if (steps <= 0) return report;
  optimizer = std::make_unique<Lamb>(lamb_groups(params), lamb);
  int64_t start = 0;
  if (resume) {
    if (resume->step < 0 || resume->step > steps) {
      return Status(Code::kInvalidArgument,
                    "checkpoint step " + std::to_string(resume->step) + " is outside " + phase +
                        " (" + std::to_string(steps) + " steps)",
                    "phase_step");
    }
    if (Status s = optimizer->load_state(resume->optimizer); !s) return s;
    start = resume->step;
    resume.reset();
  }
  // This phase's losses so far are the last `start` entries.
  const size_t phase_begin = losses.size() - static_cast<size_t>(start);
  phase_step = start;
  planned = std::max(planned, done + steps - start);
  const LinearSchedule schedule{learning_rate,
                                std::llround(warmup_fraction * static_cast<double>(steps)), steps};
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : params) tensors.push_back(t);
  if (sync) {
    if (Status s = sync->begin_phase(tensors); !s) return s;
  }
  struct EndPhase {
    GradientSync* sync;
    ~EndPhase() {
      if (sync) sync->end_phase();
    }
  } end_phase{sync};
  const auto start_time = std::chrono::steady_clock::now();
  auto account = [&] {
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  };
  for (int64_t step = start; step < steps; ++step) {
    auto cpu = loader->next();
    if (!cpu) {
      account();
      return cpu.status();
    }
    const model::Batch batch = cpu->to(device);
    double value = 0.0;
    if (sync == nullptr) {
      at::Tensor loss = loss_fn(batch, LossShares{});
      optimizer->zero_grad();
      loss.backward();
      clip_grad_norm(tensors, clip_norm);
      optimizer->step(schedule.at(step));
      value = loss.item<double>();
    } else {
      const int64_t rows = batch.inputs.input_ids.size(0);
      const int64_t begin = rows * sync->rank() / sync->world_size();
      const int64_t end = rows * (sync->rank() + 1) / sync->world_size();
      const model::Batch shard = batch.rows(begin, end);
      LossShares shares;
      shares.tokens = static_cast<double>(shard.tokens) / static_cast<double>(batch.tokens);
      shares.masked = static_cast<double>(shard.mlm_positions.numel()) /
                      static_cast<double>(batch.mlm_positions.numel());
      shares.rows = static_cast<double>(end - begin) / static_cast<double>(rows);
      at::Tensor loss = loss_fn(shard, shares);
      optimizer->zero_grad();
      loss.backward();
      auto global = sync->finish_step(loss.item<double>());
      if (!global) {
        account();
        return global.status();
      }
      value = *global;
      if (std::isfinite(value)) {
        clip_grad_norm(tensors, clip_norm);
        optimizer->step(schedule.at(step));
      }
    }
    if (!std::isfinite(value)) {
      account();
      return Status(Code::kTrialError, "training diverged: the loss is not finite in " + phase +
                                           " at step " + std::to_string(step + 1));
    }
    losses.push_back(value);
    tokens += batch.tokens;
    ++done;
    phase_step = step + 1;
    if (progress) {
      const size_t in_phase = losses.size() - phase_begin;
      const size_t window = std::min<size_t>(in_phase, 20);
      if (!progress({done, planned, phase, mean(losses, losses.size() - window, losses.size()),
                     schedule.at(step)})) {
        account();
        return Status(Code::kCancelled, "training cancelled");
      }
    }
  }
  account();
  const size_t count = losses.size() - phase_begin;
  const size_t tenth = std::max<size_t>(1, count / 10);
  report.steps = steps;
  report.first_loss = mean(losses, phase_begin, phase_begin + tenth);
  report.last_loss = mean(losses, losses.size() - tenth, losses.size());
  return report;
}

}  // namespace autodistill::distill::detail
