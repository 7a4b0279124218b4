import { NotFoundError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { openViralScorer, type ViralScorer, type ViralScoreResult } from '../viralscore/index.js';
import type { Draft, DraftScore, DraftScorer } from './models.js';

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

/** Serves src/viralscore's estimator behind the API's `DraftScorer`. */
export function draftScorerOf(scorer: ViralScorer): DraftScorer {
  return {
    version: scorer.version,
    async score(drafts: readonly Draft[]) {
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
  try {
    const scorer = await openViralScorer(lake, dataDir);
    return { scorer: draftScorerOf(scorer), close: () => scorer.close() };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
