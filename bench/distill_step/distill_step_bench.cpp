// bench/distill_step: how fast does a flash-distillation step train, and
// how much of the machine's matrix-multiply peak does it use?
//
// For three students of the paper's Table 1 space (hidden {128, 256, 384,
// 512}, bottleneck {64, 96, 128, 160}, heads {1, 2, 4, 8}, intermediate
// {384, 512, 640}, stacked FFNs {2, 4, 6}) — the smallest corner
// 128_64_1_384_2, a middle point 256_128_4_512_4 and the largest corner
// 512_160_8_640_6 — scaled to a CPU by depth only (4 blocks instead of 24,
// learning from a 4-layer BERT-mini-sized teacher: hidden 256, 4 heads,
// intermediate 1024, BERT's 30522-token vocabulary and 512 positions), it
// runs the real Distiller (batch loader, student + teacher forward, the
// transfer losses, backward, clipping, LAMB) on a generated corpus of long
// documents, timing
//   - pre-training distillation steps (2/3 of a flash run's steps): every
//     parameter trains on alpha L_MLM + (1 - alpha) L_MD + L_NSP;
//   - the last progressive stage (the most expensive one): all K blocks
//     forward, block K and its feature projection train on L_MHA + L_FM.
// Model FLOPs per step are analytic (2 per multiply-add of every matrix
// product; elementwise work, softmax and LayerNorm are not counted):
//   pre-training: 3 x student forward (forward + backward = 2 x forward) +
//                 teacher forward, the MLM heads at the masked positions;
//   progressive:  student forward of blocks 1..K + 2 x forward of block K
//                 and the projection (backward; nothing below block K needs
//                 gradients) + teacher forward of the layers it needs.
// Utilization = model FLOPs per second / the sgemm peak measured in the same
// run, just before each student (at::mm of two 2048 x 2048 float32
// matrices, best of 3, same thread count; the machine is shared, so the
// peak moves with the load). Tokens/s counts real (non-padding) tokens, as
// the worker reports. One warm-up step precedes the timed ones.
//
// usage: distill_step_bench [--threads 1,2] [--steps 3] [--batch-size 16]
//                           [--seq-len 128]

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../common/bert_mini.hpp"
#include "autodistill/distill/distiller.hpp"
#include "autodistill/flag_parser.hpp"
#include "autodistill/model/batch.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/synthetic_corpus.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/wordpiece.hpp"

