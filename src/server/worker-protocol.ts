// Messages between the server and its scoring threads (score-worker.ts); structured-cloned, so plain data.
import type { Draft, DraftScore, TwoStageScores } from './models.js';

export interface ScoreWorkerData {
  dataDir: string;
  /** The registry version to open; the active one when absent. */
  version?: string;
}

export interface WorkerError {
  name: string;
  code: string;
  message: string;
}

export type ToScoreWorker =
  | {
      type: 'score';
      id: number;
      drafts: Draft[];
      explain: boolean;
      variant: 'float' | 'int8';
      /** Answer each score as its JSON text (`json`) instead of an object. */
      json?: boolean;
    }
  | { type: 'twoStage'; id: number; drafts: Draft[]; keep: number }
  | { type: 'lake'; id: number; value?: unknown; error?: string }
  | { type: 'close' };

export type FromScoreWorker =
  | { type: 'ready'; version: string }
  | { type: 'scores'; id: number; scores: DraftScore[] }
  | { type: 'json'; id: number; scores: string[] }
  | { type: 'twoStage'; id: number; result: TwoStageScores }
  | { type: 'failed'; id: number; error: WorkerError }
  | { type: 'lake'; id: number; method: 'all' | 'ensureSchema'; args: unknown[] };
