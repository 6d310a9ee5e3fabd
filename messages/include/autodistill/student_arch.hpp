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

// Every size positive, heads divide the bottleneck. kInvalidArgument naming
// the factor otherwise.
inline Status validate(const StudentArch& a) {
  const std::pair<const char*, int64_t> sizes[] = {{"num_blocks", a.num_blocks},
                                                   {"hidden_size", a.hidden_size},
                                                   {"bottleneck_size", a.bottleneck_size},
                                                   {"num_heads", a.num_heads},
                                                   {"intermediate_size", a.intermediate_size},
                                                   {"num_stacked_ffn", a.num_stacked_ffn},
                                                   {"vocab_size", a.vocab_size},
                                                   {"max_positions", a.max_positions},
                                                   {"type_vocab_size", a.type_vocab_size}};
  for (const auto& [name, value] : sizes) {
    if (value <= 0) {
      return Status(Code::kInvalidArgument, std::string(name) + " must be positive", name);
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

inline int64_t embedding_parameters(const StudentArch& a) {
  const int64_t H = a.hidden_size;
  return (a.vocab_size + a.max_positions + a.type_vocab_size) * H + 2 * H;
}

inline int64_t block_parameters(const StudentArch& a) {
  const int64_t H = a.hidden_size, B = a.bottleneck_size, I = a.intermediate_size;
  const int64_t in = H * B + B;
  const int64_t attention = 4 * (B * B + B) + 2 * B;
  const int64_t ffn = B * I + I + I * B + B + 2 * B;
  const int64_t out = B * H + H + 2 * H;
  return in + attention + a.num_stacked_ffn * ffn + out;
}

inline int64_t head_parameters(const StudentArch& a) {
  const int64_t H = a.hidden_size;
  const int64_t mlm = H * H + H + 2 * H + a.vocab_size;
  const int64_t nsp = H * H + H + 2 * H + 2;
  return mlm + nsp;
}

inline int64_t parameter_count(const StudentArch& a) {
  return embedding_parameters(a) + a.num_blocks * block_parameters(a) + head_parameters(a);
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
  auto set = [&](const char* name, int64_t* field) {
    auto it = factors.find(name);
    if (it != factors.end()) *field = static_cast<int64_t>(it->second);
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
