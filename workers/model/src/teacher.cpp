#include "autodistill/model/teacher.hpp"

#include <fstream>
#include <utility>

#include "autodistill/model/tensor_io.hpp"
#include "layers.hpp"

namespace autodistill::model {

using detail::Attention;
using detail::FeedForward;
using detail::Init;
using detail::ParamRefs;

namespace {

struct Layer {
  Attention attention;
  FeedForward ffn;
};

// The checkpoint names to try for parameter `name`, in order.
std::vector<std::string> aliases(const std::string& name) {
  std::vector<std::string> out{name};
  auto swap_suffix = [&](const std::string& from, const std::string& to) {
    if (name.size() > from.size() &&
        name.compare(name.size() - from.size(), from.size(), from) == 0) {
      out.push_back(name.substr(0, name.size() - from.size()) + to);
    }
  };
  swap_suffix("LayerNorm.weight", "LayerNorm.gamma");
  swap_suffix("LayerNorm.bias", "LayerNorm.beta");
  if (name == "cls.predictions.bias") out.push_back("cls.predictions.decoder.bias");
  const std::string prefix = "bert.";
  const size_t n = out.size();
  for (size_t i = 0; i < n; ++i) {
    if (out[i].rfind(prefix, 0) == 0) out.push_back(out[i].substr(prefix.size()));
  }
  return out;
}

}  // namespace

struct Teacher::Impl {
  BertConfig config;
  detail::Embeddings embeddings;
  std::vector<Layer> layers;
  detail::PretrainingHeads heads;
  ParamRefs refs;

  Impl(const BertConfig& c, detail::Activation act, Init& init) : config(c) {
    const double eps = c.layer_norm_eps;
    embeddings = detail::Embeddings(c.vocab_size, c.max_position_embeddings, c.type_vocab_size,
                                    c.hidden_size, eps, init);
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      layers.push_back({Attention(c.hidden_size, c.num_attention_heads, eps, init),
                        FeedForward(c.hidden_size, c.intermediate_size, act, eps, init)});
    }
    heads = detail::PretrainingHeads(c.hidden_size, c.vocab_size, act, eps, init);
    collect();
  }

  void collect() {
    refs.clear();
    refs.push_back({"bert.embeddings.word_embeddings.weight", &embeddings.word});
    refs.push_back({"bert.embeddings.position_embeddings.weight", &embeddings.position});
    refs.push_back({"bert.embeddings.token_type_embeddings.weight", &embeddings.token_type});
    embeddings.norm.collect("bert.embeddings.LayerNorm", refs);
    for (size_t l = 0; l < layers.size(); ++l) {
      const std::string p = "bert.encoder.layer." + std::to_string(l) + ".";
      layers[l].attention.query.collect(p + "attention.self.query", refs);
      layers[l].attention.key.collect(p + "attention.self.key", refs);
      layers[l].attention.value.collect(p + "attention.self.value", refs);
      layers[l].attention.output.collect(p + "attention.output.dense", refs);
      layers[l].attention.norm.collect(p + "attention.output.LayerNorm", refs);
      layers[l].ffn.intermediate.collect(p + "intermediate.dense", refs);
      layers[l].ffn.output.collect(p + "output.dense", refs);
      layers[l].ffn.norm.collect(p + "output.LayerNorm", refs);
    }
    heads.pooler.collect("bert.pooler.dense", refs);
    heads.transform.collect("cls.predictions.transform.dense", refs);
    heads.transform_norm.collect("cls.predictions.transform.LayerNorm", refs);
    if (heads.decoder.defined()) refs.push_back({"cls.predictions.decoder.weight", &heads.decoder});
    refs.push_back({"cls.predictions.bias", &heads.decoder_bias});
    heads.classifier.collect("cls.seq_relationship", refs);
  }
};

Teacher::Teacher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Teacher::Teacher(Teacher&&) noexcept = default;
Teacher& Teacher::operator=(Teacher&&) noexcept = default;
Teacher::~Teacher() = default;

Result<Teacher> Teacher::create(const BertConfig& config, uint64_t seed) {
  if (Status valid = validate(config); !valid) return valid;
  auto act = detail::parse_activation(config.hidden_act);
  if (!act) return act.status();
  Init init(seed);
  return Teacher(std::make_unique<Impl>(config, *act, init));
}

Result<Teacher> Teacher::load(const std::filesystem::path& dir) {
  auto config = read_bert_config(dir / "config.json");
  if (!config) return config.status();
  auto act = detail::parse_activation(config->hidden_act);
  if (!act) return act.status();
  const std::filesystem::path weights_path = dir / "model.safetensors";
  auto file = SafetensorsFile::open(weights_path);
  if (!file) return file.status();

  Init init(0, /*fill=*/false);
  auto impl = std::make_unique<Impl>(*config, *act, init);
  if (file->find("cls.predictions.decoder.weight") != nullptr) {
    impl->heads.decoder = init.normal({config->vocab_size, config->hidden_size});
    impl->collect();
  }
  std::map<std::string, at::Tensor> tensors;
  for (const auto& ref : impl->refs) {
    for (const std::string& name : aliases(ref.name)) {
      if (file->find(name) == nullptr) continue;
      auto tensor = read_tensor(*file, name);
      if (!tensor) {
        return Status(tensor.status().code(),
                      weights_path.string() + ": " + tensor.status().message(), name);
      }
      tensors[ref.name] = std::move(tensor.value());
      break;
    }
  }
  if (Status loaded = detail::load_parameters(impl->refs, tensors, /*allow_extra=*/false);
      !loaded) {
    return Status(loaded.code(), weights_path.string() + ": " + loaded.message(), loaded.field());
  }
  for (const auto& ref : impl->refs) ref.tensor->requires_grad_(false);
  return Teacher(std::move(impl));
}

const BertConfig& Teacher::config() const {
  return impl_->config;
}

ModelOutputs Teacher::forward(const ModelInputs& inputs, const ForwardOptions& options) const {
  const Impl& m = *impl_;
  auto layer = [&m](int64_t l, const at::Tensor& hidden, const at::Tensor& bias) {
    auto [attended, probs] = m.layers[l].attention(hidden, bias);
    return std::make_pair(m.layers[l].ffn(attended), probs);
  };
  return detail::run_forward(inputs, options, static_cast<int64_t>(m.layers.size()), m.embeddings,
                             layer, m.heads, m.embeddings.word);
}

std::vector<NamedTensor> Teacher::named_parameters() const {
  return detail::named_tensors(impl_->refs);
}

int64_t Teacher::parameter_count() const {
  return detail::element_count(impl_->refs);
}

at::Device Teacher::device() const {
  return impl_->embeddings.word.device();
}

void Teacher::to(const at::Device& device) {
  detail::move_parameters(impl_->refs, device);
}

Status Teacher::save(const std::filesystem::path& dir, DType dtype) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, dir.string() + ": cannot create: " + ec.message());
  {
    std::ofstream out(dir / "config.json", std::ios::trunc);
    out << bert_config_json(impl_->config);
    if (!out) return Status(Code::kInternal, (dir / "config.json").string() + ": cannot write");
  }
  return save_tensors(dir / "model.safetensors", named_parameters(), dtype, {{"format", "pt"}});
}

}  // namespace autodistill::model
