#pragma once
// Examples in the data pipeline's state (byte_codec.hpp): what an
// ExampleStream and a BatchLoader hold in flight when a checkpoint is taken.

#include "autodistill/model/pretraining_examples.hpp"
#include "byte_codec.hpp"

namespace autodistill::model::detail {

inline void write_example(ByteWriter& w, const Example& e) {
  w.i32s(e.input_ids);
  w.i32s(e.token_type_ids);
  w.i32s(e.mlm_labels);
  w.i64(e.nsp_label);
}

// False when the bytes do not hold an example of at most `seq_len` tokens
// over a `vocab`-token vocabulary.
inline bool read_example(ByteReader& r, Example& e, int64_t vocab, int64_t seq_len) {
  e.input_ids = r.i32s();
  e.token_type_ids = r.i32s();
  e.mlm_labels = r.i32s();
  const int64_t nsp = r.i64();
  if (!r.ok() || (nsp != 0 && nsp != 1)) return false;
  e.nsp_label = static_cast<int32_t>(nsp);
  const size_t n = e.input_ids.size();
  if (n == 0 || static_cast<int64_t>(n) > seq_len || e.token_type_ids.size() != n ||
      e.mlm_labels.size() != n) {
    return false;
  }
  for (size_t i = 0; i < n; ++i) {
    if (e.input_ids[i] < 0 || e.input_ids[i] >= vocab) return false;
    if (e.token_type_ids[i] != 0 && e.token_type_ids[i] != 1) return false;
    if (e.mlm_labels[i] != -100 && (e.mlm_labels[i] < 0 || e.mlm_labels[i] >= vocab)) return false;
  }
  return true;
}

}  // namespace autodistill::model::detail
