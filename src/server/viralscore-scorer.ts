import { NotFoundError } from '../core/index.js';
import { openFeatureContext } from '../features/index.js';
import type { Lake } from '../lake/index.js';
import { openViralScorer, type ViralScorer, type ViralScoreResult } from '../viralscore/index.js';
import type { Draft, DraftScore, DraftScorer, ScoreOptions } from './models.js';

/** The estimator's subscore letters (DESIGN.md: E, H, R, S, T) under the API's names. */
const subscoreKeys = { E: 'emotion', H: 'hook', R: 'replicability', S: 'share', T: 'trend' } as const;

/** Guidance lines from the features that pulled V down most, largest pull first. */
function guidanceOf(result: ViralScoreResult): string[] {
  return result.topFeatures
    .filter((f) => f.effect < 0)
    .map((f) => `${f.group}: ${f.feature} (${Number(f.value.toPrecision(3))}) lowers the score`);
}

function toDraftScore(result: ViralScoreResult): DraftScore {
  const subscores = { emotion: 0, hook: 0, replicability: 0, share: 0, trend: 0 };
  const contributions = { ...subscores };
  for (const [letter, key] of Object.entries(subscoreKeys)) {
    subscores[key] = result.subscores[letter as keyof typeof subscoreKeys];
    contributions[key] = result.contributions[letter as keyof typeof subscoreKeys];
  }
  return {
    viralScore: result.v,
    subscores,
    guidance: guidanceOf(result),
    contributions,
    topFeatures: result.topFeatures.map((f) => ({
      group: f.group,
      feature: f.feature,
      value: f.value,
      effect: f.effect,
    })),
  };
}

/**
 * Serves src/viralscore's estimator behind the API's `DraftScorer`: `explained` lists the features that moved
 * V (a gradient pass), `plain` skips them; both share one feature context.
 */
export function draftScorerOf(scorers: { explained: ViralScorer; plain: ViralScorer }): DraftScorer {
  return {
    version: scorers.plain.version,
    async score(drafts: readonly Draft[], options: ScoreOptions = {}) {
      const scorer = options.explain ? scorers.explained : scorers.plain;
      const results = await scorer.score(
        drafts.map((d) => ({
          text: d.text,
          ...(d.hashtags === undefined ? {} : { hashtags: d.hashtags }),
          ...(d.creator === undefined ? {} : { creator: d.creator }),
          ...(d.postedAt === undefined ? {} : { postedAt: new Date(d.postedAt) }),
        })),
      );
      return results.map(toDraftScore);
    },
  };
}

/**
 * Opens the active ViralScore model under `dataDir` for the server, or returns undefined when none has been
 * trained yet (the score endpoints then say so). Any other failure (a damaged model) is thrown.
 */
export async function openDraftScorer(
  lake: Lake,
  dataDir: string,
): Promise<{ scorer: DraftScorer; close: () => void } | undefined> {
  let explained: ViralScorer;
  try {
    explained = await openViralScorer(lake, dataDir, { topFeatures: 5 });
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  const context = await openFeatureContext(lake);
  const plain = await openViralScorer(lake, dataDir, {
    version: explained.version,
    topFeatures: 0,
    featurise: (drafts) => context.featurise(drafts),
  });
  return {
    scorer: draftScorerOf({ explained, plain }),
    close: () => {
      explained.close();
      plain.close();
    },
  };
}