namespace {

using namespace autodistill;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Config {
  std::vector<int> threads = {1, 2};
  int64_t steps = 3;
  int64_t batch_size = 16;
  int64_t seq_len = 128;
};

constexpr int64_t kBlocks = 4;
constexpr int64_t kVocab = bench::kBertVocab;

struct Size {
  const char* label;
  int64_t hidden, bottleneck, heads, intermediate, stacked;
};
constexpr Size kSizes[] = {
    {"small", 128, 64, 1, 384, 2},
    {"medium", 256, 128, 4, 512, 4},
    {"largest", 512, 160, 8, 640, 6},
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

// GFLOP/s of at::mm on two n x n float32 matrices: the best of 3 after a
// warm-up, with the current thread count.
double sgemm_peak(int64_t n = 2048) {
  const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
  at::Tensor c = at::mm(a, b);
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    const auto t = Clock::now();
    at::mm_out(c, a, b);
    best = std::max(best, 2.0 * static_cast<double>(n * n * n) / seconds_since(t) / 1e9);
  }
  return best;
}

// Matrix-product FLOPs of one forward, per token (t) or per sequence.
struct StudentFlops {
  const StudentArch& a;
  // One block, per token, sequence length s.
  double block(double s) const {
    const double h = static_cast<double>(a.hidden_size), b = static_cast<double>(a.bottleneck_size),
                 i = static_cast<double>(a.intermediate_size),
                 f = static_cast<double>(a.num_stacked_ffn);
    return 2.0 * (h * b + 4.0 * b * b + f * 2.0 * b * i + b * h) + 2.0 * 2.0 * s * b;
  }
  // MLM head per masked position; NSP head per sequence.
  double mlm() const {
    const double h = static_cast<double>(a.hidden_size);
    return 2.0 * (h * h + h * static_cast<double>(a.vocab_size));
  }
  double nsp() const {
    const double h = static_cast<double>(a.hidden_size);
    return 2.0 * (h * h + 2.0 * h);
  }
};

double teacher_layer_flops(const model::BertConfig& c, double s) {
  const double h = static_cast<double>(c.hidden_size), i = static_cast<double>(c.intermediate_size);
  return 2.0 * (4.0 * h * h + 2.0 * h * i) + 2.0 * 2.0 * s * h;
}

// The batches the distiller will draw (same stream, same seed): masked
// positions and real tokens per batch, averaged over the first `count`.
struct BatchStats {
  double masked = 0, tokens = 0;
};
Result<BatchStats> batch_stats(const model::Corpus& corpus,
                               const model::WordPieceTokenizer& tokenizer, int64_t batch_size,
                               int64_t seq_len, int64_t count) {
  model::ExampleOptions examples;
  examples.seq_len = seq_len;
  auto stream = model::ExampleStream::create(corpus, model::Split::kTrain, tokenizer, examples, 0);
  if (!stream) return stream.status();
  auto special = model::special_tokens(tokenizer.vocab());
  if (!special) return special.status();
  model::BatchLoader loader(std::move(stream.value()), batch_size, seq_len, special->pad);
  BatchStats s;
  for (int64_t i = 0; i < count; ++i) {
    auto b = loader.next();
    if (!b) return b.status();
    s.masked += static_cast<double>(b->mlm_positions.size(0));
    s.tokens += static_cast<double>(b->tokens);
  }
  s.masked /= static_cast<double>(count);
  s.tokens /= static_cast<double>(count);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  autodistill::FlagParser parser(
      "distill_step_bench: throughput and model-FLOPs utilization of a flash-distillation step.\n\n"
      "Usage:\n  distill_step_bench [flags]");
  parser.add_int_list("threads", "Intra-op thread counts to measure (default 1,2).", &cfg.threads,
                      1, 256);
  parser.add_int("steps", "Timed steps per phase (default 3).", &cfg.steps, 1, 1 << 20);
  parser.add_int("batch-size", "Sequences per batch (default 16).", &cfg.batch_size, 1, 1 << 20);
  parser.add_int("seq-len", "Tokens per sequence (default 128).", &cfg.seq_len, 8, 1 << 20);
  Status parsed = parser.parse(argc, argv);
  if (!parsed) return autodistill::usage_error("distill_step_bench", parsed);
  if (auto status = parser.answer_help_or_version("distill_step_bench")) return *status;
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "distill_step_bench: %s\n", s.to_string().c_str());
    return 1;
  };
  const double load_start = load_average();

  // A corpus of long documents (sequences fill up), BERT's vocabulary size
  // (the grammar's words, then filler tokens), a randomly initialized teacher.
  const fs::path dir = fs::temp_directory_path() / "autodistill-distill-step-bench";
  fs::create_directories(dir);
  if (Status s = model::write_synthetic_corpus(
          dir / "corpus.txt", {.documents = 400, .min_sentences = 30, .max_sentences = 40});
      !s) {
    return fail(s);
  }
  auto tokenizer = bench::bert_sized_tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  auto corpus = model::Corpus::open(dir / "corpus.txt");
  if (!corpus) return fail(corpus.status());
  const model::BertConfig tc = bench::bert_mini_config();
  auto teacher = model::Teacher::create(tc, 0);
  if (!teacher) return fail(teacher.status());
  // One warm-up step, then the timed ones: the batches of steps 2..1+steps.
  auto stats = batch_stats(*corpus, *tokenizer, cfg.batch_size, cfg.seq_len, 1 + cfg.steps);
  if (!stats) return fail(stats.status());

  std::printf(
      "distill_step_bench: %lld blocks, teacher 4 x 256 (BERT-mini), vocab %lld, batch "
      "%lld x seq %lld (%.0f real tokens, %.0f masked per batch), %lld timed steps\n\n",
      static_cast<long long>(kBlocks), static_cast<long long>(kVocab),
      static_cast<long long>(cfg.batch_size), static_cast<long long>(cfg.seq_len), stats->tokens,
      stats->masked, static_cast<long long>(cfg.steps));
  std::printf(
      "| threads | student H_B_A_I_F | params | phase | ms/step | tokens/s | GFLOP/step | "
      "GFLOP/s | sgemm peak GFLOP/s | utilization |\n"
      "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
  const double n = static_cast<double>(cfg.batch_size), s = static_cast<double>(cfg.seq_len);
  const double positions = n * s;
  for (int threads : cfg.threads) {
    at::set_num_threads(threads);
    for (const Size& size : kSizes) {
      const double peak = sgemm_peak();
      const StudentArch arch{
          kBlocks,           size.hidden,  size.bottleneck, size.heads,
          size.intermediate, size.stacked, kVocab,          tc.max_position_embeddings,
          tc.type_vocab_size};
      auto student = model::Student::create(arch, 0);
      if (!student) return fail(student.status());
      auto distiller = bench::step_distiller(*student, *teacher, *corpus, *tokenizer,
                                             cfg.batch_size, cfg.seq_len);
      if (!distiller) return fail(distiller.status());
      const StudentFlops sf{arch};
      const double k = static_cast<double>(kBlocks);
      const double teacher_layers = static_cast<double>(tc.num_hidden_layers);
      const double h = static_cast<double>(arch.hidden_size);
      const double th = static_cast<double>(tc.hidden_size);
      const double student_forward =
          positions * k * sf.block(s) + stats->masked * sf.mlm() + n * sf.nsp();
      const double teacher_forward =
          positions * teacher_layers * teacher_layer_flops(tc, s) +
          stats->masked * 2.0 * (th * th + th * static_cast<double>(kVocab)) +
          n * 2.0 * (th * th + 2.0 * th);
      const double pretraining_flops = 3.0 * student_forward + teacher_forward;
      const double projection = h == th ? 0.0 : positions * 2.0 * h * th;
      const double progressive_flops = positions * k * sf.block(s) +
                                       2.0 * (positions * sf.block(s) + projection) + projection +
                                       positions * teacher_layers * teacher_layer_flops(tc, s);

      struct Phase {
        const char* name;
        double flops;
        bool pretraining;
      };
      for (const Phase& phase : {Phase{"pretraining", pretraining_flops, true},
                                 Phase{"progressive K/K", progressive_flops, false}}) {
        auto run = [&](int64_t steps) {
          return phase.pretraining ? distiller->pretraining(steps).status()
                                   : distiller->progressive_stage(kBlocks - 1, steps).status();
        };
        if (Status st = run(1); !st) return fail(st);
        const auto t = Clock::now();
        if (Status st = run(cfg.steps); !st) return fail(st);
        const double step = seconds_since(t) / static_cast<double>(cfg.steps);
        const double gflops = phase.flops / step / 1e9;
        std::printf(
            "| %d | %s %lld_%lld_%lld_%lld_%lld | %.2fM | %s | %.0f | %.0f | %.1f | %.1f | "
            "%.1f | %.0f %% |\n",
            threads, size.label, static_cast<long long>(size.hidden),
            static_cast<long long>(size.bottleneck), static_cast<long long>(size.heads),
            static_cast<long long>(size.intermediate), static_cast<long long>(size.stacked),
            static_cast<double>(student->parameter_count()) / 1e6, phase.name, step * 1e3,
            stats->tokens / step, phase.flops / 1e9, gflops, peak, 100.0 * gflops / peak);
        std::fflush(stdout);
      }
    }
  }
  std::printf(
      "\nload average %.2f at start, %.2f at end (2-core machine shared with other "
      "builds)\n",
      load_start, load_average());
  return 0;
}
