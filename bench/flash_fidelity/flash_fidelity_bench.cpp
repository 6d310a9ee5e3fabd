// bench/flash_fidelity: does Flash Distillation rank students the way
// regular distillation does (AutoDistill Sec. 4.7, Fig. 6)?
//
// On a tiny teacher made by the project's own `autodistill-make-teacher`
// (made once per build directory, seed 0, unless --teacher names one), each
// architecture below is distilled twice by the real Distiller (progressive
// transfer + pre-training distillation, LAMB): a flash run and a regular run
// with 20x its steps (flash = 5 % of regular, as in the paper). Both are
// evaluated on the same held-out examples (fixed split and eval seed, so the
// evaluation is deterministic); the table shows each MLM accuracy with its
// binomial standard error sqrt(p (1 - p) / n) over the n masked positions,
// then Kendall's tau-b and Spearman's rho between the flash and the regular
// accuracies, and the median accuracy gap between two architectures next to
// the evaluation's standard error (the ranking is only meaningful where the
// gaps exceed it).
//
// The architectures are fixed here, chosen before any result was seen: the
// paper's Table 1 space scaled by 1/8 to the tiny teacher's widths (Table 1:
// hidden {128, 256, 384, 512}, bottleneck {64, 96, 128, 160}, heads {1, 2, 4,
// 8}, intermediate {384, 512, 640}, stacked FFNs {2, 4, 6}; IB-BERT's 512-wide
// blocks correspond to the tiny teacher's 64): hidden {16, 32, 48, 64},
// bottleneck {8, 12, 16, 20}, heads {1, 2, 4, 8}, intermediate {48, 64, 80},
// stacked FFNs {2, 4, 6}, and as many blocks as the teacher has layers (the
// paper's 24 blocks for a 24-layer teacher). The ten points are the two
// corners of the space, MobileBERT scaled (512/128/4/512/4 -> 64/16/4/64/4)
// and seven points placed so that every level of every factor occurs two to
// four times (a balanced design spanning the space, not a sample near one
// size).
//
// Both runs use the same settings but the step count, as a study's flash
// and regular trials do (one learning_rate in the worker's settings).
//
// usage: flash_fidelity_bench [--teacher DIR] [--flash-steps 60]
//          [--regular-steps 1200] [--lr 0.01] [--batch-size 32] [--seq-len 32]
//          [--eval-batches 64] [--eval-fraction 0.2] [--threads 1] [--jobs 2]
//          [--seed 0]

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "../common/rank_correlation.hpp"
#include "autodistill/distill/distiller.hpp"
#include "autodistill/flag_parser.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/student.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/wordpiece.hpp"

namespace {

using namespace autodistill;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Config {
  fs::path teacher = AUTODISTILL_BENCH_TEACHER_DIR;
  int64_t flash_steps = 60;
  int64_t regular_steps = 0;  // 0: 20 x flash_steps
  double learning_rate = 1e-2;
  int64_t batch_size = 32;
  int64_t seq_len = 32;
  int64_t eval_batches = 64;
  double eval_fraction = 0.2;
  int threads = 1;
  int jobs = 2;
  uint64_t seed = 0;
};

// Factors (K is the teacher's layer count): hidden, bottleneck, heads,
// intermediate, stacked FFNs.
struct Factors {
  int64_t hidden, bottleneck, heads, intermediate, stacked;
};
constexpr Factors kArchitectures[] = {
    {16, 8, 1, 48, 2},   // smallest corner
    {64, 20, 4, 80, 6},  // largest corner
    {64, 16, 4, 64, 4},  // MobileBERT scaled
    {32, 12, 2, 64, 4}, {48, 16, 2, 80, 2}, {16, 20, 4, 80, 6}, {64, 8, 1, 48, 2},
    {32, 16, 8, 48, 6}, {48, 12, 1, 64, 4}, {48, 20, 2, 48, 4},
};

std::string name_of(const Factors& f) {
  return std::to_string(f.hidden) + "_" + std::to_string(f.bottleneck) + "_" +
         std::to_string(f.heads) + "_" + std::to_string(f.intermediate) + "_" +
         std::to_string(f.stacked);
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double standard_error(double p, int64_t n) {
  return n > 0 ? std::sqrt(p * (1.0 - p) / static_cast<double>(n)) : 0.0;
}

std::vector<double> pairwise_gaps(const std::vector<double>& x) {
  std::vector<double> gaps;
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = i + 1; j < x.size(); ++j) gaps.push_back(std::fabs(x[i] - x[j]));
  }
  return gaps;
}

struct Run {
  distill::EvalResult eval;
  double seconds = 0;
  int64_t params = 0;
  std::string error;
};

