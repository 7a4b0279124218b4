import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  OrtSession,
  cachedSessionCount,
  encodeModel,
  nodeProto,
  runKernel,
  valueInfo,
} from './ort-backend.js';
import { singleNode } from './kernels.js';

function matmulModel(): Uint8Array {
  return encodeModel({
    name: 'g',
    node: [nodeProto({ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }, 'mm')],
    input: [valueInfo('a', 'float32', ['m', 'k']), valueInfo('b', 'float32', ['k', 'n'])],
    output: [valueInfo('y', 'float32')],
  });
}

describe('the synchronous native binding', () => {
  it('returns what the public asynchronous InferenceSession returns', async () => {
    // The assumption this backend rests on: onnxruntime-node's binding.InferenceSession.run is the
    // synchronous call behind the public async run, with the same feeds and the same outputs.
    const a = Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5);
    const b = Float32Array.from({ length: 20 }, (_, i) => Math.sin(i));
    const sync = new OrtSession(matmulModel(), ['a', 'b'], ['y']).run([
      { dtype: 'float32', shape: [3, 4], data: a },
      { dtype: 'float32', shape: [4, 5], data: b },
    ])[0];
    const session = await ort.InferenceSession.create(matmulModel());
    const result = await session.run({
      a: new ort.Tensor('float32', a, [3, 4]),
      b: new ort.Tensor('float32', b, [4, 5]),
    });
    const expected = result.y;
    expect(sync.shape).toEqual(expected.dims);
    expect(Array.from(sync.data as Float32Array)).toEqual(Array.from(expected.data as Float32Array));
    await session.release();
  });

  it('serves every shape of a given rank from one cached session', () => {
    const before = cachedSessionCount();
    const kernel = singleNode('Relu', 1);
    for (const n of [1, 5, 17]) {
      const out = runKernel(kernel, [
        { dtype: 'float32', shape: [n, 2], data: new Float32Array(2 * n).fill(-1) },
      ]);
      expect(out[0].shape).toEqual([n, 2]);
    }
    expect(cachedSessionCount() - before).toBeLessThanOrEqual(1);
  });

  it('leaves input arrays untouched (inputs are shared, not copied back)', () => {
    const data = new Float32Array([-1, 2, -3]);
    const out = runKernel(singleNode('Relu', 1), [{ dtype: 'float32', shape: [3], data }]);
    expect(Array.from(data)).toEqual([-1, 2, -3]);
    expect(Array.from(out[0].data as Float32Array)).toEqual([0, 2, 0]);
  });
});
