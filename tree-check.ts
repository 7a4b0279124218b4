import { ViralScoreRegistry } from './src/viralscore/index.js';
import { servingGraph, tracedFromBytes } from './src/viralscore/graph.js';
import { OrtSession } from './src/tensor/ort-backend.js';
import { Random } from './src/core/index.js';
const reg = new ViralScoreRegistry('/tmp/sw/w1');
const loaded = reg.load();
const { model: served } = servingGraph(tracedFromBytes(reg.graph(loaded.version, 'float')));
const width = 112, g = 7, rows = 512;
const rng = new Random(5);
const x = Float32Array.from({ length: rows * width }, () => 1.5 * rng.normal());
const present = Float32Array.from({ length: rows * g }, () => (rng.next() < 0.8 ? 1 : 0));
const feed = (r: number) => [{ dtype: 'float32' as const, shape: [r, width], data: x.subarray(0, r * width) }, { dtype: 'float32' as const, shape: [r, g], data: present.subarray(0, r * g) }];
for (const arena of [false, true]) {
const b = new OrtSession(served.bytes, served.inputNames, served.outputNames, 1, { arena });
for (const r of [1, 8, 16, 32, 64, 128, 256, 512]) {
  for (let i = 0; i < 10; i++) b.run(feed(r));
  const n = Math.max(20, Math.round(4000 / r));
  const t = performance.now();
  for (let i = 0; i < n; i++) b.run(feed(r));
  const ms = (performance.now() - t) / n;
  console.log('arena', arena, r, ms.toFixed(3), 'ms', ((ms / r) * 1000).toFixed(1), 'us/row');
}}
