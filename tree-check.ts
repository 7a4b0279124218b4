import { ViralScoreRegistry } from './src/viralscore/index.js';
import { servingGraph, tracedFromBytes } from './src/viralscore/graph.js';
import { OrtSession } from './src/tensor/ort-backend.js';
import { quantizeModel } from './src/tensor/index.js';
import { Random } from './src/core/index.js';
const reg = new ViralScoreRegistry('/tmp/sw/w1');
const loaded = reg.load();
const exported = tracedFromBytes(reg.graph(loaded.version, 'float'));
const { model: served, report } = servingGraph(exported);
console.log(report);
const width = 112, g = 7, rows = 256;
const rng = new Random(5);
const x = Float32Array.from({ length: rows * width }, (_, i) => (i % 17 === 0 ? 40 : 1.5 * rng.normal()));
const present = Float32Array.from({ length: rows * g }, () => (rng.next() < 0.8 ? 1 : 0));
const feed = (r: number) => [{ dtype: 'float32' as const, shape: [r, width], data: x.subarray(0, r * width) }, { dtype: 'float32' as const, shape: [r, g], data: present.subarray(0, r * g) }];
const a = new OrtSession(exported.bytes, exported.inputNames, exported.outputNames, 1);
const b = new OrtSession(served.bytes, served.inputNames, served.outputNames, 1);
const q = quantizeModel(served, { bits: 8 }).model;
const c = new OrtSession(q.bytes, q.inputNames, q.outputNames, 1);
const ra = a.run(feed(rows)), rb = b.run(feed(rows)), rc = c.run(feed(rows));
let d = 0, dq = 0; ra.forEach((t, o) => t.data.forEach((v, i) => { d = Math.max(d, Math.abs(Number(v) - Number(rb[o].data[i]))); dq = Math.max(dq, Math.abs(Number(v) - Number(rc[o].data[i]))); }));
console.log('max diff', d, 'int8', dq);
for (const [name, s] of [['exported', a], ['served', b], ['int8', c]] as const) {
  for (const r of [16, 256]) {
    for (let i = 0; i < 10; i++) s.run(feed(r));
    const t = performance.now(); const n = r === 16 ? 400 : 60;
    for (let i = 0; i < n; i++) s.run(feed(r));
    console.log(name, r, ((performance.now() - t) / n).toFixed(3), 'ms');
  }
}
