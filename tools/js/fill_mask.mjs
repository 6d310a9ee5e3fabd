// Runs transformers.js's fill-mask pipeline on a student directory
// (config.json, tokenizer files and onnx/model.onnx; remote models
// disallowed) and prints its predictions as JSON.
//
//   node fill_mask.mjs MODEL_DIR "text with [MASK]" [TOP_K]
//
// Prints [{"score": s, "token": id, "token_str": "...", "sequence": "..."}, ...].
// Exit 0, or 1 with the error on stderr.
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';

try {
  const [modelDir, text, topK] = process.argv.slice(2);
  if (!text) throw new Error('usage: node fill_mask.mjs MODEL_DIR TEXT [TOP_K]');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(path.resolve(modelDir));
  const unmasker = await pipeline('fill-mask', path.basename(path.resolve(modelDir)),
                                  { dtype: 'fp32', device: 'cpu' });
  const predictions = await unmasker(text, { top_k: Number(topK ?? 5) });
  console.log(JSON.stringify(predictions));
} catch (e) {
  console.error(`fill_mask: ${e.stack ?? e}`);
  process.exit(1);
}
