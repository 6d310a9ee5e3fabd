#include "autodistill/model/batch.hpp"

#include <ATen/ATen.h>

namespace autodistill::model {

Batch Batch::to(const at::Device& device) const {
  Batch b;
  b.inputs.input_ids = inputs.input_ids.to(device);
  b.inputs.token_type_ids = inputs.token_type_ids.to(device);
  b.inputs.attention_mask = inputs.attention_mask.to(device);
  b.mlm_positions = mlm_positions.to(device);
  b.mlm_labels = mlm_labels.to(device);
  b.nsp_labels = nsp_labels.to(device);
  b.tokens = tokens;
  return b;
}

Batch Batch::rows(int64_t begin, int64_t end) const {
  const int64_t seq_len = inputs.input_ids.size(1);
  Batch b;
  b.inputs.input_ids = inputs.input_ids.narrow(0, begin, end - begin);
  b.inputs.token_type_ids = inputs.token_type_ids.narrow(0, begin, end - begin);
  b.inputs.attention_mask = inputs.attention_mask.narrow(0, begin, end - begin);
  const at::Tensor keep = (mlm_positions >= begin * seq_len) & (mlm_positions < end * seq_len);
  b.mlm_positions = mlm_positions.masked_select(keep) - begin * seq_len;
  b.mlm_labels = mlm_labels.masked_select(keep);
  b.nsp_labels = nsp_labels.narrow(0, begin, end - begin);
  b.tokens = b.inputs.attention_mask.sum().item<int64_t>();
  return b;
}

Batch collate(const std::vector<Example>& examples, int64_t seq_len, int32_t pad_id) {
  const int64_t n = static_cast<int64_t>(examples.size());
  at::Tensor ids = at::full({n, seq_len}, pad_id, at::kLong);
  at::Tensor types = at::zeros({n, seq_len}, at::kLong);
  at::Tensor mask = at::zeros({n, seq_len}, at::kLong);
  at::Tensor nsp = at::empty({n}, at::kLong);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto types_a = types.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  std::vector<int64_t> positions, labels;
  Batch b;
  for (int64_t i = 0; i < n; ++i) {
    const Example& e = examples[static_cast<size_t>(i)];
    const int64_t length = std::min<int64_t>(seq_len, static_cast<int64_t>(e.input_ids.size()));
    for (int64_t j = 0; j < length; ++j) {
      ids_a[i][j] = e.input_ids[static_cast<size_t>(j)];
      types_a[i][j] = e.token_type_ids[static_cast<size_t>(j)];
      mask_a[i][j] = 1;
      if (e.mlm_labels[static_cast<size_t>(j)] >= 0) {
        positions.push_back(i * seq_len + j);
        labels.push_back(e.mlm_labels[static_cast<size_t>(j)]);
      }
    }
    nsp[i] = e.nsp_label;
    b.tokens += length;
  }
  b.inputs.input_ids = ids;
  b.inputs.token_type_ids = types;
  b.inputs.attention_mask = mask;
  b.mlm_positions = at::tensor(positions, at::kLong);
  b.mlm_labels = at::tensor(labels, at::kLong);
  b.nsp_labels = nsp;
  return b;
}

BatchLoader::BatchLoader(ExampleStream stream, int64_t batch_size, int64_t seq_len, int32_t pad_id,
                         size_t capacity)
    : stream_(std::move(stream)),
      batch_size_(batch_size),
      seq_len_(seq_len),
      pad_id_(pad_id),
      capacity_(std::max<size_t>(1, capacity)),
      thread_([this] { produce(); }) {}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BatchLoader::produce() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || (!paused_ && ready_.size() < capacity_); });
      if (stop_) return;
      producing_ = true;
    }
    std::vector<Example> examples;
    Status failed;
    for (int64_t i = 0; i < batch_size_ && failed; ++i) {
      auto e = stream_.next();
      if (e) {
        examples.push_back(std::move(e.value()));
      } else {
        failed = e.status();
      }
    }
    Batch batch;
    if (failed) batch = collate(examples, seq_len_, pad_id_);
    std::lock_guard<std::mutex> lock(mu_);
    producing_ = false;
    if (!failed) {
      error_ = failed;
      cv_.notify_all();
      return;
    }
    ready_.push_back({std::move(batch), std::move(examples)});
    cv_.notify_all();
  }
}

Result<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !ready_.empty() || !error_; });
  if (ready_.empty()) return error_;
  Batch b = std::move(ready_.front().batch);
  ready_.pop_front();
  cv_.notify_all();
  return b;
}

Result<std::string> BatchLoader::save_state() {
  std::unique_lock<std::mutex> lock(mu_);
  // The producer's lookahead is part of the state (the drawn examples and
  // the stream behind them), so it is made the same every time: wait until
  // the queue is full (or the stream has ended). A checkpoint's bytes then
  // depend only on the batches consumed, not on how far the producer got.
  cv_.wait(lock, [this] { return !producing_ && (ready_.size() >= capacity_ || !error_); });
  paused_ = true;
  Result<std::string> state = error_;
  if (error_) {
    std::vector<const Example*> drawn;
    for (const Ready& r : ready_) {
      for (const Example& e : r.examples) drawn.push_back(&e);
    }
    state = stream_.save_state(drawn);
  }
  paused_ = false;
  cv_.notify_all();
  return state;
}

Result<std::unique_ptr<BatchLoader>> BatchLoader::resume(ExampleStream stream, int64_t batch_size,
                                                         int64_t seq_len, int32_t pad_id,
                                                         std::string_view state, size_t capacity) {
  if (Status s = stream.restore_state(state); !s) return s;
  return std::make_unique<BatchLoader>(std::move(stream), batch_size, seq_len, pad_id, capacity);
}

Result<std::vector<Batch>> make_eval_batches(const Corpus& corpus,
                                             const WordPieceTokenizer& tokenizer,
                                             const ExampleOptions& options, int64_t num_batches,
                                             int64_t batch_size, uint64_t seed) {
  auto special = special_tokens(tokenizer.vocab());
  if (!special) return special.status();
  auto stream = ExampleStream::create(corpus, Split::kEval, tokenizer, options, seed);
  if (!stream) return stream.status();
  std::vector<Batch> batches;
  for (int64_t b = 0; b < num_batches; ++b) {
    std::vector<Example> examples;
    for (int64_t i = 0; i < batch_size; ++i) {
      auto e = stream->next();
      if (!e) return e.status();
      examples.push_back(std::move(e.value()));
    }
    batches.push_back(collate(examples, options.seq_len, special->pad));
  }
  return batches;
}

}  // namespace autodistill::model
