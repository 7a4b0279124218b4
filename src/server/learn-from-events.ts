import type { EngagementEvent, RecordEventsOptions, RecordEventsResult } from '../experiments/index.js';
import { recordEvents } from '../experiments/index.js';
import { extractFeatures } from '../features/index.js';
import type { Lake } from '../lake/index.js';
import { estimatorFeedbackSink } from '../viralscore/index.js';
import type { OnlineUpdateResult } from '../viralscore/index.js';

/**
 * Records engagement events, then lets the estimator in `dataDir` learn from the new engagement of known
 * posts (`estimatorFeedbackSink`: an online update behind its guard, a new registry version). Features are
 * brought up to date first: posts ingested since the last extraction need them before anything learns
 * from them. `update` is null when no new engagement had a label to learn from.
 */
export async function recordAndLearn(
  lake: Lake,
  dataDir: string,
  experimentId: string,
  events: Iterable<EngagementEvent>,
  options: Omit<RecordEventsOptions, 'feedback'> = {},
): Promise<{ result: RecordEventsResult; update: OnlineUpdateResult | null }> {
  await extractFeatures(lake, options.progress === undefined ? {} : { progress: options.progress });
  const feedback = estimatorFeedbackSink(lake, dataDir);
  const result = await recordEvents(lake, experimentId, events, { ...options, feedback });
  return { result, update: feedback.results.at(-1) ?? null };
}
