#pragma once
// Batches of pre-training examples as tensors, prepared off the training
// thread by a BatchLoader, and the fixed held-out evaluation set.
//
// Thread-safety: BatchLoader::next() is called by one consumer thread; the
// loader's own thread produces. Batches are independent values.

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "autodistill/model/forward.hpp"
#include "autodistill/model/pretraining_examples.hpp"
#include "autodistill/status.hpp"

namespace autodistill::model {

struct Batch {
  // [N, S] int64, padded with [PAD] (attention_mask 0) to S = seq_len.
  ModelInputs inputs;
  // int64 [M]: flattened positions (row * S + column) chosen for MLM, ascending.
  at::Tensor mlm_positions;
  // int64 [M]: the original token at each of them.
  at::Tensor mlm_labels;
  // int64 [N]: 0 when B follows A, 1 when B is random.
  at::Tensor nsp_labels;
  // Real (unpadded) tokens in the batch.
  int64_t tokens = 0;

  // The same batch on `device`.
  Batch to(const at::Device& device) const;
  // Rows [begin, end) as a batch of their own (a data-parallel rank's
  // shard): mlm_positions renumbered, tokens recounted.
  Batch rows(int64_t begin, int64_t end) const;
};

// Pads and stacks `examples` (each at most seq_len long) into a CPU batch.
Batch collate(const std::vector<Example>& examples, int64_t seq_len, int32_t pad_id);

// Produces batches from an ExampleStream on a background thread, keeping up
// to `capacity` ready. Deterministic: batch i is the same for the same stream.
class BatchLoader {
 public:
  BatchLoader(ExampleStream stream, int64_t batch_size, int64_t seq_len, int32_t pad_id,
              size_t capacity = 4);
  // Stops and joins the producer.
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch (waits for the producer), or the stream's error (then
  // every later call returns it too).
  Result<Batch> next();

  // The position after the batches next() has returned (the stream's
  // ExampleStream::save_state with the batches made ahead as drawn
  // examples). Pauses the producer while it copies. The stream's error when
  // the producer failed.
  Result<std::string> save_state();
  // A loader over `stream` that continues at `state` (from save_state() of a
  // loader with the same stream arguments, batch size and seq_len): its
  // batches are the ones the saved loader would have returned next.
  // kInvalidArgument (field "data_state") for a state that does not fit.
  static Result<std::unique_ptr<BatchLoader>> resume(ExampleStream stream, int64_t batch_size,
                                                     int64_t seq_len, int32_t pad_id,
                                                     std::string_view state, size_t capacity = 4);

 private:
  void produce();
  struct Ready {
    Batch batch;
    std::vector<Example> examples;  // what it was made of, for save_state()
  };

  ExampleStream stream_;
  const int64_t batch_size_;
  const int64_t seq_len_;
  const int32_t pad_id_;
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Ready> ready_;
  Status error_;
  bool stop_ = false;
  bool paused_ = false;     // save_state() is reading the stream
  bool producing_ = false;  // the producer is drawing from the stream
  std::thread thread_;
};

// The first `num_batches` batches of the evaluation split's stream for
// `seed`: the same set for every call with the same arguments.
Result<std::vector<Batch>> make_eval_batches(const Corpus& corpus,
                                             const WordPieceTokenizer& tokenizer,
                                             const ExampleOptions& options, int64_t num_batches,
                                             int64_t batch_size, uint64_t seed);

}  // namespace autodistill::model
