import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The Prometheus metrics of one server; each server has its own registry, so tests can run several. */
export interface ServerMetrics {
  registry: Registry;
  requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  queueDepth: Gauge<'queue'>;
  batchSize: Histogram<'queue'>;
  modelInfo: Gauge<'kind' | 'version'>;
  ingestedRows: Counter<'outcome'>;
  stageDuration: Histogram<'stage'>;
  stageDrafts: Counter<'stage'>;
}

/**
 * Creates the registry with the request, queue, batch and model metrics and Node's process metrics. Queue
 * depths are read from `queues` when Prometheus scrapes, rather than pushed on every change.
 */
export function createMetrics(queues: Record<string, () => number> = {}): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tkllm_' });
  return {
    registry,
    requestDuration: new Histogram({
      name: 'tkllm_http_request_duration_seconds',
      help: 'HTTP request latency by route template and status',
      labelNames: ['method', 'route', 'status_code'],
      // From 1 ms (a cached read) to 10 s (an ingest or a long generation).
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'tkllm_queue_depth',
      help: 'Requests or items waiting for or holding a queue: score (drafts in scorer batches), lake (the connection)',
      labelNames: ['queue'],
      registers: [registry],
      collect() {
        for (const [queue, depth] of Object.entries(queues)) this.set({ queue }, depth());
      },
    }),
    batchSize: new Histogram({
      name: 'tkllm_batch_size',
      help: 'Items per dispatched batch, by queue',
      labelNames: ['queue'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    modelInfo: new Gauge({
      name: 'tkllm_model_info',
      help: 'The model version each kind serves (1); absent when no model of that kind is loaded',
      labelNames: ['kind', 'version'],
      registers: [registry],
    }),
    ingestedRows: new Counter({
      name: 'tkllm_ingested_rows_total',
      help: 'Rows ingested through the API, accepted or rejected',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    stageDuration: new Histogram({
      name: 'tkllm_score_stage_duration_seconds',
      help: 'Compute time of two-stage scoring: featurise (once, every draft), screen (int8 graph, every draft), full (the finalists)',
      labelNames: ['stage'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    stageDrafts: new Counter({
      name: 'tkllm_score_stage_drafts_total',
      help: 'Drafts scored by each stage of two-stage scoring',
      labelNames: ['stage'],
      registers: [registry],
    }),
  };
}
