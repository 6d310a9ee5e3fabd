#pragma once
// The student architecture template (AutoDistill, Fig. 2 and Table 1) and
// its analytic cost. The template is Hugging Face's MobileBERT
// (transformers' MobileBertForPreTraining, use_bottleneck true): the
// paper's design space is MobileBERT's knobs, and a delivered student loads
// with MobileBertForPreTraining.from_pretrained (workers/model). Shared by
// the BO engine (hard constraints, analytic metrics), the client's report
// and the workers' LibTorch model, whose parameter count must equal
// parameter_count() exactly (tested there).
//
// Factors (design space) and their MobileBERT config keys: K blocks
// (num_hidden_layers), hidden size H (hidden_size), bottleneck B
// (intra_bottleneck_size), A heads (num_attention_heads), intermediate I
// (intermediate_size), F stacked FFNs (num_feedforward_networks). Options
// (settings.student, student_settings.hpp): embedding size E (embedding_size,
// <= H), trigram_input (m = 3, else 1), normalization_type, and which input
// the attention reads (use_bottleneck_attention: queries, keys and values
// from the input bottleneck; key_query_shared_bottleneck: queries and keys
// from a second bottleneck, values from the H-wide block input). Teacher-
// derived: vocabulary V, positions P, T token types.
//
//   embeddings   word V*E + position P*H + token type T*H
//                + embedding_transformation m*E*H + H (transformers builds
//                it always; it runs when trigram_input or E != H) + norm 2H
//   block (xK)   bottleneck.input      H->B + norm     : H*B + B + 2B
//                bottleneck.attention  (key_query_shared_bottleneck) H*B + B + 2B
//                query, key B->B                       : 2 * (B*B + B)
//                value (B or H)->B                     : W_v*B + B
//                attention output B->B + norm          : B*B + B + 2B
//                F x FFN  B->I->B + norm               : F * (B*I + I + I*B + B + 2B)
//                output.bottleneck B->H + norm         : B*H + H + 2H (residual: block input)
//   MLM head     transform H->H + LayerNorm: H*H + H + 2H; decoder = the word
//                embeddings (tied, E columns) and cls.predictions.dense
//                ((H-E) x V), its bias V
//   NSP head     pooler H->H: H*H + H; classifier H->2: 2H + 2
//
// forward_flops(S) counts 2 FLOPs per multiply-add of one length-S sequence
// through the embedding transformation (when it runs), the encoder blocks
// and the pooler (what serving runs; the MLM decoder is a pre-training
// head): per block and token 2*(H*B [+ H*B] + 2*B*B + W_v*B + B*B + F*2*B*I
// + B*H) for the dense layers plus 2*2*S*B for the attention scores and the
// weighted sum; per token 2*m*E*H for the embedding transformation.

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "autodistill/status.hpp"

