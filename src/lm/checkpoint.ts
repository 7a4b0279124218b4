import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, writeFileAtomic } from '../core/index.js';
import { loadSafetensors, loadWeights, saveSafetensors } from '../nn/index.js';
import type { AdamWState, TensorRecords } from '../nn/index.js';
import type { LmModel } from './model.js';
import type { ResumableAdamW } from './optimizer.js';

/** What a checkpoint records besides weights and optimiser moments. */
export interface CheckpointState {
  step: number;
  evaluations: { step: number; perplexity: number }[];
  /** GSPF's current layer selection, or null when every layer trains. */
  selected: string[] | null;
}

const LATEST = 'latest.json';

/**
 * Writes a checkpoint to `dir/step-N/` (weights, optimiser moments, state), then points `dir/latest.json`
 * at it with an atomic rename, then removes older checkpoints. A kill at any moment leaves `latest.json`
 * naming a complete checkpoint.
 */
export function saveCheckpoint(
  dir: string,
  model: LmModel,
  optimizer: ResumableAdamW,
  state: CheckpointState,
): void {
  const name = `step-${String(state.step).padStart(7, '0')}`;
  const target = join(dir, name);
  mkdirSync(target, { recursive: true });
  model.save(target);
  const records: TensorRecords = {};
  const optimizerSteps: Record<string, number> = {};
  for (const [param, p] of model.namedParameters()) {
    const s = optimizer.stateOf(p);
    if (s === undefined) continue;
    records[`${param}.m`] = { dtype: 'F32', shape: [s.m.length], data: s.m };
    records[`${param}.v`] = { dtype: 'F32', shape: [s.v.length], data: s.v };
    optimizerSteps[param] = s.step;
  }
  saveSafetensors(join(target, 'optimizer.safetensors'), records);
  writeFileAtomic(join(target, 'state.json'), JSON.stringify({ ...state, optimizerSteps }));
  writeFileAtomic(join(dir, LATEST), JSON.stringify({ step: state.step, dir: name }));
  for (const entry of readdirSync(dir))
    if (entry.startsWith('step-') && entry !== name)
      rmSync(join(dir, entry), { recursive: true, force: true });
}

/**
 * Loads the latest checkpoint in `dir` into `model` and `optimizer`; null when there is none.
 * The model must have the checkpoint's architecture.
 */
export function loadCheckpoint(
  dir: string,
  model: LmModel,
  optimizer: ResumableAdamW,
): CheckpointState | null {
  const latestPath = join(dir, LATEST);
  if (!existsSync(latestPath)) return null;
  const latest = JSON.parse(readFileSync(latestPath, 'utf8')) as { step: number; dir: string };
  const target = join(dir, latest.dir);
  loadWeights(target, model);
  const state = JSON.parse(readFileSync(join(target, 'state.json'), 'utf8')) as CheckpointState & {
    optimizerSteps: Record<string, number>;
  };
  const { tensors } = loadSafetensors(join(target, 'optimizer.safetensors'));
  const params = new Map(model.namedParameters());
  for (const [name, step] of Object.entries(state.optimizerSteps)) {
    const p = params.get(name);
    const m = tensors[`${name}.m`]?.data;
    const v = tensors[`${name}.v`]?.data;
    if (p === undefined || !(m instanceof Float32Array) || !(v instanceof Float32Array))
      throw new ConfigError(
        `checkpoint ${target} has optimiser state for "${name}" that does not fit the model`,
      );
    const restored: AdamWState = { step, m, v };
    optimizer.restore(p, restored);
  }
  return { step: state.step, evaluations: state.evaluations, selected: state.selected };
}
