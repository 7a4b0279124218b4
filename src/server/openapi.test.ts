import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { createServer, type TkllmServer } from './app.js';

let fixture: Awaited<ReturnType<typeof tempLake>>;
let app: TkllmServer;

beforeAll(async () => {
  fixture = await tempLake();
  app = await createServer({ lake: fixture.lake, studioDir: null });
});
afterAll(async () => {
  await app.close();
  fixture.cleanup();
});

describe('the OpenAPI document', () => {
  it('validates against the OpenAPI 3.1 schema, references resolved', async () => {
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(res.json());
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(validator.resolveRefs()).toBeTruthy();
  });

  it('documents every public route with its schemas, and writes with their security', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json<{
      paths: Record<
        string,
        Record<string, { requestBody?: unknown; security?: unknown[]; responses: Record<string, unknown> }>
      >;
      components: { schemas: Record<string, unknown> };
    }>();
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz',
      '/readyz',
      '/v1/check',
      '/v1/experiments',
      '/v1/experiments/{id}',
      '/v1/experiments/{id}/assign',
      '/v1/experiments/{id}/events',
      '/v1/experiments/{id}/report',
      '/v1/generate',
      '/v1/generate/stream',
      '/v1/ingest',
      '/v1/ingest/file',
      '/v1/lake/engagement',
      '/v1/lake/summary',
      '/v1/lake/trends',
      '/v1/models',
      '/v1/models/active',
      '/v1/score',
      '/v1/score/batch',
      '/v1/score/screen',
    ]);
    expect(doc.paths['/v1/score/batch']?.post?.requestBody).toBeDefined();
    expect(Object.keys(doc.paths['/v1/score']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '503']),
    );
    expect(doc.paths['/v1/ingest']?.post?.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(doc.components.schemas).toHaveProperty('Error');
  });
});
