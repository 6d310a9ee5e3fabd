#pragma once
// The student architecture template (AutoDistill, Fig. 2 and Table 1; after
// MobileBERT) and its analytic cost. Shared by the BO engine (hard
// constraints, analytic metrics) and the workers' LibTorch model, whose
// parameter count must equal parameter_count() exactly (tested there).
//
// Student, hidden size H, bottleneck B, heads A, intermediate I, F stacked
// feed-forward networks, K blocks, vocabulary V, positions P, T token types:
//
//   embeddings   word V*H + position P*H + token type T*H + LayerNorm 2H
//   block (xK)   in-bottleneck  H->B  : H*B + B
//                attention Q,K,V,O    : 4 * (B*B + B), LayerNorm 2B
//                F x FFN  B->I->B     : F * (B*I + I + I*B + B + 2B)   (LayerNorm each)
//                out-bottleneck B->H  : B*H + H, LayerNorm 2H (after the residual)
//   MLM head     transform H->H + LayerNorm: H*H + H + 2H; decoder tied to the
//                word embeddings, its bias V
//   NSP head     pooler H->H: H*H + H; classifier H->2: 2H + 2
//
// forward_flops(S) counts 2 FLOPs per multiply-add of one length-S sequence
// through the encoder blocks and the pooler (what serving runs; the MLM
// decoder is a pre-training head): per block and token 2*(H*B + 4*B*B +
// F*2*B*I + B*H) for the dense layers plus 2*2*S*B for the attention scores
// and the weighted sum.

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "autodistill/status.hpp"

namespace autodistill {

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
};

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
  for (int64_t* v :
       {&a.num_blocks, &a.hidden_size, &a.bottleneck_size, &a.num_heads, &a.intermediate_size,
        &a.num_stacked_ffn, &a.vocab_size, &a.max_positions, &a.type_vocab_size}) {
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
  const wide_count H = a.hidden_size;
  return (wide_count{a.vocab_size} + a.max_positions + a.type_vocab_size) * H + 2 * H;
}

inline wide_count block_parameters(const StudentArch& a) {
  const wide_count H = a.hidden_size, B = a.bottleneck_size, I = a.intermediate_size;
  const wide_count in = H * B + B;
  const wide_count attention = 4 * (B * B + B) + 2 * B;
  const wide_count ffn = B * I + I + I * B + B + 2 * B;
  const wide_count out = B * H + H + 2 * H;
  const wide_count total = in + attention + a.num_stacked_ffn * ffn + out;
  return total;
}

inline wide_count head_parameters(const StudentArch& a) {
  const wide_count H = a.hidden_size;
  const wide_count mlm = H * H + H + 2 * H + a.vocab_size;
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
  const double dense = 2.0 * (H * B + 4.0 * B * B + F * 2.0 * B * I + B * H);
  const double attention = 2.0 * 2.0 * S * B;
  const double per_sequence_blocks = static_cast<double>(a.num_blocks) * S * (dense + attention);
  const double pooler = 2.0 * H * H;
  return per_sequence_blocks + pooler;
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
