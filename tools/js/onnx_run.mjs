// Runs an ONNX model in ONNX Runtime (onnxruntime-node) on inputs from a
// safetensors file and writes every output to another safetensors file.
//
//   node onnx_run.mjs MODEL.onnx INPUTS.safetensors OUTPUTS.safetensors
//
// Inputs: int64 tensors named as the model's inputs (the model's input
// names missing from the file are an error). Outputs: float32 tensors
// under the model's output names. Exit 0, or 1 with the error on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

function readSafetensors(path) {
  const data = readFileSync(path);
  const n = Number(data.readBigUInt64LE(0));
  const header = JSON.parse(data.subarray(8, 8 + n).toString('utf8'));
  const body = data.subarray(8 + n);
  const out = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = entry.data_offsets;
    const bytes = Uint8Array.prototype.slice.call(body, begin, end);
    if (entry.dtype === 'I64') {
      out[name] = new ort.Tensor('int64', new BigInt64Array(bytes.buffer), entry.shape);
    } else if (entry.dtype === 'F32') {
      out[name] = new ort.Tensor('float32', new Float32Array(bytes.buffer), entry.shape);
    } else {
      throw new Error(`${path}: tensor ${name} has dtype ${entry.dtype} (want I64 or F32)`);
    }
  }
  return out;
}

function writeSafetensors(path, tensors) {
  const header = {};
  const blobs = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const raw = Buffer.from(new Float32Array(t.data).buffer);
    header[name] = { dtype: 'F32', shape: t.dims, data_offsets: [offset, offset + raw.length] };
    blobs.push(raw);
    offset += raw.length;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  writeFileSync(path, Buffer.concat([size, Buffer.from(text), ...blobs]));
}

try {
  const [model, inputsPath, outputsPath] = process.argv.slice(2);
  if (!outputsPath) throw new Error('usage: node onnx_run.mjs MODEL.onnx INPUTS OUTPUTS');
  const session = await ort.InferenceSession.create(model);
  const inputs = readSafetensors(inputsPath);
  const feeds = {};
  for (const name of session.inputNames) {
    if (!(name in inputs)) throw new Error(`${inputsPath} lacks the model's input ${name}`);
    feeds[name] = inputs[name];
  }
  const results = await session.run(feeds);
  const out = {};
  for (const name of session.outputNames) out[name] = results[name];
  writeSafetensors(outputsPath, out);
  console.log(JSON.stringify({ inputs: session.inputNames, outputs: session.outputNames,
                               onnxruntime: ort.env.versions }));
} catch (e) {
  console.error(`onnx_run: ${e.message ?? e}`);
  process.exit(1);
}
