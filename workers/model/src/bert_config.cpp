#include "autodistill/model/bert_config.hpp"

#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "text_file.hpp"

namespace autodistill::model {

namespace {

Status invalid(const std::string& message, const std::string& key) {
  return Status(Code::kInvalidArgument, message, key);
}

Status read_int(const nlohmann::json& json, const char* key, int64_t* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return Status::ok();
  if (!it->is_number_integer()) return invalid(std::string(key) + " must be an integer", key);
  *out = it->get<int64_t>();
  return Status::ok();
}

}  // namespace

Status validate(const BertConfig& c) {
  const std::pair<const char*, int64_t> sizes[] = {
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"type_vocab_size", c.type_vocab_size}};
  for (const auto& [key, value] : sizes) {
    if (value <= 0) return invalid(std::string(key) + " must be positive", key);
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    return invalid("num_attention_heads (" + std::to_string(c.num_attention_heads) +
                       ") must divide hidden_size (" + std::to_string(c.hidden_size) + ")",
                   "num_attention_heads");
  }
  const std::string& act = c.hidden_act;
  if (act != "gelu" && act != "gelu_new" && act != "gelu_pytorch_tanh" && act != "gelu_fast" &&
      act != "relu") {
    return invalid("unsupported hidden_act \"" + act + "\"", "hidden_act");
  }
  if (!(c.layer_norm_eps > 0.0))
    return invalid("layer_norm_eps must be positive", "layer_norm_eps");
  if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size) {
    return invalid("pad_token_id must be a token id", "pad_token_id");
  }
  return Status::ok();
}

Result<BertConfig> parse_bert_config(std::string_view json_text) {
  auto parsed = parse_json(json_text, "config.json");
  if (!parsed) return Status(Code::kMalformed, "config.json: " + parsed.status().message());
  const nlohmann::json& json = parsed.value();
  if (!json.is_object()) return Status(Code::kMalformed, "config.json is not a JSON object");
  if (auto it = json.find("model_type"); it != json.end()) {
    if (!it->is_string() || it->get<std::string>() != "bert") {
      return invalid("model_type must be \"bert\", not " + it->dump(), "model_type");
    }
  }
  if (auto it = json.find("position_embedding_type"); it != json.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != "absolute") {
      return invalid("only absolute position embeddings are supported, not " + it->dump(),
                     "position_embedding_type");
    }
  }
  BertConfig c;
  for (auto [key, field] :
       {std::pair{"vocab_size", &c.vocab_size}, std::pair{"hidden_size", &c.hidden_size},
        std::pair{"num_hidden_layers", &c.num_hidden_layers},
        std::pair{"num_attention_heads", &c.num_attention_heads},
        std::pair{"intermediate_size", &c.intermediate_size},
        std::pair{"max_position_embeddings", &c.max_position_embeddings},
        std::pair{"type_vocab_size", &c.type_vocab_size},
        std::pair{"pad_token_id", &c.pad_token_id}}) {
    if (Status s = read_int(json, key, field); !s) return s;
  }
  if (auto it = json.find("hidden_act"); it != json.end()) {
    if (!it->is_string()) return invalid("hidden_act must be a string", "hidden_act");
    c.hidden_act = it->get<std::string>();
  }
  if (auto it = json.find("layer_norm_eps"); it != json.end()) {
    if (!it->is_number()) return invalid("layer_norm_eps must be a number", "layer_norm_eps");
    c.layer_norm_eps = it->get<double>();
  }
  if (Status s = validate(c); !s) return s;
  return c;
}

Result<BertConfig> read_bert_config(const std::filesystem::path& path) {
  const Result<std::string> text = read_text(path);
  if (!text) return text.status();
  auto parsed = parse_bert_config(text.value());
  if (!parsed) {
    const Status& s = parsed.status();
    return Status(s.code(), path.string() + ": " + s.message(), s.field());
  }
  return parsed;
}

std::string bert_config_json(const BertConfig& c) {
  nlohmann::ordered_json json;
  json["architectures"] = {"BertForPreTraining"};
  json["model_type"] = "bert";
  json["vocab_size"] = c.vocab_size;
  json["hidden_size"] = c.hidden_size;
  json["num_hidden_layers"] = c.num_hidden_layers;
  json["num_attention_heads"] = c.num_attention_heads;
  json["intermediate_size"] = c.intermediate_size;
  json["hidden_act"] = c.hidden_act;
  json["max_position_embeddings"] = c.max_position_embeddings;
  json["type_vocab_size"] = c.type_vocab_size;
  json["layer_norm_eps"] = c.layer_norm_eps;
  json["pad_token_id"] = c.pad_token_id;
  json["position_embedding_type"] = "absolute";
  json["hidden_dropout_prob"] = 0.0;
  json["attention_probs_dropout_prob"] = 0.0;
  json["initializer_range"] = 0.02;
  return json.dump(2) + "\n";
}

}  // namespace autodistill::model
