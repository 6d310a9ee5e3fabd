#include "layers.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <set>

namespace autodistill::model::detail {

Result<Activation> parse_activation(const std::string& name) {
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
    return Activation::kGeluTanh;
  }
  if (name == "relu") return Activation::kRelu;
  return Status(Code::kInvalidArgument,
                "unsupported hidden_act \"" + name +
                    "\" (want gelu, gelu_new, gelu_pytorch_tanh, gelu_fast or relu)",
                "hidden_act");
}

at::Tensor activate(const at::Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::kGelu:
      return at::gelu(x);
    case Activation::kGeluTanh:
      return at::gelu(x, "tanh");
    case Activation::kRelu:
      return at::relu(x);
  }
  return x;
}

Init::Init(uint64_t seed, bool fill)
    : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)), fill_(fill) {}

at::Tensor Init::normal(at::IntArrayRef shape) {
  at::Tensor t = at::empty(shape, at::kFloat);
  if (fill_) t.normal_(0.0, 0.02, generator_);
  return t.requires_grad_(true);
}

at::Tensor Init::zeros(at::IntArrayRef shape) {
  return (fill_ ? at::zeros(shape, at::kFloat) : at::empty(shape, at::kFloat)).requires_grad_(true);
}

at::Tensor Init::ones(at::IntArrayRef shape) {
  return (fill_ ? at::ones(shape, at::kFloat) : at::empty(shape, at::kFloat)).requires_grad_(true);
}

Linear::Linear(int64_t in, int64_t out, Init& init)
    : weight(init.normal({out, in})), bias(init.zeros({out})) {}

void Linear::collect(const std::string& name, ParamRefs& refs) {
  refs.push_back({name + ".weight", &weight});
  refs.push_back({name + ".bias", &bias});
}

LayerNorm::LayerNorm(int64_t width, double eps, Init& init, bool affine_only)
    : weight(init.ones({width})), bias(init.zeros({width})), eps(eps), affine_only(affine_only) {}

void LayerNorm::collect(const std::string& name, ParamRefs& refs) {
  refs.push_back({name + ".weight", &weight});
  refs.push_back({name + ".bias", &bias});
}

Embeddings::Embeddings(int64_t vocab, int64_t positions, int64_t types, int64_t hidden, double eps,
                       Init& init)
    : word(init.normal({vocab, hidden})),
      position(init.normal({positions, hidden})),
      token_type(init.normal({types, hidden})),
      norm(hidden, eps, init) {}

at::Tensor Embeddings::operator()(const at::Tensor& ids, const at::Tensor& types) const {
  const int64_t length = ids.size(1);
  at::Tensor positions = at::arange(length, ids.options().dtype(at::kLong)).unsqueeze(0);
  at::Tensor sum = at::embedding(word, ids) + at::embedding(position, positions);
  sum = types.defined() ? sum + at::embedding(token_type, types) : sum + token_type.select(0, 0);
  return norm(sum);
}

Attention::Attention(int64_t width, int64_t heads, double eps, Init& init)
    : query(width, width, init),
      key(width, width, init),
      value(width, width, init),
      output(width, width, init),
      norm(width, eps, init),
      heads(heads) {}

std::pair<at::Tensor, at::Tensor> multi_head_attention(const at::Tensor& q, const at::Tensor& k,
                                                       const at::Tensor& v, int64_t heads,
                                                       const at::Tensor& mask_bias) {
  const int64_t n = q.size(0), s = q.size(1), width = q.size(2);
  const int64_t head_dim = width / heads;
  auto split = [&](const at::Tensor& t) {
    return t.view({n, s, heads, head_dim}).transpose(1, 2);  // [N, A, S, d]
  };
  at::Tensor scores =
      at::matmul(split(q), split(k).transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim));
  at::Tensor probs = at::softmax(scores + mask_bias, -1);
  at::Tensor context = at::matmul(probs, split(v)).transpose(1, 2).reshape({n, s, width});
  return {context, probs};
}

