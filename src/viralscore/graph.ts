/**
 * Export of a trained network as one ONNX graph through the engine's graph mode, and its int8 variant
 * (weights of the larger matmuls quantised per column, activations on the fly). The scorer runs these.
 */
import { quantizeModel, tensor, trace } from '../tensor/index.js';
import type { Tensor, TracedModel } from '../tensor/index.js';
import type { ViralScoreModel } from './model.js';

/** Input and output names of the exported graph. */
export const graphInputs = ['x', 'present'] as const;
export const graphOutputs = ['v', 'subscores', 'contributions'] as const;

/** A traced model from stored bytes. */
export function tracedFromBytes(bytes: Uint8Array): TracedModel {
  return { bytes, inputNames: [...graphInputs], outputNames: [...graphOutputs] };
}

/** Traces `net` into a graph with a dynamic batch dimension, and quantises a copy to int8. */
export function exportGraphs(net: ViralScoreModel): { graph: TracedModel; graphInt8: TracedModel } {
  const groups = net.config.groupDims.length;
  const rows = 2;
  const x = tensor(new Float32Array(rows * net.inputWidth), [rows, net.inputWidth]);
  const present = tensor(new Float32Array(rows * groups).fill(1), [rows, groups]);
  net.eval();
  const graph = trace(
    (a, b) => {
      const out = net.forward(a as Tensor, b as Tensor);
      return [out.v, out.subscores, out.contributions];
    },
    [x, present],
    {
      inputNames: [...graphInputs],
      outputNames: [...graphOutputs],
      dims: { x: ['rows', net.inputWidth], present: ['rows', groups] },
    },
  );
  return { graph, graphInt8: quantizeModel(graph, { bits: 8 }).model };
}
