import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, IoError, writeFileAtomic } from '../core/index.js';
import type { Module } from './module.js';
import { Gpt, resolveGptConfig } from './models/gpt.js';
import type { GptConfig } from './models/gpt.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';

/** The weights file inside a model directory. */
export const WEIGHTS_FILE = 'model.safetensors';
/** The config file inside a model directory. */
export const CONFIG_FILE = 'config.json';

/** A model's saved configuration: the architecture name and its fields. */
export type SavedConfig = { architecture: string } & Record<string, unknown>;

/**
 * Writes `module`'s weights to `dir/model.safetensors` and `config` to `dir/config.json`, both atomically;
 * the config is also stored in the safetensors `__metadata__` so that the weights file alone is enough.
 */
export function saveWeights(dir: string, module: Module, config: SavedConfig): void {
  const json = JSON.stringify(config);
  saveSafetensors(join(dir, WEIGHTS_FILE), module.stateDict(), { format: 'tkllm', config: json });
  writeFileAtomic(join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

/** Reads `dir/config.json`, checking that it names `architecture` when given. */
export function readConfig(dir: string, architecture?: string): SavedConfig {
  const path = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IoError(`could not read ${path}: ${(cause as Error).message}`, { cause });
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  if (
    typeof config !== 'object' ||
    config === null ||
    typeof (config as SavedConfig).architecture !== 'string'
  )
    throw new ConfigError(`${path} must be an object with a string \`architecture\``);
  const saved = config as SavedConfig;
  if (architecture !== undefined && saved.architecture !== architecture)
    throw new ConfigError(`${path} holds a "${saved.architecture}" model, expected "${architecture}"`);
  return saved;
}

/** Loads `dir/model.safetensors` into `module` (strict: every name and shape must match). */
export function loadWeights(dir: string, module: Module): void {
  const path = join(dir, WEIGHTS_FILE);
  const { tensors } = loadSafetensors(path);
  try {
    module.loadStateDict(tensors);
  } catch (cause) {
    throw new ConfigError(`${path} does not fit the model: ${(cause as Error).message}`, { cause });
  }
}

/** Saves a GPT to `dir` (weights and config). */
export function saveModel(dir: string, model: Gpt): void {
  saveWeights(dir, model, { architecture: 'gpt', ...model.config });
}

/**
 * Rebuilds the GPT saved in `dir` from its config and loads its weights; outputs equal the saved model's.
 * @example const model = loadModel('tkllm-data/models/creator-42');
 */
export function loadModel(dir: string): Gpt {
  const { architecture: _architecture, ...fields } = readConfig(dir, 'gpt');
  const config = resolveGptConfig(fields as unknown as GptConfig);
  const model = new Gpt(config);
  loadWeights(dir, model);
  return model;
}
