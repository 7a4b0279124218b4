import { ModelStateError, NotFoundError } from '../core/index.js';
import { generatePaths } from '../generate/index.js';
import { activateLmVersion, lmVersions } from '../lm/index.js';
import { ViralScoreRegistry } from '../viralscore/index.js';
import type { LakeGate } from './lake-gate.js';
import type { ServerMetrics } from './metrics.js';
import type { ScriptGenerator } from './models.js';
import type { ScoreService } from './score-service.js';
import type { SwitchableGenerator } from './script-generator.js';
import { openDraftScorer } from './viralscore-scorer.js';

/** Where a switch is logged (a request's logger). */
export interface SwitchLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * Switches what a serving process serves among the saved versions in its data directory: the estimator's
 * registry versions and the LM's. A switch opens the new model before anything changes, so a version that
 * fails to load leaves the served one in place; then the registry's (or the LM directory's) active version
 * follows, and the metrics. The generator reranks with the estimator it loaded, so it is opened again after
 * either switch; requests already running finish on the generator they started on. One switch runs at a
 * time (two would race to be the last `replace`).
 */
export class ModelSwitcher {
  readonly registry: ViralScoreRegistry;
  private readonly lmDir: string;
  private switching: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dataDir: string,
    private readonly served: {
      gate: LakeGate;
      metrics: ServerMetrics;
      scores: ScoreService;
      generator: SwitchableGenerator | undefined;
      openGenerator: (() => Promise<ScriptGenerator | undefined>) | undefined;
      /** Scoring threads of a newly opened estimator. */
      scoreThreads: number;
    },
  ) {
    this.registry = new ViralScoreRegistry(dataDir);
    this.lmDir = generatePaths(dataDir).lmDir;
  }

  /** The LM's saved versions and the active one. */
  lmVersions(): ReturnType<typeof lmVersions> {
    return lmVersions(this.lmDir);
  }

  /** Serves estimator `version` and makes it the registry's active one (404 for an unknown one). */
  scorer(version: string, log: SwitchLog): Promise<void> {
    return this.oneAtATime(async () => {
      const { gate, scores, metrics, scoreThreads } = this.served;
      this.registry.dirOf(version);
      const previous = scores.available ? scores.version : undefined;
      const opened = await openDraftScorer((work) => gate.use(work), this.dataDir, {
        version,
        threads: scoreThreads,
      });
      if (!opened) return;
      this.registry.activate(version);
      await scores.replace(opened.scorer, opened.close);
      if (previous !== undefined) metrics.modelInfo.remove({ kind: 'scorer', version: previous });
      metrics.modelInfo.set({ kind: 'scorer', version }, 1);
      log.info({ from: previous, to: version }, 'switched the ViralScore model');
      await this.reopenGenerator().catch((error: unknown) =>
        log.error({ err: error }, 'generation kept the previous estimator'),
      );
    });
  }

  /** Serves LM version `version` and makes it the LM directory's active one (404 for an unknown one). */
  lm(version: string, log: SwitchLog): Promise<void> {
    return this.oneAtATime(async () => {
      const { generator, openGenerator } = this.served;
      if (generator === undefined || openGenerator === undefined)
        throw new ModelStateError('this server has no language model loaded: there is none to switch');
      const { versions, active } = lmVersions(this.lmDir);
      if (!versions.some((v) => v.version === version))
        throw new NotFoundError(
          `no LM version "${version}" (versions: ${versions.map((v) => v.version).join(', ') || 'none'})`,
        );
      activateLmVersion(this.lmDir, version);
      try {
        await this.reopenGenerator();
      } catch (error) {
        // The served generator stays; so do the files it was loaded from.
        if (active !== null) activateLmVersion(this.lmDir, active);
        throw error;
      }
      log.info({ from: active, to: version }, 'switched the language model');
    });
  }

  private oneAtATime(work: () => Promise<void>): Promise<void> {
    const run = this.switching.then(work);
    this.switching = run.catch(() => {});
    return run;
  }

  /** Opens the generator again (the LM directory's and the registry's active models) and serves it. */
  private async reopenGenerator(): Promise<void> {
    const { generator, openGenerator, metrics } = this.served;
    if (generator === undefined || openGenerator === undefined) return;
    const next = await openGenerator();
    if (next === undefined) throw new ModelStateError('the language model or the estimator is gone');
    const previous = generator.version;
    await generator.replace(next);
    metrics.modelInfo.remove({ kind: 'generator', version: previous });
    metrics.modelInfo.set({ kind: 'generator', version: next.version }, 1);
  }
}
