// autodistill-finetune: fine-tunes models (a BERT teacher, delivered
// students) on GLUE-format tasks and prints a GLUE-style table of dev
// accuracy and F1 against the majority baseline (docs/glue.md).

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autodistill/finetune/finetuner.hpp"
#include "autodistill/flag_parser.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::finetune;
namespace fs = std::filesystem;

constexpr const char* kUsage =
    R"(autodistill-finetune: fine-tunes models on GLUE tasks and prints dev accuracy and F1.

Usage:
  autodistill-finetune --model [NAME=]DIR [--model ...] --task DIR [--task ...] [flags]

A model directory is a Hugging Face BERT checkpoint (a teacher: config.json,
model.safetensors, vocab.txt) or a delivered student. A task directory holds
GLUE-format train.tsv and dev.tsv (and task.json, as autodistill-make-tasks
writes). Every model is fine-tuned on every task from its saved weights: a
linear head on the mean of the last hidden states (or, with --pooling cls,
the pooled [CLS] state), AdamW, linear warm-up and decay, seeded. The
table (stdout, Markdown) gives dev accuracy / F1 (binary tasks:
the positive class's F1; others: macro-F1) per model and task, with the
majority-class baseline; --json FILE writes every result in full.

Exit status: 0 when every run finished, 1 when one failed, 2 for bad flags.)";

struct Model {
  std::string name;
  fs::path dir;
};

constexpr const char* kProgram = "autodistill-finetune";