// Makes the teacher with the project's tool when `dir` has none.
Status ensure_teacher(const fs::path& dir, int threads) {
  if (fs::exists(dir / "model.safetensors")) return Status::ok();
  std::fprintf(stderr, "making the teacher in %s (autodistill-make-teacher)...\n", dir.c_str());
  const std::string command = std::string("'") + AUTODISTILL_MAKE_TEACHER_BIN + "' --out '" +
                              dir.string() + "' --documents 20000 --seed 0 --threads " +
                              std::to_string(threads) + " > '" + dir.string() + ".log' 2>&1";
  if (std::system(command.c_str()) != 0 || !fs::exists(dir / "model.safetensors")) {
    return Status(Code::kInternal, "autodistill-make-teacher failed; see " + dir.string() + ".log");
  }
  return Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  autodistill::FlagParser parser(
      "flash_fidelity_bench: Kendall tau between flash and regular distillation rankings.\n\n"
      "Usage:\n  flash_fidelity_bench [flags]");
  auto int_flag = [&](const char* name, auto* target, int64_t min, const char* help) {
    parser.add_int(name, help, target, min, 1 << 30);
  };
  auto real_flag = [&](const char* name, double* target, const char* help) {
    parser.add_real(name, help, target, true);
  };
  parser.add_text("teacher", "DIR",
                  "Teacher checkpoint with corpus.txt (default: made in the build dir).",
                  &cfg.teacher);
  int_flag("flash-steps", &cfg.flash_steps, 1, "Flash distillation steps (default 60).");
  int_flag("regular-steps", &cfg.regular_steps, 0, "Regular steps (default 20 x flash).");
  real_flag("lr", &cfg.learning_rate, "Peak learning rate of both runs (default 0.01).");
  int_flag("batch-size", &cfg.batch_size, 1, "Sequences per batch (default 32).");
  int_flag("seq-len", &cfg.seq_len, 8, "Tokens per sequence (default 32).");
  int_flag("eval-batches", &cfg.eval_batches, 1, "Held-out batches evaluated (default 64).");
  real_flag("eval-fraction", &cfg.eval_fraction, "Share of documents held out (default 0.2).");
  int_flag("threads", &cfg.threads, 1, "Intra-op threads per run (default 1).");
  int_flag("jobs", &cfg.jobs, 1, "Runs at once (default 2).");
  int_flag("seed", &cfg.seed, 0, "Student initialization and data order (default 0).");
  Status parsed = parser.parse(argc, argv);
  if (!parsed) return autodistill::usage_error("flash_fidelity_bench", parsed);
  if (auto status = parser.answer_help_or_version("flash_fidelity_bench")) return *status;
  if (cfg.regular_steps == 0) cfg.regular_steps = 20 * cfg.flash_steps;
  at::set_num_threads(cfg.threads);

  const auto start = Clock::now();
  const double load_start = load_average();
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "flash_fidelity_bench: %s\n", s.to_string().c_str());
    return 1;
  };
  if (Status s = ensure_teacher(cfg.teacher, cfg.threads); !s) return fail(s);
  auto teacher = model::Teacher::load(cfg.teacher);
  if (!teacher) return fail(teacher.status());
  auto vocab = model::Vocab::read(cfg.teacher / "vocab.txt");
  if (!vocab) return fail(vocab.status());
  auto tokenizer = model::WordPieceTokenizer::create(std::move(vocab.value()));
  if (!tokenizer) return fail(tokenizer.status());
  auto corpus = model::Corpus::open(cfg.teacher / "corpus.txt",
                                    {.eval_fraction = cfg.eval_fraction, .split_seed = 0});
  if (!corpus) return fail(corpus.status());
  const model::BertConfig& tc = teacher->config();
  const double teacher_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // One task per (architecture, kind); regular runs first (longest first).
  const size_t n = std::size(kArchitectures);
  std::vector<Run> flash(n), regular(n);
  std::vector<std::pair<size_t, bool>> tasks;
  for (size_t i = 0; i < n; ++i) tasks.emplace_back(i, true);
  for (size_t i = 0; i < n; ++i) tasks.emplace_back(i, false);
  std::atomic<size_t> next{0};
  std::mutex print_mu;
  auto work = [&] {
    at::set_num_threads(cfg.threads);
    for (size_t t = next++; t < tasks.size(); t = next++) {
      const auto [i, is_regular] = tasks[t];
      const Factors& f = kArchitectures[i];
      const StudentArch arch{
          tc.num_hidden_layers, f.hidden,  f.bottleneck,  f.heads,
          f.intermediate,       f.stacked, tc.vocab_size, tc.max_position_embeddings,
          tc.type_vocab_size};
      Run& run = is_regular ? regular[i] : flash[i];
      const auto t0 = Clock::now();
      auto student = model::Student::create(arch, cfg.seed);
      if (!student) {
        run.error = student.status().to_string();
        continue;
      }
      run.params = student->parameter_count();
      distill::DistillOptions o;
      o.steps = is_regular ? cfg.regular_steps : cfg.flash_steps;
      o.learning_rate = cfg.learning_rate;
      o.batch_size = cfg.batch_size;
      o.seq_len = cfg.seq_len;
      o.eval_batches = cfg.eval_batches;
      o.seed = cfg.seed;
      auto distiller = distill::Distiller::create(*student, *teacher, *corpus, *tokenizer, o);
      if (!distiller) {
        run.error = distiller.status().to_string();
        continue;
      }
      auto report = distiller->run();
      if (!report) {
        run.error = report.status().to_string();
        continue;
      }
      run.eval = report->eval;
      run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      std::lock_guard lock(print_mu);
      std::fprintf(stderr, "%-14s %-7s MLM %.4f (%lld predictions) in %.0f s\n", name_of(f).c_str(),
                   is_regular ? "regular" : "flash", run.eval.mlm_accuracy,
                   static_cast<long long>(run.eval.mlm_predictions), run.seconds);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < cfg.jobs; ++j) pool.emplace_back(work);
  for (auto& t : pool) t.join();

  std::printf(
      "flash_fidelity_bench: teacher %s (%lld layers, hidden %lld, %lld parameters), "
      "corpus %lld documents (%.0f %% held out)\n",
      cfg.teacher.c_str(), static_cast<long long>(tc.num_hidden_layers),
      static_cast<long long>(tc.hidden_size), static_cast<long long>(teacher->parameter_count()),
      static_cast<long long>(corpus->num_documents()), 100 * cfg.eval_fraction);
  std::printf(
      "flash %lld steps, regular %lld steps; peak lr %g; batch %lld x seq %lld; "
      "eval %lld batches; seed %llu; %d threads x %d jobs\n\n",
      static_cast<long long>(cfg.flash_steps), static_cast<long long>(cfg.regular_steps),
      cfg.learning_rate, static_cast<long long>(cfg.batch_size),
      static_cast<long long>(cfg.seq_len), static_cast<long long>(cfg.eval_batches),
      static_cast<unsigned long long>(cfg.seed), cfg.threads, cfg.jobs);
  std::printf(
      "| architecture H_B_A_I_F | params | flash MLM acc | regular MLM acc | flash s | "
      "regular s |\n|---|---:|---:|---:|---:|---:|\n");
  std::vector<double> fa, ra, ses_flash, ses_regular;
  for (size_t i = 0; i < n; ++i) {
    const std::string name = name_of(kArchitectures[i]);
    if (!flash[i].error.empty() || !regular[i].error.empty()) {
      std::printf("| %s | failed: %s%s |\n", name.c_str(), flash[i].error.c_str(),
                  regular[i].error.c_str());
      continue;
    }
    const double sf = standard_error(flash[i].eval.mlm_accuracy, flash[i].eval.mlm_predictions);
    const double sr = standard_error(regular[i].eval.mlm_accuracy, regular[i].eval.mlm_predictions);
    std::printf("| %s | %lld | %.4f ± %.4f | %.4f ± %.4f | %.0f | %.0f |\n", name.c_str(),
                static_cast<long long>(flash[i].params), flash[i].eval.mlm_accuracy, sf,
                regular[i].eval.mlm_accuracy, sr, flash[i].seconds, regular[i].seconds);
    fa.push_back(flash[i].eval.mlm_accuracy);
    ra.push_back(regular[i].eval.mlm_accuracy);
    ses_flash.push_back(sf);
    ses_regular.push_back(sr);
  }
  if (fa.size() < 3) return fail(Status(Code::kInternal, "too few architectures finished"));
  std::printf(
      "\n%zu architectures, %lld masked predictions per evaluation; ± is the binomial standard "
      "error sqrt(p(1-p)/n)\n",
      fa.size(), static_cast<long long>(flash[0].eval.mlm_predictions));
  std::printf(
      "median |accuracy gap| between two architectures: flash %.4f (median SE %.4f), "
      "regular %.4f (median SE %.4f)\n",
      median(pairwise_gaps(fa)), median(ses_flash), median(pairwise_gaps(ra)), median(ses_regular));
  std::printf("Kendall tau-b %.3f, Spearman rho %.3f (flash vs regular MLM accuracy)\n",
              autodistill::bench::kendall_tau_b(fa, ra), autodistill::bench::spearman(fa, ra));
  std::printf("wall time %.0f s (teacher %.0f s); load average %.2f at start, %.2f at end\n",
              std::chrono::duration<double>(Clock::now() - start).count(), teacher_seconds,
              load_start, load_average());
  return 0;
}
