// Hugging Face BERT config.json parsing and writing.

#include <catch2/catch.hpp>

#include "autodistill/model/bert_config.hpp"
#include "autodistill/model/student_checkpoint.hpp"

using autodistill::Code;
using autodistill::Status;
using namespace autodistill::model;

TEST_CASE("config.json: fields, defaults and round trip") {
  auto c = parse_bert_config(R"({"model_type": "bert", "vocab_size": 100, "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
      "hidden_act": "gelu_new", "layer_norm_eps": 1e-5, "architectures": ["BertForMaskedLM"],
      "hidden_dropout_prob": 0.1})");
  REQUIRE(c);
  CHECK(c->vocab_size == 100);
  CHECK(c->hidden_act == "gelu_new");
  CHECK(c->layer_norm_eps == 1e-5);
  CHECK(c->max_position_embeddings == 512);  // default
  CHECK(c->type_vocab_size == 2);
  auto back = parse_bert_config(bert_config_json(*c));
  REQUIRE(back);
  CHECK(back->hidden_size == 64);
  CHECK(back->num_hidden_layers == 2);
  CHECK(back->layer_norm_eps == 1e-5);
  CHECK(back->hidden_act == "gelu_new");
}

TEST_CASE("config.json: errors name the key") {
  CHECK(parse_bert_config("not json").status().code() == Code::kMalformed);
  CHECK(parse_bert_config("[]").status().code() == Code::kMalformed);
  CHECK(parse_bert_config(R"({"hidden_size": "64"})").status().field() == "hidden_size");
  CHECK(parse_bert_config(R"({"hidden_size": 100, "num_attention_heads": 12})").status().field() ==
        "num_attention_heads");
  CHECK(parse_bert_config(R"({"num_hidden_layers": 0})").status().field() == "num_hidden_layers");
  CHECK(parse_bert_config(R"({"hidden_act": "swish"})").status().field() == "hidden_act");
  CHECK(parse_bert_config(R"({"model_type": "roberta"})").status().field() == "model_type");
  CHECK(parse_bert_config(R"({"position_embedding_type": "relative_key"})").status().field() ==
        "position_embedding_type");
  CHECK(read_bert_config("/nonexistent/config.json").status().code() == Code::kNotFound);
}

TEST_CASE("config.json: hostile input is an error, never a crash (issue #11)") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  // The deep value used to reach the error message's dump() and overflow the stack.
  for (const std::string& text :
       {R"({"model_type": )" + deep + "}", deep, std::string(R"({"hidden_size": 1e999})")}) {
    Status s = parse_bert_config(text).status();
    CHECK(s.code() == Code::kMalformed);
    CHECK_THAT(s.message(),
               Catch::Contains("deeper than 64") || Catch::Contains("number overflow"));
  }
  // A student's config.json: a model_type that is not a string is refused
  // by name (it used to throw nlohmann's type_error out of the loader).
  Status student = parse_student_config(R"({"model_type": 5})").status();
  CHECK(student.code() == Code::kInvalidArgument);
  CHECK(student.field() == "model_type");
  CHECK(parse_student_config(R"({"model_type": )" + deep + "}").status().code() ==
        Code::kMalformed);
}