namespace autodistill {

// MobileBERT's normalization_type: "layer_norm", or "no_norm" (an
// elementwise x * weight + bias). The MLM head's transform always uses a
// LayerNorm.
enum class Normalization { kLayerNorm, kNoNorm };

struct StudentArch {
  int64_t num_blocks = 0;         // K
  int64_t hidden_size = 0;        // H
  int64_t bottleneck_size = 0;    // B
  int64_t num_heads = 0;          // A
  int64_t intermediate_size = 0;  // I
  int64_t num_stacked_ffn = 0;    // F
  int64_t vocab_size = 30522;     // V, from the teacher
  int64_t max_positions = 512;    // P, from the teacher
  int64_t type_vocab_size = 2;    // T, from the teacher
  // Options. E; 0 (the default) means the hidden size.
  int64_t embedding_size = 0;
  bool trigram_input = false;                               // default false
  Normalization normalization = Normalization::kLayerNorm;  // default layer_norm
  // Exactly one of the two is true. Default: the bottleneck feeds the attention.
  bool use_bottleneck_attention = true;
  bool key_query_shared_bottleneck = false;
};

// E as used: embedding_size, or the hidden size when it is 0.
inline int64_t embedding_width(const StudentArch& a) {
  return a.embedding_size > 0 ? a.embedding_size : a.hidden_size;
}

// Whether the embedding transformation runs (else it is built but unused).
inline bool transforms_embeddings(const StudentArch& a) {
  return a.trigram_input || embedding_width(a) != a.hidden_size;
}

// "layer_norm" / "no_norm".
inline const char* normalization_name(Normalization n) {
  return n == Normalization::kNoNorm ? "no_norm" : "layer_norm";
}

// The largest size validate() accepts for each dimension: far beyond any
// model a worker can build, small enough that no count overflows int64.
inline constexpr int64_t kMaxStudentWidth = int64_t{1} << 16;       // H, B, A, I
inline constexpr int64_t kMaxStudentDepth = int64_t{1} << 12;       // K, F
inline constexpr int64_t kMaxStudentVocabulary = int64_t{1} << 24;  // V, P, T

// Every size positive and within the limits above, heads divide the
// bottleneck. kInvalidArgument naming the factor otherwise.
inline Status validate(const StudentArch& a) {
  struct Size {
    const char* name;
    int64_t value;
    int64_t limit;
  };
  const Size sizes[] = {{"num_blocks", a.num_blocks, kMaxStudentDepth},
                        {"hidden_size", a.hidden_size, kMaxStudentWidth},
                        {"bottleneck_size", a.bottleneck_size, kMaxStudentWidth},
                        {"num_heads", a.num_heads, kMaxStudentWidth},
                        {"intermediate_size", a.intermediate_size, kMaxStudentWidth},
                        {"num_stacked_ffn", a.num_stacked_ffn, kMaxStudentDepth},
                        {"vocab_size", a.vocab_size, kMaxStudentVocabulary},
                        {"max_positions", a.max_positions, kMaxStudentVocabulary},
                        {"type_vocab_size", a.type_vocab_size, kMaxStudentVocabulary}};
  for (const Size& size : sizes) {
    if (size.value <= 0) {
      return Status(Code::kInvalidArgument, std::string(size.name) + " must be positive",
                    size.name);
    }
    if (size.value > size.limit) {
      return Status(Code::kInvalidArgument,
                    std::string(size.name) + " must be at most " + std::to_string(size.limit),
                    size.name);
    }
  }
  if (a.bottleneck_size % a.num_heads != 0) {
    return Status(Code::kInvalidArgument,
                  "num_heads (" + std::to_string(a.num_heads) + ") must divide bottleneck_size (" +
                      std::to_string(a.bottleneck_size) + ")",
                  "num_heads");
  }
  if (a.embedding_size < 0 || a.embedding_size > a.hidden_size) {
    return Status(Code::kInvalidArgument,
                  "embedding_size (" + std::to_string(a.embedding_size) +
                      ") must be between 1 and hidden_size (" + std::to_string(a.hidden_size) +
                      "), or 0 for hidden_size",
                  "embedding_size");
  }
  if (a.use_bottleneck_attention == a.key_query_shared_bottleneck) {
    return Status(Code::kInvalidArgument,
                  "exactly one of use_bottleneck_attention and key_query_shared_bottleneck must be "
                  "true (MobileBERT's attention reads either the bottleneck or a shared "
                  "query/key bottleneck)",
                  "key_query_shared_bottleneck");
  }
  return Status::ok();
}

// The counts below are exact for architectures that pass validate(). For
// any other sizes they never overflow: they are computed in 128 bits and
// saturate at INT64_MAX (a hard "params <= X" constraint then excludes the
// point), so callers may cost unvalidated candidates safely.
namespace detail {
__extension__ using wide_count = __int128;

// Sizes clamped to +-2^40: every product below then stays under 2^123.
inline StudentArch clamped(StudentArch a) {
  constexpr int64_t kBound = int64_t{1} << 40;
  for (int64_t* v : {&a.num_blocks, &a.hidden_size, &a.bottleneck_size, &a.num_heads,
                     &a.intermediate_size, &a.num_stacked_ffn, &a.vocab_size, &a.max_positions,
                     &a.type_vocab_size, &a.embedding_size}) {
    *v = std::clamp(*v, -kBound, kBound);
  }
  return a;
}

inline int64_t saturate(wide_count v) {
  constexpr int64_t kMax = INT64_MAX;
  if (v > kMax) return kMax;
  if (v < -kMax) return -kMax;
  return static_cast<int64_t>(v);
}

inline wide_count embedding_parameters(const StudentArch& a) {
  const wide_count H = a.hidden_size, E = embedding_width(a);
  const wide_count m = a.trigram_input ? 3 : 1;
  return wide_count{a.vocab_size} * E + (wide_count{a.max_positions} + a.type_vocab_size) * H +
         m * E * H + H + 2 * H;
}

inline wide_count block_parameters(const StudentArch& a) {
  const wide_count H = a.hidden_size, B = a.bottleneck_size, I = a.intermediate_size;
  const wide_count bottleneck = H * B + B + 2 * B;
  const wide_count shared = a.key_query_shared_bottleneck ? bottleneck : 0;
  const wide_count value_in = a.use_bottleneck_attention ? B : H;
  const wide_count attention = 2 * (B * B + B) + value_in * B + B + B * B + B + 2 * B;
  const wide_count ffn = B * I + I + I * B + B + 2 * B;
  const wide_count out = B * H + H + 2 * H;
  return bottleneck + shared + attention + a.num_stacked_ffn * ffn + out;
}

inline wide_count head_parameters(const StudentArch& a) {
  const wide_count H = a.hidden_size, V = a.vocab_size;
  const wide_count mlm = H * H + H + 2 * H + (H - embedding_width(a)) * V + V;
  const wide_count nsp = H * H + H + 2 * H + 2;
  return mlm + nsp;
}
}  // namespace detail

inline int64_t embedding_parameters(const StudentArch& a) {
  return detail::saturate(detail::embedding_parameters(detail::clamped(a)));
}

inline int64_t block_parameters(const StudentArch& a) {
  return detail::saturate(detail::block_parameters(detail::clamped(a)));
}

inline int64_t head_parameters(const StudentArch& a) {
  return detail::saturate(detail::head_parameters(detail::clamped(a)));
}

inline int64_t parameter_count(const StudentArch& a) {
  const StudentArch c = detail::clamped(a);
  // The per-block count saturated to int64 times at most 2^40 blocks stays
  // within 128 bits.
  const detail::wide_count block = detail::saturate(detail::block_parameters(c));
  return detail::saturate(detail::embedding_parameters(c) + c.num_blocks * block +
                          detail::head_parameters(c));
}

inline double forward_flops(const StudentArch& a, int64_t seq_len) {
  const double H = static_cast<double>(a.hidden_size), B = static_cast<double>(a.bottleneck_size),
               I = static_cast<double>(a.intermediate_size),
               F = static_cast<double>(a.num_stacked_ffn), S = static_cast<double>(seq_len);
  const double shared = a.key_query_shared_bottleneck ? H * B : 0.0;
  const double value_in = a.use_bottleneck_attention ? B : H;
  const double dense =
      2.0 * (H * B + shared + 2.0 * B * B + value_in * B + B * B + F * 2.0 * B * I + B * H);
  const double attention = 2.0 * 2.0 * S * B;
  const double per_sequence_blocks = static_cast<double>(a.num_blocks) * S * (dense + attention);
  const double embeddings =
      transforms_embeddings(a)
          ? 2.0 * S * (a.trigram_input ? 3.0 : 1.0) * static_cast<double>(embedding_width(a)) * H
          : 0.0;
  const double pooler = 2.0 * H * H;
  return embeddings + per_sequence_blocks + pooler;
}

// Builds an architecture from factor values by name (the design-space factor
// names); names it does not know are ignored, missing ones keep `base`.
inline StudentArch student_from_factors(const std::map<std::string, double>& factors,
                                        StudentArch base = {}) {
  // A value that is not a number or beyond int64 becomes 0, which
  // validate() refuses (the cast itself would be undefined).
  auto set = [&](const char* name, int64_t* field) {
    auto it = factors.find(name);
    if (it == factors.end()) return;
    const double v = it->second;
    *field = v > -9.0e18 && v < 9.0e18 ? static_cast<int64_t>(v) : 0;
  };
  set("num_blocks", &base.num_blocks);
  set("hidden_size", &base.hidden_size);
  set("bottleneck_size", &base.bottleneck_size);
  set("num_heads", &base.num_heads);
  set("intermediate_size", &base.intermediate_size);
  set("num_stacked_ffn", &base.num_stacked_ffn);
  return base;
}

}  // namespace autodistill
