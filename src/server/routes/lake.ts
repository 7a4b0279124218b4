import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ValidationError } from '../../core/index.js';
import {
  hashtagTrends,
  ingestFile,
  lakeStats,
  playsHistogram,
  readerKinds,
  type IngestOptions,
  type IngestResult,
  type ReaderKind,
} from '../../lake/index.js';
import type { ServerContext } from '../context.js';
import {
  EngagementHistogram,
  IngestJsonBody,
  IngestResultBody,
  LakeSummary,
  SummaryQuery,
  Trends,
  TrendsQuery,
} from '../schemas.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

/** Lake summary and charts (reads), and ingest of posts as JSON or as an uploaded export file (writes). */
export function lakeRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { gate, metrics, uploadLimitBytes } = context;

  // Ingest reads files with DuckDB's readers, so a body becomes a file in a private temporary directory,
  // named as the client named it (the name carries the export's year and hints its shape).
  async function ingestAsFile(
    name: string,
    write: (path: string) => Promise<void>,
    options: IngestOptions,
  ): Promise<IngestResult> {
    const dir = await mkdtemp(join(tmpdir(), 'tkllm-ingest-'));
    try {
      const path = join(dir, name);
      await write(path);
      const result = await gate.write((lake) => ingestFile(lake, path, options));
      metrics.ingestedRows.inc({ outcome: 'accepted' }, result.rowsAccepted);
      metrics.ingestedRows.inc({ outcome: 'rejected' }, result.rowsRejected);
      return { ...result, file: name };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return (app, _options, done) => {
    app.get(
      '/v1/lake/summary',
      {
        schema: {
          tags: ['lake'],
          summary: 'Posts, authors, dates, engagement percentiles, top hashtags and rejects',
          querystring: SummaryQuery,
          response: { 200: LakeSummary, ...errors(400) },
        },
      },
      (request) =>
        gate.cached(`summary:${request.query.top}`, (lake) =>
          lakeStats(lake, { topHashtags: request.query.top }),
        ),
    );

    app.get(
      '/v1/lake/engagement',
      {
        schema: {
          tags: ['lake'],
          summary: 'Posts per power-of-ten band of plays',
          response: { 200: EngagementHistogram },
        },
      },
      async () => ({ metric: 'plays' as const, bins: await gate.cached('engagement', playsHistogram) }),
    );

    app.get(
      '/v1/lake/trends',
      {
        schema: {
          tags: ['lake'],
          summary: 'Posts per day, week or month for the most used hashtags',
          querystring: TrendsQuery,
          response: { 200: Trends, ...errors(400) },
        },
      },
      async (request) => ({
        bucket: request.query.bucket,
        tags: await gate.cached(`trends:${request.query.tags}:${request.query.bucket}`, (lake) =>
          hashtagTrends(lake, request.query.tags, request.query.bucket),
        ),
      }),
    );

    app.post(
      '/v1/ingest',
      {
        config: { write: true },
        bodyLimit: uploadLimitBytes,
        schema: {
          tags: ['lake'],
          summary: 'Ingest posts given as JSON objects in one of the export shapes',
          security: [{ bearer: [] }, { apiKey: [] }],
          body: IngestJsonBody,
          response: { 200: IngestResultBody, ...errors(400, 401, 413, 429) },
        },
      },
      async (request) => {
        const { posts, format, year, observedAt } = request.body;
        const options: IngestOptions = { reader: 'json' };
        if (format !== undefined) options.format = format;
        if (year !== undefined) options.year = year;
        if (observedAt !== undefined) options.observedAt = new Date(observedAt);
        return ingestAsFile('posts.json', (path) => writeFile(path, JSON.stringify(posts)), options);
      },
    );

    app.post(
      '/v1/ingest/file',
      {
        config: { write: true },
        schema: {
          tags: ['lake'],
          summary: 'Ingest one uploaded export file (CSV, JSONL, JSON, Parquet) as multipart field `file`',
          description:
            'Optional fields before the file: `format` (export shape), `reader` (file format), `year` (for dd.mm dates).',
          consumes: ['multipart/form-data'],
          security: [{ bearer: [] }, { apiKey: [] }],
          response: { 200: IngestResultBody, ...errors(400, 401, 413, 415, 429) },
        },
      },
      async (request) => {
        if (!request.isMultipart())
          throw new ValidationError('`file`: send the export as multipart/form-data with a field named file');
        const part = await request.file();
        if (part === undefined) throw new ValidationError('`file` is required: no file part in the form');
        if (part.fieldname !== 'file')
          throw new ValidationError(
            `\`file\` is required: the form's file field is named "${part.fieldname}"`,
          );
        const name = basename(part.filename || 'upload.csv').replace(/[^\w.-]/g, '_');
        const options: IngestOptions = {};
        const field = (n: string) => {
          const f = part.fields[n];
          return f && !Array.isArray(f) && f.type === 'field' ? String(f.value) : undefined;
        };
        const format = field('format');
        const reader = field('reader');
        const year = field('year');
        if (format !== undefined) options.format = format;
        if (reader !== undefined) {
          if (!(readerKinds as readonly string[]).includes(reader))
            throw new ValidationError(`\`reader\` must be one of ${readerKinds.join(', ')}, got "${reader}"`);
          options.reader = reader as ReaderKind;
        }
        if (year !== undefined) {
          if (!/^\d{4}$/.test(year))
            throw new ValidationError(`\`year\` must be a 4-digit year, got "${year}"`);
          options.year = Number(year);
        }
        return ingestAsFile(
          name,
          async (path) => {
            await pipeline(part.file, createWriteStream(path));
            // @fastify/multipart throws RequestFileTooLargeError (413) on the next read past the limit.
            if (part.file.truncated)
              throw Object.assign(new Error('the uploaded file is too large'), { statusCode: 413 });
          },
          options,
        );
      },
    );
    done();
  };
}
