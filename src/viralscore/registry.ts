/**
 * The model registry on disk: <data-dir>/models/viralscore/vN/ holds one trained estimator (config.json and
 * model.safetensors from src/nn, schema.json with the standardisation, metrics.json, training.json describing
 * the data, model.onnx and model.int8.onnx for serving). A version is written into a hidden temporary folder
 * and renamed into place, so a crash never leaves a half-written version; `active` names the served one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, IoError, NotFoundError, ValidationError, writeFileAtomic } from '../core/index.js';
import { loadWeights, readConfig, saveWeights } from '../nn/index.js';
import { Random } from '../core/index.js';
import type { TracedModel } from '../tensor/index.js';
import type { ViralScoreModelConfig } from './model.js';
import { checkConfig, ViralScoreModel } from './model.js';
import type { FeatureSchema } from './schema.js';

/** The architecture name in config.json. */
export const ARCHITECTURE = 'viralscore';
const SCHEMA_FILE = 'schema.json';
const METRICS_FILE = 'metrics.json';
const TRAINING_FILE = 'training.json';
/** The exported float graph and its int8 variant. */
export const ONNX_FILE = 'model.onnx';
export const ONNX_INT8_FILE = 'model.int8.onnx';
const ACTIVE_FILE = 'active';

/** What a version holds besides the weights. */
export interface ViralScoreArtifacts {
  model: ViralScoreModel;
  schema: FeatureSchema;
  /** Held-out or validation figures, history, best epoch. */
  metrics: Record<string, unknown>;
  /** The data it was trained on: lake path, rows, time range, label definition, options. */
  training: Record<string, unknown>;
  graph: TracedModel;
  graphInt8: TracedModel;
}

/** A version as listed. */
export interface RegistryEntry {
  version: string;
  dir: string;
  active: boolean;
  createdAt: string | null;
  metrics: Record<string, unknown>;
}

/** A version loaded back: the network with its weights, the schema and the files' contents. */
export interface LoadedViralScore {
  version: string;
  dir: string;
  model: ViralScoreModel;
  config: ViralScoreModelConfig;
  schema: FeatureSchema;
  metrics: Record<string, unknown>;
  training: Record<string, unknown>;
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IoError(`could not read ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError(`${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
}

const versionNumber = (name: string) => (/^v([1-9][0-9]*)$/.exec(name) ? Number(name.slice(1)) : null);

/**
 * Lists, saves, loads and activates the estimator versions under a data directory.
 * @example
 * const registry = new ViralScoreRegistry('./tkllm-data');
 * const { model, schema } = registry.load(); // the active version
 */
export class ViralScoreRegistry {
  /** The folder holding the versions. */
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'models', 'viralscore');
  }

  /** Version names, oldest first. */
  versions(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .filter((name) => versionNumber(name) !== null && existsSync(join(this.root, name, 'config.json')))
      .sort((a, b) => (versionNumber(a) as number) - (versionNumber(b) as number));
  }

  /** The active version: the one last activated, else the newest; null when there is none. */
  active(): string | null {
    const path = join(this.root, ACTIVE_FILE);
    if (existsSync(path)) {
      const name = readFileSync(path, 'utf8').trim();
      if (this.versions().includes(name)) return name;
    }
    return this.versions().at(-1) ?? null;
  }

  /** Every version with its metrics. */
  list(): RegistryEntry[] {
    const active = this.active();
    return this.versions().map((version) => {
      const dir = join(this.root, version);
      const training = existsSync(join(dir, TRAINING_FILE)) ? readJson(join(dir, TRAINING_FILE)) : {};
      return {
        version,
        dir,
        active: version === active,
        createdAt: typeof training.createdAt === 'string' ? training.createdAt : null,
        metrics: existsSync(join(dir, METRICS_FILE)) ? readJson(join(dir, METRICS_FILE)) : {},
      };
    });
  }

  /** The folder of `version`, checking it exists. */
  dirOf(version: string): string {
    if (!this.versions().includes(version))
      throw new NotFoundError(
        `no viralscore model "${version}" in ${this.root}; known: ${this.versions().join(', ') || 'none (run tkllm viralscore train)'}`,
      );
    return join(this.root, version);
  }

  /** Writes a new version (the next number) and makes it active unless `activate` is false. */
  save(artifacts: ViralScoreArtifacts, options: { activate?: boolean } = {}): string {
    mkdirSync(this.root, { recursive: true });
    const last = this.versions().at(-1);
    const version = `v${last === undefined ? 1 : (versionNumber(last) as number) + 1}`;
    const tmp = join(this.root, `.${version}.${process.pid}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      saveWeights(tmp, artifacts.model, { architecture: ARCHITECTURE, ...artifacts.model.config });
      writeFileAtomic(join(tmp, SCHEMA_FILE), `${JSON.stringify(artifacts.schema)}\n`);
      writeFileAtomic(join(tmp, METRICS_FILE), `${JSON.stringify(artifacts.metrics, null, 2)}\n`);
      writeFileAtomic(join(tmp, TRAINING_FILE), `${JSON.stringify(artifacts.training, null, 2)}\n`);
      writeFileAtomic(join(tmp, ONNX_FILE), artifacts.graph.bytes);
      writeFileAtomic(join(tmp, ONNX_INT8_FILE), artifacts.graphInt8.bytes);
      renameSync(tmp, join(this.root, version));
    } catch (cause) {
      rmSync(tmp, { recursive: true, force: true });
      throw cause instanceof IoError
        ? cause
        : new IoError(`could not save ${version}: ${(cause as Error).message}`, { cause });
    }
    if (options.activate ?? true) this.activate(version);
    return version;
  }

  /** Makes `version` the one `load()` and the scorer use by default. */
  activate(version: string): void {
    this.dirOf(version);
    writeFileAtomic(join(this.root, ACTIVE_FILE), `${version}\n`);
  }

  /** Loads `version` (default: the active one), rebuilding the network from its config. */
  load(version?: string): LoadedViralScore {
    const name = version ?? this.active();
    if (name === null)
      throw new NotFoundError(
        `no viralscore model in ${this.root}: train one first (tkllm viralscore train)`,
      );
    const dir = this.dirOf(name);
    const { architecture: _architecture, ...fields } = readConfig(dir, ARCHITECTURE);
    const config = fields as unknown as ViralScoreModelConfig;
    checkConfig(config);
    const schema = readJson(join(dir, SCHEMA_FILE)) as unknown as FeatureSchema;
    if (
      !Array.isArray(schema.groups) ||
      schema.groups.reduce((n, g) => n + g.features.length, 0) !== config.groupDims.reduce((a, b) => a + b, 0)
    )
      throw new ValidationError(`${join(dir, SCHEMA_FILE)} does not match the model's input width`);
    // The seed only fills the weights that loadWeights then overwrites.
    const model = new ViralScoreModel(config, new Random(0));
    loadWeights(dir, model);
    model.eval();
    return {
      version: name,
      dir,
      model,
      config,
      schema,
      metrics: readJson(join(dir, METRICS_FILE)),
      training: readJson(join(dir, TRAINING_FILE)),
    };
  }

  /** The bytes of `version`'s exported graph (float or int8). */
  graph(version: string, variant: 'float' | 'int8' = 'float'): Uint8Array {
    const path = join(this.dirOf(version), variant === 'int8' ? ONNX_INT8_FILE : ONNX_FILE);
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new IoError(`could not read ${path}: ${(cause as Error).message}`, { cause });
    }
  }
}
