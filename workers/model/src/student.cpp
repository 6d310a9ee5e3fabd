#include "autodistill/model/student.hpp"

#include <utility>

#include "layers.hpp"

namespace autodistill::model {

using detail::Activation;
using detail::Attention;
using detail::FeedForward;
using detail::Init;
using detail::LayerNorm;
using detail::Linear;
using detail::ParamRefs;

namespace {

constexpr double kLayerNormEps = 1e-12;

struct Block {
  Linear bottleneck_in;
  Attention attention;
  std::vector<FeedForward> ffns;
  Linear bottleneck_out;
  LayerNorm norm;

  Block(const StudentArch& a, Init& init)
      : bottleneck_in(a.hidden_size, a.bottleneck_size, init),
        attention(a.bottleneck_size, a.num_heads, kLayerNormEps, init),
        bottleneck_out(a.bottleneck_size, a.hidden_size, init),
        norm(a.hidden_size, kLayerNormEps, init) {
    for (int64_t f = 0; f < a.num_stacked_ffn; ++f) {
      ffns.emplace_back(a.bottleneck_size, a.intermediate_size, Activation::kGelu, kLayerNormEps,
                        init);
    }
  }

  std::pair<at::Tensor, at::Tensor> operator()(const at::Tensor& x,
                                               const at::Tensor& mask_bias) const {
    auto [b, probs] = attention(bottleneck_in(x), mask_bias);
    for (const FeedForward& ffn : ffns) b = ffn(b);
    return {norm(x + bottleneck_out(b)), probs};
  }

  void collect(const std::string& p, ParamRefs& refs) {
    bottleneck_in.collect(p + "bottleneck_in", refs);
    attention.query.collect(p + "attention.query", refs);
    attention.key.collect(p + "attention.key", refs);
    attention.value.collect(p + "attention.value", refs);
    attention.output.collect(p + "attention.output", refs);
    attention.norm.collect(p + "attention.LayerNorm", refs);
    for (size_t f = 0; f < ffns.size(); ++f) {
      const std::string q = p + "ffn." + std::to_string(f) + ".";
      ffns[f].intermediate.collect(q + "intermediate", refs);
      ffns[f].output.collect(q + "output", refs);
      ffns[f].norm.collect(q + "LayerNorm", refs);
    }
    bottleneck_out.collect(p + "bottleneck_out", refs);
    norm.collect(p + "LayerNorm", refs);
  }
};

std::vector<at::Tensor> tensors_of(const ParamRefs& refs, size_t begin, size_t end) {
  std::vector<at::Tensor> out;
  for (size_t i = begin; i < end; ++i) out.push_back(*refs[i].tensor);
  return out;
}

}  // namespace

struct Student::Impl {
  StudentArch arch;
  detail::Embeddings embeddings;
  std::vector<Block> blocks;
  detail::PretrainingHeads heads;
  ParamRefs refs;
  // refs[0, embeddings_end) embeddings, then block k in
  // [block_begin[k], block_begin[k + 1]), then the heads.
  std::vector<size_t> block_begin;

  Impl(const StudentArch& a, uint64_t seed) : arch(a) {
    Init init(seed);
    embeddings = detail::Embeddings(a.vocab_size, a.max_positions, a.type_vocab_size, a.hidden_size,
                                    kLayerNormEps, init);
    for (int64_t k = 0; k < a.num_blocks; ++k) blocks.emplace_back(a, init);
    heads = detail::PretrainingHeads(a.hidden_size, a.vocab_size, Activation::kGelu, kLayerNormEps,
                                     init);

    refs.push_back({"embeddings.word_embeddings.weight", &embeddings.word});
    refs.push_back({"embeddings.position_embeddings.weight", &embeddings.position});
    refs.push_back({"embeddings.token_type_embeddings.weight", &embeddings.token_type});
    embeddings.norm.collect("embeddings.LayerNorm", refs);
    for (size_t k = 0; k < blocks.size(); ++k) {
      block_begin.push_back(refs.size());
      blocks[k].collect("encoder.block." + std::to_string(k) + ".", refs);
    }
    block_begin.push_back(refs.size());
    heads.transform.collect("cls.predictions.transform.dense", refs);
    heads.transform_norm.collect("cls.predictions.transform.LayerNorm", refs);
    refs.push_back({"cls.predictions.bias", &heads.decoder_bias});
    heads.pooler.collect("pooler.dense", refs);
    heads.classifier.collect("cls.seq_relationship", refs);
  }
};

Student::Student(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Student::Student(Student&&) noexcept = default;
Student& Student::operator=(Student&&) noexcept = default;
Student::~Student() = default;

Result<Student> Student::create(const StudentArch& arch, uint64_t seed) {
  if (Status valid = validate(arch); !valid) return valid;
  return Student(std::make_unique<Impl>(arch, seed));
}

const StudentArch& Student::arch() const {
  return impl_->arch;
}

ModelOutputs Student::forward(const ModelInputs& inputs, const ForwardOptions& options) const {
  const Impl& m = *impl_;
  const int64_t n = inputs.input_ids.size(0), s = inputs.input_ids.size(1);
  const int64_t total = static_cast<int64_t>(m.blocks.size());
  const int64_t run = options.num_layers < 0 ? total : std::min(options.num_layers, total);
  at::Tensor bias =
      detail::attention_bias(inputs.attention_mask, n, s, at::kFloat, inputs.input_ids.device());
  ModelOutputs out;
  out.hidden_states.push_back(m.embeddings(inputs.input_ids, inputs.token_type_ids));
  for (int64_t k = 0; k < run; ++k) {
    auto [hidden, probs] = m.blocks[k](out.hidden_states.back(), bias);
    out.hidden_states.push_back(hidden);
    if (options.attentions) out.attentions.push_back(probs);
  }
  if (options.heads && run == total) {
    out.mlm_logits =
        m.heads.mlm(out.hidden_states.back(), m.embeddings.word, options.mlm_positions);
    out.nsp_logits = m.heads.nsp(out.hidden_states.back());
  }
  return out;
}

std::vector<NamedTensor> Student::named_parameters() const {
  std::vector<NamedTensor> out;
  for (const auto& ref : impl_->refs) out.emplace_back(ref.name, *ref.tensor);
  return out;
}

int64_t Student::parameter_count() const {
  int64_t count = 0;
  for (const auto& ref : impl_->refs) count += ref.tensor->numel();
  return count;
}

std::vector<at::Tensor> Student::embedding_parameters() const {
  return tensors_of(impl_->refs, 0, impl_->block_begin.front());
}

std::vector<at::Tensor> Student::block_parameters(int64_t k) const {
  TORCH_CHECK(k >= 0 && k < static_cast<int64_t>(impl_->blocks.size()), "block ", k,
              " out of range");
  return tensors_of(impl_->refs, impl_->block_begin[k], impl_->block_begin[k + 1]);
}

std::vector<at::Tensor> Student::head_parameters() const {
  return tensors_of(impl_->refs, impl_->block_begin.back(), impl_->refs.size());
}

at::Device Student::device() const {
  return impl_->embeddings.word.device();
}

void Student::to(const at::Device& device) {
  detail::move_parameters(impl_->refs, device);
}

Status Student::load(const std::map<std::string, at::Tensor>& tensors) {
  return detail::load_parameters(impl_->refs, tensors, /*allow_extra=*/false);
}

}  // namespace autodistill::model
