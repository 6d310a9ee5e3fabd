// Tokenizes texts with transformers.js's AutoTokenizer loaded from a local
// directory (tokenizer.json + tokenizer_config.json; remote models
// disallowed), as a check of the tokenizer files a student is delivered with.
//
//   node tokenize.mjs MODEL_DIR TEXTS.json OUT.json
//
// TEXTS.json: an array of strings or [a, b] pairs. OUT.json: per text
// {"input_ids": [...], "token_type_ids": [...]} with the special tokens the
// post-processor adds. Exit 0, or 1 with the error on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';

try {
  const [modelDir, textsPath, outPath] = process.argv.slice(2);
  if (!outPath) throw new Error('usage: node tokenize.mjs MODEL_DIR TEXTS.json OUT.json');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(path.resolve(modelDir));
  const tokenizer = await AutoTokenizer.from_pretrained(path.basename(path.resolve(modelDir)));
  const out = [];
  for (const text of JSON.parse(readFileSync(textsPath, 'utf8'))) {
    const [a, b] = Array.isArray(text) ? text : [text, null];
    const encoded = b === null ? tokenizer(a) : tokenizer(a, { text_pair: b });
    out.push({
      input_ids: Array.from(encoded.input_ids.data, Number),
      token_type_ids: Array.from(encoded.token_type_ids.data, Number),
    });
  }
  writeFileSync(outPath, JSON.stringify(out));
} catch (e) {
  console.error(`tokenize: ${e.stack ?? e}`);
  process.exit(1);
}
