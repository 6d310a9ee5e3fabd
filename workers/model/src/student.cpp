#include "autodistill/model/student.hpp"

#include <utility>

#include "layers.hpp"

namespace autodistill::model {

using detail::Activation;
using detail::FeedForward;
using detail::Init;
using detail::LayerNorm;
using detail::Linear;
using detail::ParamRefs;

namespace {

// transformers' MobileBertConfig.layer_norm_eps, and nn.LayerNorm's default
// eps, which transformers' MobileBERT uses for the embedding norm and each
// block's MobileBertOutput norm.
constexpr double kLayerNormEps = 1e-12;
constexpr double kTorchDefaultEps = 1e-5;

struct Shape {
  bool legacy = false;
  bool no_norm = false;
  // eps of the norms transformers builds without one.
  double default_eps() const { return legacy ? kLayerNormEps : kTorchDefaultEps; }
};

struct Embeddings {
  at::Tensor word;        // [V, E]
  at::Tensor position;    // [P, H]
  at::Tensor token_type;  // [T, H]
  Linear transformation;  // m*E -> H (not in the legacy layout)
  LayerNorm norm;
  bool trigram = false;
  bool transform = false;  // transformation runs

  Embeddings() = default;
  Embeddings(const StudentArch& a, const Shape& shape, Init& init)
      : word(init.normal({a.vocab_size, embedding_width(a)})),
        position(init.normal({a.max_positions, a.hidden_size})),
        token_type(init.normal({a.type_vocab_size, a.hidden_size})),
        trigram(a.trigram_input),
        transform(transforms_embeddings(a)) {
    if (!shape.legacy) {
      transformation = Linear((a.trigram_input ? 3 : 1) * embedding_width(a), a.hidden_size, init);
    }
    norm = LayerNorm(a.hidden_size, shape.default_eps(), init, shape.no_norm);
  }

  at::Tensor operator()(const at::Tensor& ids, const at::Tensor& types) const {
    const int64_t length = ids.size(1);
    at::Tensor e = at::embedding(word, ids);
    if (trigram) {
      // [next token | this token | previous token], zeros beyond the ends.
      at::Tensor next = at::constant_pad_nd(e.narrow(1, 1, length - 1), {0, 0, 0, 1});
      at::Tensor previous = at::constant_pad_nd(e.narrow(1, 0, length - 1), {0, 0, 1, 0});
      e = at::cat({next, e, previous}, 2);
    }
    if (transform) e = transformation(e);
    at::Tensor positions = at::arange(length, ids.options().dtype(at::kLong)).unsqueeze(0);
    at::Tensor sum = e + at::embedding(position, positions);
    sum = types.defined() ? sum + at::embedding(token_type, types) : sum + token_type.select(0, 0);
    return norm(sum);
  }

  void collect(const std::string& p, ParamRefs& refs) {
    refs.push_back({p + "word_embeddings.weight", &word});
    refs.push_back({p + "position_embeddings.weight", &position});
    refs.push_back({p + "token_type_embeddings.weight", &token_type});
    if (transformation.weight.defined())
      transformation.collect(p + "embedding_transformation", refs);
    norm.collect(p + "LayerNorm", refs);
  }
};

struct Block {
  Linear query, key, value, attention_out;
  LayerNorm attention_norm;
  // The F feed-forward networks; the last is transformers'
  // intermediate/output, the others ffn.<f>.
  std::vector<FeedForward> ffns;
  Linear out;  // output.bottleneck: B -> H
  LayerNorm out_norm;
  Linear input;  // bottleneck.input: H -> B
  LayerNorm input_norm;
  Linear shared;  // bottleneck.attention (key_query_shared_bottleneck)
  LayerNorm shared_norm;
  int64_t heads = 1;
  bool legacy = false;
  bool bottleneck_attention = true;
  bool key_query_shared = false;

  Block(const StudentArch& a, const Shape& shape, Init& init)
      : heads(a.num_heads),
        legacy(shape.legacy),
        bottleneck_attention(a.use_bottleneck_attention),
        key_query_shared(a.key_query_shared_bottleneck) {
    const int64_t H = a.hidden_size, B = a.bottleneck_size;
    query = Linear(B, B, init);
    key = Linear(B, B, init);
    value = Linear(a.use_bottleneck_attention ? B : H, B, init);
    attention_out = Linear(B, B, init);
    attention_norm = LayerNorm(B, kLayerNormEps, init, shape.no_norm);
    for (int64_t f = 0; f < a.num_stacked_ffn; ++f) {
      const bool last = f + 1 == a.num_stacked_ffn;
      ffns.emplace_back(B, a.intermediate_size, Activation::kGelu,
                        last ? shape.default_eps() : kLayerNormEps, init, shape.no_norm);
    }
    out = Linear(B, H, init);
    out_norm = LayerNorm(H, kLayerNormEps, init, shape.no_norm);
    input = Linear(H, B, init);
    if (!legacy) input_norm = LayerNorm(B, kLayerNormEps, init, shape.no_norm);
    if (key_query_shared) {
      shared = Linear(H, B, init);
      shared_norm = LayerNorm(B, kLayerNormEps, init, shape.no_norm);
    }
  }

  std::pair<at::Tensor, at::Tensor> operator()(const at::Tensor& x,
                                               const at::Tensor& mask_bias) const {
    at::Tensor b = input(x);
    if (!legacy) b = input_norm(b);
    const at::Tensor qk = key_query_shared ? shared_norm(shared(x)) : b;
    const at::Tensor& v = bottleneck_attention ? b : x;
    auto [context, probs] =
        detail::multi_head_attention(query(qk), key(qk), value(v), heads, mask_bias);
    at::Tensor a = attention_norm(attention_out(context) + b);
    for (const FeedForward& ffn : ffns) a = ffn(a);
    return {out_norm(out(a) + x), probs};
  }

