// bench/data_parallel: step time and scaling efficiency of data-parallel
// distillation (docs/distillation.md "Data parallelism").
//
// One student of the paper's Table 1 space scaled to a CPU (the middle point
// 256_128_4_512_4, 4 blocks) distills from a BERT-mini-sized teacher (4 x
// 256, BERT's 30522-token vocabulary) on a generated corpus: pre-training
// distillation steps (every parameter trains) on a fixed global batch, run
// by 1 or more rank processes that each take their shard of every batch and
// sum gradients over the gang (c10d / Gloo on loopback, bucketed all-reduce
// launched from gradient hooks). Configurations, all in the same run:
//
//   ranks x threads per rank, gradient bucket size
//   1 x 1        the baseline: one process, one core
//   1 x T        the alternative to a gang: intra-op threads
//   R x 1        the gang, with the default buckets (4 MiB) and with one
//                bucket for everything (no overlap with backward)
//
// Step time = rank 0's wall time per step over the timed steps (after one
// warm-up step). speedup = baseline step time / step time; efficiency =
// speedup / cores used (ranks x threads). Every configuration trains on the
// same global batches from the same weights, so the loss of the last step
// (mean of the last tenth of the timed steps) must agree to float32
// summation order: printed as a check.
//
// usage: data_parallel_bench [--ranks 2] [--threads 2] [--steps 8]
//                            [--batch-size 32] [--seq-len 64]

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/bert_mini.hpp"
#include "autodistill/distill/data_parallel.hpp"
#include "autodistill/distill/distiller.hpp"
#include "autodistill/flag_parser.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/synthetic_corpus.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/wordpiece.hpp"

extern char** environ;

