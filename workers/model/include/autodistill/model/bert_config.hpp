#pragma once
// A Hugging Face BERT config.json (the fields a BertForPreTraining forward
// needs). Keys it does not need are ignored; missing keys take Hugging
// Face's BertConfig defaults, as transformers does.
//
// Thread-safety: plain values and free functions.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "autodistill/status.hpp"

namespace autodistill::model {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  // "gelu" (erf), "gelu_new" / "gelu_pytorch_tanh" / "gelu_fast" (tanh), "relu".
  std::string hidden_act = "gelu";
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
};

// Every size positive, heads divide hidden_size, a supported hidden_act,
// layer_norm_eps positive. kInvalidArgument naming the key otherwise.
Status validate(const BertConfig& config);

// Parses config.json text. kMalformed when it is not a JSON object;
// kInvalidArgument naming the key for a value of the wrong type, a
// model_type other than "bert", a position_embedding_type other than
// "absolute", or a config that fails validate().
Result<BertConfig> parse_bert_config(std::string_view json_text);
// Reads and parses a file (kNotFound when it cannot be read); errors name the file.
Result<BertConfig> read_bert_config(const std::filesystem::path& path);

// The config as Hugging Face writes it (model_type "bert", architectures
// ["BertForPreTraining"]), so transformers can load the checkpoint.
std::string bert_config_json(const BertConfig& config);

}  // namespace autodistill::model