std::string cell(double accuracy, double f1) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f / %.3f", accuracy, f1);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Model> models;
  std::vector<fs::path> task_dirs;
  FinetuneOptions options;
  int64_t threads = 1;
  std::string device = "cpu";
  fs::path json_path;

  autodistill::FlagParser parser(kUsage);
  parser.add("model", "[NAME=]DIR", "A model directory (repeatable); NAME labels its row.",
             [&models](const std::string& v) {
               const size_t eq = v.find('=');
               Model m;
               m.dir = eq == std::string::npos ? v : v.substr(eq + 1);
               m.name = eq == std::string::npos ? fs::path(v).lexically_normal().filename().string()
                                                : v.substr(0, eq);
               if (m.dir.empty() || m.name.empty()) {
                 return Status(Code::kInvalidArgument, "needs [NAME=]DIR");
               }
               models.push_back(std::move(m));
               return Status::ok();
             });
  parser.add("task", "DIR", "A GLUE task directory (repeatable).",
             [&task_dirs](const std::string& v) {
               task_dirs.emplace_back(v);
               return Status::ok();
             });
  parser.add_int("epochs", "Passes over the training set (default 3).", &options.epochs, 1);
  parser.add_int("batch-size", "Examples per step (default 32).", &options.batch_size, 1);
  parser.add_int("max-seq-len", "Tokens per example, at most the model's positions (default 128).",
                 &options.max_seq_len, 4);
  parser.add_int("max-train-examples", "Use the first N training examples; 0: all (default 0).",
                 &options.max_train_examples, 0);
  parser.add_real("lr", "Peak AdamW learning rate (default 1e-4).", &options.learning_rate, false);
  parser.add_real("warmup", "Share of the steps warming up (default 0.1).",
                  &options.warmup_fraction, false);
  parser.add_real("weight-decay", "AdamW weight decay (default 0.01).", &options.weight_decay,
                  false);
  parser.add_real("dropout", "Dropout before the head (default 0.1).", &options.dropout, false);
  parser.add_int("seed", "Order, head initialization and dropout seed (default 0).", &options.seed,
                 0);
  parser.add("pooling", "cls|mean",
             "What the head sits on: the pooled [CLS] state or the mean of the\n"
             "last hidden states (default mean; docs/glue.md).",
             [&options](const std::string& v) {
               auto pooling = parse_pooling(v);
               if (!pooling) return pooling.status();
               options.pooling = *pooling;
               return Status::ok();
             });
  parser.add_int("threads", "LibTorch intra-op threads (default 1).", &threads, 1);
  parser.add("device", "DEVICE", "cpu or cuda (default cpu).", [&device](const std::string& v) {
    if (v != "cpu" && v != "cuda") return Status(Code::kInvalidArgument, "must be cpu or cuda");
    device = v;
    return Status::ok();
  });
  parser.add_text("json", "FILE", "Also write every result as JSON to FILE.", &json_path);

  Status parsed = parser.parse(argc, argv);
  if (parsed) {
    if (std::optional<int> status = parser.answer_help_or_version(kProgram)) return *status;
  }
  if (parsed && models.empty()) {
    parsed = Status(Code::kInvalidArgument, "--model is required", "--model");
  }
  if (parsed && task_dirs.empty()) {
    parsed = Status(Code::kInvalidArgument, "--task is required", "--task");
  }
  if (parsed) {
    if (Status v = validate(options); !v) parsed = v;
  }
  if (parsed && device == "cuda" && !torch::cuda::is_available()) {
    parsed = Status(Code::kInvalidArgument, "--device cuda, but LibTorch sees no CUDA device",
                    "--device");
  }
  if (!parsed) return usage_error(kProgram, parsed);
  at::set_num_threads(static_cast<int>(threads));
  options.device = at::Device(device == "cuda" ? at::kCUDA : at::kCPU);

  std::vector<GlueTask> tasks;
  for (const fs::path& dir : task_dirs) {
    auto task = read_glue_task(dir);
    if (!task) {
      std::fprintf(stderr, "autodistill-finetune: %s: %s\n", dir.c_str(),
                   task.status().to_string().c_str());
      return 1;
    }
    std::fprintf(stderr, "task %s: %zu train, %zu dev, %zu labels%s\n", task->name.c_str(),
                 task->train.size(), task->dev.size(), task->labels.size(),
                 task->pair ? ", sentence pairs" : "");
    tasks.push_back(std::move(task.value()));
  }

  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  // rows[model][task] -> cell; the majority baseline per task.
  std::vector<std::vector<std::string>> rows(models.size(),
                                             std::vector<std::string>(tasks.size(), "failed"));
  std::vector<std::string> majority(tasks.size());
  std::vector<int64_t> parameters(models.size(), 0);
  int rc = 0;
  for (size_t m = 0; m < models.size(); ++m) {
    for (size_t t = 0; t < tasks.size(); ++t) {
      auto encoder = Encoder::load(models[m].dir);
      if (!encoder) {
        std::fprintf(stderr, "autodistill-finetune: %s: %s\n", models[m].dir.c_str(),
                     encoder.status().to_string().c_str());
        rc = 1;
        break;
      }
      parameters[m] = encoder->parameter_count();
      std::fprintf(stderr, "fine-tuning %s (%s, %lld parameters) on %s\n", models[m].name.c_str(),
                   encoder->model_type().c_str(), static_cast<long long>(parameters[m]),
                   tasks[t].name.c_str());
      auto report = fine_tune(*encoder, tasks[t], options, [](const FinetuneProgress& p) {
        if (p.step % 50 == 0 || p.step == p.total) {
          std::fprintf(stderr, "  step %lld/%lld loss %.4f lr %.2e\n",
                       static_cast<long long>(p.step), static_cast<long long>(p.total), p.loss,
                       p.learning_rate);
        }
        return true;
      });
      if (!report) {
        std::fprintf(stderr, "autodistill-finetune: %s on %s: %s\n", models[m].name.c_str(),
                     tasks[t].name.c_str(), report.status().to_string().c_str());
        rc = 1;
        continue;
      }
      std::fprintf(stderr,
                   "  dev accuracy %.4f, F1 %.4f, macro-F1 %.4f (majority %.4f) in %.1f s\n",
                   report->dev.accuracy, report->dev.f1, report->dev.macro_f1,
                   report->majority.accuracy, report->train_seconds);
      rows[m][t] = cell(report->dev.accuracy, report->dev.f1);
      majority[t] = cell(report->majority.accuracy, report->majority.f1);
      nlohmann::ordered_json r;
      r["model"] = models[m].name;
      r["model_dir"] = models[m].dir.string();
      r["model_type"] = encoder->model_type();
      r["parameters"] = parameters[m];
      r["task"] = tasks[t].name;
      r["labels"] = tasks[t].labels;
      r["dev"] = scores_json(report->dev);
      r["majority"] = scores_json(report->majority);
      r["majority"]["label"] = tasks[t].labels[static_cast<size_t>(report->majority_label)];
      r["steps"] = report->steps;
      r["train_examples"] = report->train_examples;
      r["first_loss"] = report->first_loss;
      r["last_loss"] = report->last_loss;
      r["unk_rate"] = report->unk_rate;
      r["truncated_examples"] = report->truncated_examples;
      r["train_seconds"] = report->train_seconds;
      r["options"] = options_json(options);
      r["options"].update({{"threads", threads}, {"device", device}});
      results.push_back(std::move(r));
    }
  }

  std::printf("| model | parameters |");
  for (const GlueTask& t : tasks)
    std::printf(" %s acc / %s |", t.name.c_str(), t.labels.size() == 2 ? "F1" : "macro-F1");
  std::printf("\n|---|---:|");
  for (size_t t = 0; t < tasks.size(); ++t) std::printf("---:|");
  std::printf("\n| majority class | |");
  for (const std::string& c : majority) std::printf(" %s |", c.empty() ? "-" : c.c_str());
  std::printf("\n");
  for (size_t m = 0; m < models.size(); ++m) {
    std::printf("| %s | %lld |", models[m].name.c_str(), static_cast<long long>(parameters[m]));
    for (const std::string& c : rows[m]) std::printf(" %s |", c.c_str());
    std::printf("\n");
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path, std::ios::trunc);
    out << results.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "autodistill-finetune: cannot write %s\n", json_path.c_str());
      rc = 1;
    }
  }
  return rc;
}