namespace {

using namespace autodistill;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int64_t kVocab = bench::kBertVocab;

struct Config {
  int64_t ranks = 2;
  int64_t threads = 2;
  int64_t steps = 8;
  int64_t batch_size = 32;
  int64_t seq_len = 64;
  // Child mode (one rank of one configuration).
  bool child = false;
  int64_t rank = 0, world = 1;
  double bucket_mb = 4.0;
  std::string corpus, address, address_file, result_file;
};

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One rank: builds the same teacher, student and data as every other rank
// (fixed seeds), joins the gang, trains, and rank 0 writes
// "<seconds per step> <last loss>" to the result file.
int run_child(const Config& cfg) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "data_parallel_bench child: %s\n", s.to_string().c_str());
    return 1;
  };
  at::set_num_threads(static_cast<int>(cfg.threads));
  auto tokenizer = bench::bert_sized_tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  auto corpus = model::Corpus::open(cfg.corpus);
  if (!corpus) return fail(corpus.status());
  const model::BertConfig tc = bench::bert_mini_config();
  auto teacher = model::Teacher::create(tc, 0);
  if (!teacher) return fail(teacher.status());
  const StudentArch arch{
      4, 256, 128, 4, 512, 4, kVocab, tc.max_position_embeddings, tc.type_vocab_size};
  auto student = model::Student::create(arch, 0);
  if (!student) return fail(student.status());
  auto distiller =
      bench::step_distiller(*student, *teacher, *corpus, *tokenizer, cfg.batch_size, cfg.seq_len);
  if (!distiller) return fail(distiller.status());

  std::unique_ptr<distill::Gang> gang;
  std::unique_ptr<distill::GradientSync> sync;
  if (cfg.world > 1) {
    distill::GangOptions g;
    g.rank = static_cast<uint32_t>(cfg.rank);
    g.world_size = static_cast<uint32_t>(cfg.world);
    g.timeout = std::chrono::seconds(120);
    g.key_prefix = "bench";
    auto made = cfg.rank == 0 ? distill::Gang::host(g) : distill::Gang::join(g, cfg.address);
    if (!made) return fail(made.status());
    gang = std::move(made.value());
    if (cfg.rank == 0) {
      const std::string temp = cfg.address_file + ".tmp";
      std::ofstream(temp) << gang->address();
      fs::rename(temp, cfg.address_file);
    }
    if (Status s = gang->form(); !s) return fail(s);
    sync = gang->gradient_sync(static_cast<size_t>(cfg.bucket_mb * 1024 * 1024));
    distiller->set_gradient_sync(sync.get());
  }
  if (auto warm = distiller->pretraining(1); !warm) return fail(warm.status());
  const auto start = Clock::now();
  auto timed = distiller->pretraining(cfg.steps);
  if (!timed) return fail(timed.status());
  const double per_step =
      std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(cfg.steps);
  if (gang) {
    if (Status s = gang->barrier(); !s) return fail(s);
  }
  if (cfg.rank == 0) {
    char line[64];
    std::snprintf(line, sizeof line, "%.6f %.9g", per_step, timed->last_loss);
    std::ofstream(cfg.result_file) << line;
  }
  return 0;
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  if (posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

struct Measured {
  double seconds_per_step = 0, last_loss = 0;
  bool ok = false;
};

// Runs one configuration as `ranks` child processes.
Measured measure(const Config& cfg, const fs::path& dir, int64_t ranks, int64_t threads,
                 double bucket_mb) {
  const std::string tag = std::to_string(ranks) + "x" + std::to_string(threads) + "-" +
                          std::to_string(static_cast<int64_t>(bucket_mb * 1024));
  const fs::path address = dir / ("address-" + tag), result = dir / ("result-" + tag);
  fs::remove(address);
  fs::remove(result);
  auto args = [&](int64_t rank) {
    std::vector<std::string> a = {"data_parallel_bench",
                                  "--child",
                                  "--rank",
                                  std::to_string(rank),
                                  "--world",
                                  std::to_string(ranks),
                                  "--threads",
                                  std::to_string(threads),
                                  "--steps",
                                  std::to_string(cfg.steps),
                                  "--batch-size",
                                  std::to_string(cfg.batch_size),
                                  "--seq-len",
                                  std::to_string(cfg.seq_len),
                                  "--bucket-mb",
                                  std::to_string(bucket_mb),
                                  "--corpus",
                                  cfg.corpus,
                                  "--address-file",
                                  address.string(),
                                  "--result-file",
                                  result.string()};
    if (rank > 0) {
      a.push_back("--address");
      a.push_back(slurp(address));
    }
    return a;
  };
  const fs::path log = dir / ("log-" + tag);
  std::vector<pid_t> pids = {spawn(args(0), log)};
  if (ranks > 1) {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (!fs::exists(address) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int64_t r = 1; r < ranks; ++r) pids.push_back(spawn(args(r), log));
  }
  bool ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    ok = ok && pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
  }
  Measured m;
  std::ifstream in(result);
  m.ok = ok && static_cast<bool>(in >> m.seconds_per_step >> m.last_loss);
  if (!m.ok) std::fprintf(stderr, "configuration %s failed; see %s\n", tag.c_str(), log.c_str());
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  autodistill::FlagParser parser(
      "data_parallel_bench: step time and scaling efficiency of data-parallel distillation.\n\n"
      "Usage:\n  data_parallel_bench [flags]");
  auto int_flag = [&](const char* name, int64_t* target, int64_t min, const char* help) {
    parser.add_int(name, help, target, min, 1 << 20);
  };
  auto text_flag = [&](const char* name, std::string* target) {
    parser.add_text(name, "TEXT", "(internal)", target);
  };
  int_flag("ranks", &cfg.ranks, 2, "Ranks of the gang (default 2).");
  int_flag("threads", &cfg.threads, 1,
           "Threads per rank in the child runs; the 1 x N row uses N = --ranks (default 2).");
  int_flag("steps", &cfg.steps, 1, "Timed steps per configuration (default 8).");
  int_flag("batch-size", &cfg.batch_size, 1, "Global batch (default 32).");
  int_flag("seq-len", &cfg.seq_len, 8, "Tokens per sequence (default 64).");
  parser.add("child", "", "(internal) run one rank", [&cfg](const std::string&) {
    cfg.child = true;
    return Status::ok();
  });
  int_flag("rank", &cfg.rank, 0, "(internal)");
  int_flag("world", &cfg.world, 1, "(internal)");
  parser.add("bucket-mb", "MB", "(internal)", [&cfg](const std::string& v) {
    Result<double> mb = autodistill::parse_real(v, true);
    if (mb) cfg.bucket_mb = *mb;
    return mb.status();
  });
  text_flag("corpus", &cfg.corpus);
  text_flag("address", &cfg.address);
  text_flag("address-file", &cfg.address_file);
  text_flag("result-file", &cfg.result_file);
  Status parsed = parser.parse(argc, argv);
  if (!parsed) return autodistill::usage_error("data_parallel_bench", parsed);
  if (auto status = parser.answer_help_or_version("data_parallel_bench")) return *status;
  if (cfg.child) return run_child(cfg);

  const double load_start = load_average();
  const fs::path dir = fs::temp_directory_path() / "autodistill-data-parallel-bench";
  fs::create_directories(dir);
  cfg.corpus = (dir / "corpus.txt").string();
  if (Status s = model::write_synthetic_corpus(
          cfg.corpus, {.documents = 400, .min_sentences = 30, .max_sentences = 40});
      !s) {
    std::fprintf(stderr, "data_parallel_bench: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf(
      "data_parallel_bench: student 256_128_4_512_4 x 4 blocks, teacher 4 x 256 (BERT-mini), "
      "vocab %lld, global batch %lld x seq %lld, pre-training distillation, %lld timed steps, "
      "%u hardware threads\n\n",
      static_cast<long long>(kVocab), static_cast<long long>(cfg.batch_size),
      static_cast<long long>(cfg.seq_len), static_cast<long long>(cfg.steps),
      std::thread::hardware_concurrency());
  std::printf(
      "| ranks x threads | buckets | cores | ms/step | tokens/s | speedup | efficiency | last "
      "loss |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
  struct Row {
    int64_t ranks, threads;
    double bucket_mb;
    const char* buckets;
  };
  const std::vector<Row> rows = {{1, 1, 4.0, "-"},
                                 {1, cfg.ranks, 4.0, "-"},
                                 {cfg.ranks, 1, 4.0, "4 MiB"},
                                 {cfg.ranks, 1, 4096.0, "one"}};
  double baseline = 0;
  const double tokens = static_cast<double>(cfg.batch_size * cfg.seq_len);
  for (const Row& row : rows) {
    const Measured m = measure(cfg, dir, row.ranks, row.threads, row.bucket_mb);
    if (!m.ok) return 1;
    if (baseline == 0) baseline = m.seconds_per_step;
    const double speedup = baseline / m.seconds_per_step;
    const int64_t cores = row.ranks * row.threads;
    std::printf("| %lld x %lld | %s | %lld | %.0f | %.0f | %.2f | %.0f %% | %.6f |\n",
                static_cast<long long>(row.ranks), static_cast<long long>(row.threads), row.buckets,
                static_cast<long long>(cores), m.seconds_per_step * 1e3,
                tokens / m.seconds_per_step, speedup, 100.0 * speedup / static_cast<double>(cores),
                m.last_loss);
    std::fflush(stdout);
  }
  std::printf(
      "\ntokens/s counts padded positions of the global batch. load average %.2f at start, "
      "%.2f at end (the machine is shared)\n",
      load_start, load_average());
  return 0;
}
