// autodistill-make-teacher: pre-trains a tiny BERT teacher (MLM + NSP, LAMB)
// with the project's own code and writes it as a Hugging Face checkpoint
// directory (config.json, model.safetensors, vocab.txt), plus the corpus it
// learned from and a report. No weights can be downloaded here, so tests,
// the demo and the benchmarks use teachers made by this tool: on a generated
// corpus (unit tests) or on real English text (the demo: the King James
// Bible, with a WordPiece vocabulary learned from it).

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "autodistill/distill/pretrain.hpp"
#include "autodistill/flag_parser.hpp"
#include "autodistill/model/batch.hpp"
#include "autodistill/model/synthetic_corpus.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/model/wordpiece_trainer.hpp"

namespace {

using namespace autodistill;
namespace fs = std::filesystem;

constexpr const char* kUsage =
    R"(autodistill-make-teacher: pre-trains a tiny BERT teacher and writes a Hugging Face checkpoint.

Usage:
  autodistill-make-teacher --out DIR [flags]

Without --corpus, a corpus is generated from a small probabilistic grammar
(topics, agreement, long-range dependencies; see synthetic_corpus.hpp) and
written to DIR/corpus.txt with its vocabulary. With --corpus FILE (one
sentence a line, a blank line between documents; e.g. the King James Bible
from `autodistill-make-tasks --corpus FILE`), the vocabulary is --vocab FILE
or, without it, a WordPiece vocabulary of --vocab-size tokens learned from
the corpus (wordpiece_trainer.hpp). The teacher is trained on the corpus's
training split and evaluated on its held-out split; DIR then holds
config.json, model.safetensors, vocab.txt, corpus.txt and report.json
(held-out MLM/NSP accuracy, and the MLM accuracy of always predicting the
most frequent held-out token, the majority baseline).)";

constexpr const char* kProgram = "autodistill-make-teacher";

}  // namespace