std::pair<at::Tensor, at::Tensor> Attention::operator()(const at::Tensor& x,
                                                        const at::Tensor& mask_bias) const {
  auto [context, probs] = multi_head_attention(query(x), key(x), value(x), heads, mask_bias);
  return {norm(x + output(context)), probs};
}

FeedForward::FeedForward(int64_t width, int64_t inner, Activation activation, double eps,
                         Init& init, bool affine_only)
    : intermediate(width, inner, init),
      output(inner, width, init),
      norm(width, eps, init, affine_only),
      activation(activation) {}

PretrainingHeads::PretrainingHeads(int64_t hidden, int64_t vocab, Activation activation, double eps,
                                   Init& init)
    : transform(hidden, hidden, init),
      transform_norm(hidden, eps, init),
      decoder_bias(init.zeros({vocab})),
      pooler(hidden, hidden, init),
      classifier(hidden, 2, init),
      activation(activation) {}

at::Tensor PretrainingHeads::mlm(const at::Tensor& hidden, const at::Tensor& word_embeddings,
                                 const at::Tensor& positions) const {
  at::Tensor x = hidden;
  if (positions.defined()) {
    x = hidden.reshape({-1, hidden.size(-1)}).index_select(0, positions);
  }
  x = transform_norm(activate(transform(x), activation));
  return at::linear(x, decoder.defined() ? decoder : word_embeddings, decoder_bias);
}

at::Tensor PretrainingHeads::nsp(const at::Tensor& hidden) const {
  at::Tensor pooled = at::tanh(pooler(hidden.select(1, 0)));
  return classifier(pooled);
}

at::Tensor attention_bias(const at::Tensor& mask, int64_t batch, int64_t length,
                          at::ScalarType dtype, const at::Device& device) {
  if (!mask.defined()) {
    return at::zeros({batch, 1, 1, length}, at::TensorOptions().dtype(dtype).device(device));
  }
  at::Tensor keep = mask.to(device, dtype).view({batch, 1, 1, length});
  return (1.0 - keep) * std::numeric_limits<float>::lowest();
}

std::vector<NamedTensor> named_tensors(const ParamRefs& refs) {
  std::vector<NamedTensor> out;
  for (const auto& ref : refs) out.emplace_back(ref.name, *ref.tensor);
  return out;
}

int64_t element_count(const ParamRefs& refs) {
  int64_t count = 0;
  for (const auto& ref : refs) count += ref.tensor->numel();
  return count;
}

void move_parameters(const ParamRefs& refs, const at::Device& device) {
  for (const ParamRef& ref : refs) {
    const bool grad = ref.tensor->requires_grad();
    *ref.tensor = ref.tensor->detach().to(device).requires_grad_(grad);
  }
}

Status load_parameters(const ParamRefs& refs, const std::map<std::string, at::Tensor>& tensors,
                       bool allow_extra) {
  std::set<std::string> used;
  for (const ParamRef& ref : refs) {
    auto it = tensors.find(ref.name);
    if (it == tensors.end()) {
      return Status(Code::kNotFound, "checkpoint lacks tensor \"" + ref.name + "\"", ref.name);
    }
    if (it->second.sizes() != ref.tensor->sizes()) {
      return Status(Code::kInvalidArgument,
                    "tensor \"" + ref.name + "\" has shape " + c10::str(it->second.sizes()) +
                        ", the model needs " + c10::str(ref.tensor->sizes()),
                    ref.name);
    }
    used.insert(ref.name);
  }
  if (!allow_extra) {
    for (const auto& [name, tensor] : tensors) {
      if (!used.count(name)) {
        return Status(Code::kInvalidArgument,
                      "checkpoint tensor \"" + name + "\" is not a parameter of this model", name);
      }
    }
  }
  for (const ParamRef& ref : refs) {
    const bool grad = ref.tensor->requires_grad();
    *ref.tensor = tensors.at(ref.name)
                      .detach()
                      .to(ref.tensor->device(), at::kFloat)
                      .contiguous()
                      .clone()
                      .requires_grad_(grad);
  }
  return Status::ok();
}

}  // namespace autodistill::model::detail
