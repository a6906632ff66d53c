// ort_run.js — the inference peer: a model exported to ONNX
// (bench/torch_models.py MODEL onnx BATCH FILE) run by ONNX Runtime's CPU
// provider through npm's onnxruntime-node (installed under build/bench by
// tools/setup.sh bench; bench/run.sh sets NODE_PATH to it).
//
//   node bench/ort_run.js FILE.onnx DIMS THREADS REPS
//
// DIMS is the input's shape, batch first, comma-separated (3 for NCHW
// images: 32,3,32,32); the input is random floats in [-1, 1]. The session
// runs THREADS intra-op threads and one inter-op thread, sequential
// execution, every graph optimization. Prints the median over REPS blocks
// of at least 20 ms of microseconds a run, and the fastest block, like
// bench/run_nnc.c.
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [file, dims, threads, reps] = process.argv.slice(2);
  if (!reps) {
    console.error('usage: node ort_run.js FILE.onnx DIMS THREADS REPS');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const shape = dims.split(',').map(Number);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let seed = 1;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = (seed / 2147483648) * 2 - 1;
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  let t0 = now(), k = 0;
  while (now() - t0 < 0.02 || k < 3) { // warm up for a block, which sizes the blocks
    await session.run(feeds);
    k++;
  }
  const blocks = [];
  for (let r = 0; r < Number(reps); r++) {
    const b0 = now();
    for (let i = 0; i < k; i++) await session.run(feeds);
    blocks.push(((now() - b0) / k) * 1e6);
  }
  blocks.sort((a, b) => a - b);
  console.log(`us_per_step=${blocks[Math.floor(reps / 2)].toFixed(3)} min=${blocks[0].toFixed(3)}`);
}

main().catch((e) => {
  console.error(`ort_run: ${e.message}`);
  process.exit(1);
});