int main(int argc, char** argv) {
  fs::path out, corpus_path, vocab_path;
  model::SyntheticCorpusOptions corpus_options;
  model::BertConfig config;
  config.num_hidden_layers = 2;
  config.hidden_size = 64;
  config.num_attention_heads = 4;
  config.intermediate_size = 256;
  config.max_position_embeddings = 128;
  distill::PretrainOptions train;
  train.steps = 800;
  train.learning_rate = 3e-2;
  int64_t threads = 0, corpus_seed = 1, vocab_size = 4000;

  autodistill::FlagParser parser(kUsage);
  parser.add_text("out", "PATH", "Output directory (required; created).", &out);
  parser.add_text("corpus", "PATH", "Train on this corpus instead of a generated one.",
                  &corpus_path);
  parser.add_text("vocab", "PATH", "The vocab.txt for --corpus (default: learned from it).",
                  &vocab_path);
  parser.add_int("vocab-size",
                 "--corpus without --vocab: WordPiece tokens to learn (default 4000).", &vocab_size,
                 16);
  parser.add_int("documents", "Generated corpus: documents (default 2000).",
                 &corpus_options.documents, 2);
  parser.add_int("corpus-seed", "Generated corpus: seed (default 1).", &corpus_seed, 0);
  parser.add_int("layers", "Encoder layers (default 2).", &config.num_hidden_layers, 1);
  parser.add_int("hidden", "Hidden size (default 64).", &config.hidden_size, 1);
  parser.add_int("heads", "Attention heads (default 4).", &config.num_attention_heads, 1);
  parser.add_int("intermediate", "Feed-forward width (default 256).", &config.intermediate_size, 1);
  parser.add_int("positions", "Max positions (default 128).", &config.max_position_embeddings, 8);
  parser.add_int("steps", "Training steps (default 800).", &train.steps, 1);
  parser.add_int("batch-size", "Sequences per batch (default 32).", &train.batch_size, 1);
  parser.add_int("seq-len", "Tokens per sequence (default 64).", &train.seq_len, 8);
  parser.add_int("threads", "Intra-op threads (default 0: all cores).", &threads, 0);
  parser.add_real("lr", "Peak LAMB learning rate (default 3e-2, for tiny teachers).",
                  &train.learning_rate, true);
  parser.add_int("seed", "Initialization and data-order seed (default 0).", &train.seed, 0);

  Status parsed = parser.parse(argc, argv);
  if (parsed) {
    if (std::optional<int> status = parser.answer_help_or_version(kProgram)) return *status;
  }
  if (parsed && out.empty()) parsed = Status(Code::kInvalidArgument, "--out is required", "--out");
  if (parsed && corpus_path.empty() && !vocab_path.empty()) {
    parsed = Status(Code::kInvalidArgument, "--vocab needs --corpus", "--vocab");
  }
  if (!parsed) return autodistill::usage_error(kProgram, parsed);
  at::set_num_threads(threads > 0
                          ? static_cast<int>(threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

  auto fail = [](const Status& s) {
    std::fprintf(stderr, "%s: %s\n", kProgram, s.to_string().c_str());
    return 1;
  };
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return fail(Status(Code::kInternal, out.string() + ": " + ec.message()));

  Result<model::Vocab> vocab = Status(Code::kInternal, "unset");
  if (corpus_path.empty()) {
    corpus_options.seed = static_cast<uint64_t>(corpus_seed);
    corpus_path = out / "corpus.txt";
    if (Status s = model::write_synthetic_corpus(corpus_path, corpus_options); !s) return fail(s);
    vocab = model::Vocab::from_tokens(model::synthetic_vocab());
  } else {
    if (vocab_path.empty()) {
      model::WordPieceTrainerOptions trainer;
      trainer.vocab_size = vocab_size;
      vocab = model::train_wordpiece(corpus_path, trainer);
      if (vocab) {
        std::fprintf(stderr, "vocabulary: %lld WordPiece tokens learned from %s\n",
                     static_cast<long long>(vocab->size()), corpus_path.c_str());
      }
    } else {
      vocab = model::Vocab::read(vocab_path);
    }
    if (vocab && fs::absolute(corpus_path) != fs::absolute(out / "corpus.txt")) {
      fs::copy_file(corpus_path, out / "corpus.txt", fs::copy_options::overwrite_existing, ec);
      if (ec) return fail(Status(Code::kInternal, "cannot copy the corpus: " + ec.message()));
    }
  }
  if (!vocab) return fail(vocab.status());
  std::ofstream(out / "vocab.txt", std::ios::trunc) << vocab->to_text();
  config.vocab_size = vocab->size();
  auto tokenizer = model::WordPieceTokenizer::create(std::move(vocab.value()));
  if (!tokenizer) return fail(tokenizer.status());
  auto corpus = model::Corpus::open(corpus_path);
  if (!corpus) return fail(corpus.status());
  auto teacher = model::Teacher::create(config, train.seed);
  if (!teacher) return fail(teacher.status());

  std::fprintf(
      stderr, "teacher: %lld parameters, %lld layers, hidden %lld; corpus %lld documents\n",
      static_cast<long long>(teacher->parameter_count()),
      static_cast<long long>(config.num_hidden_layers), static_cast<long long>(config.hidden_size),
      static_cast<long long>(corpus->num_documents()));
  auto report = distill::pretrain_teacher(
      *teacher, *corpus, *tokenizer, train, [&](const distill::Progress& p) {
        if (p.step % 50 == 0 || p.step == p.total) {
          std::fprintf(stderr, "step %lld/%lld loss %.4f lr %.2e\n", static_cast<long long>(p.step),
                       static_cast<long long>(p.total), p.loss, p.learning_rate);
        }
        return true;
      });
  if (!report) return fail(report.status());
  if (Status s = teacher->save(out); !s) return fail(s);

  // The majority baseline: always predict the most frequent token of the
  // held-out masked positions (the same evaluation set pretrain_teacher used).
  model::ExampleOptions examples;
  examples.seq_len = train.seq_len;
  auto eval = model::make_eval_batches(*corpus, *tokenizer, examples, train.eval_batches,
                                       train.batch_size, train.eval_seed);
  if (!eval) return fail(eval.status());
  std::map<int64_t, int64_t> label_counts;
  int64_t masked = 0;
  for (const model::Batch& b : *eval) {
    const at::Tensor labels = b.mlm_labels.contiguous();
    const int64_t* p = labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < labels.numel(); ++i) ++label_counts[p[i]];
    masked += labels.numel();
  }
  std::pair<int64_t, int64_t> top{-1, 0};
  for (const auto& [id, count] : label_counts) {
    if (count > top.second) top = {id, count};
  }

  nlohmann::ordered_json json;
  json["parameters"] = teacher->parameter_count();
  json["steps"] = train.steps;
  json["batch_size"] = train.batch_size;
  json["seq_len"] = train.seq_len;
  json["train_seconds"] = report->train_seconds;
  json["first_loss"] = report->phase.first_loss;
  json["last_loss"] = report->phase.last_loss;
  json["mlm_accuracy"] = report->eval.mlm_accuracy;
  json["nsp_accuracy"] = report->eval.nsp_accuracy;
  json["eval_mlm_loss"] = report->eval.mlm_loss;
  json["majority_token"] = top.first >= 0 ? tokenizer->vocab().token(top.first) : "";
  json["majority_mlm_accuracy"] =
      masked > 0 ? static_cast<double>(top.second) / static_cast<double>(masked) : 0.0;
  json["mlm_predictions"] = report->eval.mlm_predictions;
  json["vocab_size"] = tokenizer->vocab().size();
  std::ofstream(out / "report.json", std::ios::trunc) << json.dump(2) << "\n";
  std::printf("%s\n", json.dump().c_str());
  return 0;
}
