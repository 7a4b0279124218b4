/**
 * Versions of a trained TKLLM: every model that was served (the first one, each `lm update`, each retrain
 * after versions began) is kept whole under `<modelDir>/versions/vN/` — weights, config, tokenizer and
 * creators — so that any of them can be served again, with a different tokenizer too. `versions/active`
 * names the version the files in `<modelDir>` are a copy of.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ModelStateError, NotFoundError, writeFileAtomic } from '../core/index.js';

/** A trained LM's tokenizer and its creators by style row, beside the model's config and weights. */
export const TOKENIZER_FILE = 'tokenizer.json';
export const CREATORS_FILE = 'creators.json';

const VERSIONS = 'versions';
const ACTIVE = 'active';
// Written before an activation copies files and removed after it: a crash in between leaves it behind,
// and the next use of the model directory finishes that activation (copying again is harmless).
const ACTIVATING = 'activating';
/** What a version holds beside its files: how it came to be. */
const VERSION_FILE = 'version.json';
// Versions saved before version.json existed recorded their parent here (lm update).
const UPDATE_FILE = 'update.json';

/** How a version came to be. */
export type LmVersionKind = 'initial' | 'train' | 'update';

/** One saved version of the LM, as `lmVersions` lists it. */
export interface LmVersion {
  version: string;
  kind: LmVersionKind | null;
  /** The version that was served when this one was made (null for the first). */
  parent: string | null;
  createdAt: string | null;
  /** Anything the maker recorded (an update's perplexities, its guard's verdict). */
  details: Record<string, unknown>;
}

/** The files that make a served model: its weights and config, its tokenizer and its creators. */
function servedFiles(dir: string): string[] {
  return readdirSync(dir).filter(
    (f) => f === 'config.json' || f.endsWith('.safetensors') || f === TOKENIZER_FILE || f === CREATORS_FILE,
  );
}

const versionsRoot = (modelDir: string) => join(modelDir, VERSIONS);

function versionNames(modelDir: string): string[] {
  const root = versionsRoot(modelDir);
  return existsSync(root)
    ? readdirSync(root)
        .filter((n) => /^v[1-9][0-9]*$/.test(n))
        .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    : [];
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * The saved versions, oldest first, and the active one (the newest when no version was ever activated).
 * @example const { versions, active } = lmVersions('tkllm-data/models/lm');
 */
export function lmVersions(modelDir: string): { versions: LmVersion[]; active: string | null } {
  finishLmActivation(modelDir);
  const names = versionNames(modelDir);
  const activeFile = join(versionsRoot(modelDir), ACTIVE);
  const active = existsSync(activeFile) ? readFileSync(activeFile, 'utf8').trim() : (names.at(-1) ?? null);
  const versions = names.map((version): LmVersion => {
    const dir = join(versionsRoot(modelDir), version);
    const { kind, parent, createdAt, ...details } = {
      ...readJson(join(dir, UPDATE_FILE)),
      ...readJson(join(dir, VERSION_FILE)),
    };
    return {
      version,
      kind: kind === 'initial' || kind === 'train' || kind === 'update' ? kind : null,
      parent: typeof parent === 'string' ? parent : null,
      createdAt: typeof createdAt === 'string' ? createdAt : null,
      details,
    };
  });
  return { versions, active };
}

/** Finishes an activation that a crash interrupted (see ACTIVATING); a no-op otherwise. */
export function finishLmActivation(modelDir: string): void {
  const pending = join(versionsRoot(modelDir), ACTIVATING);
  if (existsSync(pending)) activateLmVersion(modelDir, readFileSync(pending, 'utf8').trim());
}

/**
 * Serves `version`: copies its files over those in `modelDir` (each written aside and renamed) and marks
 * it active. A crash midway is finished by the next `lmVersions`, `activateLmVersion` or `loadTrainedLm`.
 */
export function activateLmVersion(modelDir: string, version: string): void {
  const dir = join(versionsRoot(modelDir), version);
  if (!/^v[1-9][0-9]*$/.test(version) || !existsSync(dir))
    throw new NotFoundError(
      `no LM version "${version}" in ${versionsRoot(modelDir)} (versions: ${versionNames(modelDir).join(', ') || 'none'})`,
    );
  writeFileAtomic(join(versionsRoot(modelDir), ACTIVATING), `${version}\n`);
  for (const f of servedFiles(dir)) writeFileAtomic(join(modelDir, f), readFileSync(join(dir, f)));
  writeFileAtomic(join(versionsRoot(modelDir), ACTIVE), `${version}\n`);
  rmSync(join(versionsRoot(modelDir), ACTIVATING), { force: true });
}

/**
 * Saves a new version (the next vN) whose files `write` puts into the directory it is given, with
 * `version.json` recording its kind, its parent (the active version) and `details`; the directory is
 * written aside and renamed into place, so a crash leaves no half version. Does not activate it.
 */
export function saveLmVersion(
  modelDir: string,
  kind: LmVersionKind,
  write: (dir: string) => void,
  details: Record<string, unknown> = {},
): string {
  const root = versionsRoot(modelDir);
  mkdirSync(root, { recursive: true });
  const { versions, active } = lmVersions(modelDir);
  const last = versions.at(-1)?.version;
  const version = `v${last === undefined ? 1 : Number(last.slice(1)) + 1}`;
  const tmp = join(root, `.${version}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  write(tmp);
  writeFileAtomic(
    join(tmp, VERSION_FILE),
    `${JSON.stringify({ kind, parent: active, createdAt: new Date().toISOString(), ...details }, null, 2)}\n`,
  );
  renameSync(tmp, join(root, version));
  return version;
}

/** Saves the model served in `modelDir` as a new version and marks it active (its files are already there). */
export function snapshotLm(
  modelDir: string,
  kind: LmVersionKind,
  details: Record<string, unknown> = {},
): string {
  const version = saveLmVersion(
    modelDir,
    kind,
    (dir) => {
      for (const f of servedFiles(modelDir)) cpSync(join(modelDir, f), join(dir, f));
    },
    details,
  );
  writeFileAtomic(join(versionsRoot(modelDir), ACTIVE), `${version}\n`);
  return version;
}

/**
 * Serves an earlier version again: `to`, or else the active version's parent (the version served before it),
 * or else the one before it in order. Nothing is deleted, so a rollback can itself be undone with `to`.
 */
export function rollbackLm(modelDir: string, to?: string): { from: string; to: string } {
  const { versions, active } = lmVersions(modelDir);
  if (active === null)
    throw new ModelStateError(
      `no LM versions in ${versionsRoot(modelDir)}: versions begin with the first \`tkllm lm update\``,
    );
  const names = versions.map((v) => v.version);
  const parent = versions.find((v) => v.version === active)?.parent;
  const target =
    to ??
    (parent !== null && parent !== undefined && names.includes(parent)
      ? parent
      : names[names.indexOf(active) - 1]);
  if (target === undefined)
    throw new ModelStateError(
      `${active} is the oldest LM version in ${versionsRoot(modelDir)}: nothing to roll back to`,
    );
  activateLmVersion(modelDir, target);
  return { from: active, to: target };
}