  void collect(const std::string& p, ParamRefs& refs) {
    query.collect(p + "attention.self.query", refs);
    key.collect(p + "attention.self.key", refs);
    value.collect(p + "attention.self.value", refs);
    attention_out.collect(p + "attention.output.dense", refs);
    attention_norm.collect(p + "attention.output.LayerNorm", refs);
    ffns.back().intermediate.collect(p + "intermediate.dense", refs);
    ffns.back().output.collect(p + "output.dense", refs);
    ffns.back().norm.collect(p + "output.LayerNorm", refs);
    out.collect(p + "output.bottleneck.dense", refs);
    out_norm.collect(p + "output.bottleneck.LayerNorm", refs);
    input.collect(p + "bottleneck.input.dense", refs);
    if (!legacy) input_norm.collect(p + "bottleneck.input.LayerNorm", refs);
    if (key_query_shared) {
      shared.collect(p + "bottleneck.attention.dense", refs);
      shared_norm.collect(p + "bottleneck.attention.LayerNorm", refs);
    }
    for (size_t f = 0; f + 1 < ffns.size(); ++f) {
      const std::string q = p + "ffn." + std::to_string(f) + ".";
      ffns[f].intermediate.collect(q + "intermediate.dense", refs);
      ffns[f].output.collect(q + "output.dense", refs);
      ffns[f].norm.collect(q + "output.LayerNorm", refs);
    }
  }
};

std::vector<at::Tensor> tensors_of(const ParamRefs& refs, size_t begin, size_t end) {
  std::vector<at::Tensor> out;
  for (size_t i = begin; i < end; ++i) out.push_back(*refs[i].tensor);
  return out;
}

bool default_options(const StudentArch& a) {
  return embedding_width(a) == a.hidden_size && !a.trigram_input &&
         a.normalization == Normalization::kLayerNorm && a.use_bottleneck_attention &&
         !a.key_query_shared_bottleneck;
}

}  // namespace

struct Student::Impl {
  StudentArch arch;
  StudentLayout layout;
  Embeddings embeddings;
  std::vector<Block> blocks;
  detail::PretrainingHeads heads;
  // cls.predictions.dense: [H - E, V], the decoder's rows past the tied word
  // embeddings (undefined in the legacy layout).
  at::Tensor decoder_extra;
  ParamRefs refs;
  // refs[0, embeddings_end) embeddings, then block k in
  // [block_begin[k], block_begin[k + 1]), then the heads.
  std::vector<size_t> block_begin;

  Impl(const StudentArch& a, uint64_t seed, StudentLayout l) : arch(a), layout(l) {
    Init init(seed);
    const Shape shape{l == StudentLayout::kLegacy, a.normalization == Normalization::kNoNorm};
    embeddings = Embeddings(a, shape, init);
    for (int64_t k = 0; k < a.num_blocks; ++k) blocks.emplace_back(a, shape, init);
    heads = detail::PretrainingHeads(a.hidden_size, a.vocab_size, Activation::kGelu, kLayerNormEps,
                                     init);
    if (!shape.legacy)
      decoder_extra = init.normal({a.hidden_size - embedding_width(a), a.vocab_size});

    embeddings.collect("mobilebert.embeddings.", refs);
    for (size_t k = 0; k < blocks.size(); ++k) {
      block_begin.push_back(refs.size());
      blocks[k].collect("mobilebert.encoder.layer." + std::to_string(k) + ".", refs);
    }
    block_begin.push_back(refs.size());
    heads.pooler.collect("mobilebert.pooler.dense", refs);
    heads.transform.collect("cls.predictions.transform.dense", refs);
    heads.transform_norm.collect("cls.predictions.transform.LayerNorm", refs);
    if (decoder_extra.defined()) refs.push_back({"cls.predictions.dense.weight", &decoder_extra});
    refs.push_back({"cls.predictions.bias", &heads.decoder_bias});
    heads.classifier.collect("cls.seq_relationship", refs);
  }

  // The MLM decoder as [V, H]: the word embeddings, then cls.predictions.dense^T.
  at::Tensor decoder() const {
    if (!decoder_extra.defined() || decoder_extra.size(0) == 0) return embeddings.word;
    return at::cat({embeddings.word, decoder_extra.t()}, 1);
  }
};

Student::Student(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Student::Student(Student&&) noexcept = default;
Student& Student::operator=(Student&&) noexcept = default;
Student::~Student() = default;

Result<Student> Student::create(const StudentArch& arch, uint64_t seed, StudentLayout layout) {
  if (Status valid = validate(arch); !valid) return valid;
  if (layout == StudentLayout::kLegacy && !default_options(arch)) {
    return Status(Code::kInvalidArgument,
                  "the legacy student layout has no options (embedding_size, trigram_input, "
                  "normalization_type, attention inputs)",
                  "layout");
  }
  return Student(std::make_unique<Impl>(arch, seed, layout));
}

const StudentArch& Student::arch() const {
  return impl_->arch;
}

StudentLayout Student::layout() const {
  return impl_->layout;
}

ModelOutputs Student::forward(const ModelInputs& inputs, const ForwardOptions& options) const {
  const Impl& m = *impl_;
  auto block = [&m](int64_t k, const at::Tensor& hidden, const at::Tensor& bias) {
    return m.blocks[k](hidden, bias);
  };
  return detail::run_forward(inputs, options, static_cast<int64_t>(m.blocks.size()), m.embeddings,
                             block, m.heads, m.decoder());
}

std::vector<NamedTensor> Student::named_parameters() const {
  return detail::named_tensors(impl_->refs);
}

int64_t Student::parameter_count() const {
  return detail::element_count(impl_->refs);
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
