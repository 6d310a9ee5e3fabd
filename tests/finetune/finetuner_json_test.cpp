// How finetune.json ("training") and `autodistill-finetune --json`
// ("options") write a recipe: one options_json() for both.
// finetuner.hpp (LibTorch, glog) first: Catch's CHECK must win over glog's.
#include "autodistill/finetune/finetuner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace autodistill::finetune;

TEST_CASE("options_json writes every recipe field, in one order", "[finetune]") {
  FinetuneOptions o;
  o.epochs = 3;
  o.batch_size = 8;
  o.max_seq_len = 64;
  o.learning_rate = 2e-4;
  o.warmup_fraction = 0.25;
  o.weight_decay = 0.05;
  o.dropout = 0.2;
  o.pooling = Pooling::kCls;
  o.seed = 11;
  const nlohmann::ordered_json j = options_json(o);
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"epochs", "batch_size", "max_seq_len", "learning_rate",
                                         "warmup_fraction", "weight_decay", "dropout", "pooling",
                                         "seed"});
  CHECK(j["epochs"] == 3);
  CHECK(j["batch_size"] == 8);
  CHECK(j["max_seq_len"] == 64);
  CHECK(j["learning_rate"] == 2e-4);
  CHECK(j["warmup_fraction"] == 0.25);
  CHECK(j["weight_decay"] == 0.05);
  CHECK(j["dropout"] == 0.2);
  CHECK(j["pooling"] == "cls");
  CHECK(j["seed"] == 11);
}
