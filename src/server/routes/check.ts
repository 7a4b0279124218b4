import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { policyFor, type Policy } from '../../safety/index.js';
import { CheckBody, CheckResponse } from '../schemas.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

/** POST /v1/check: a draft against the policy packs, as src/safety's verdict (an expected outcome, not an error). */
export function checkRoutes(policy: Policy = policyFor()): FastifyPluginCallbackTypebox {
  return (app, _options, done) => {
    app.post(
      '/v1/check',
      {
        schema: {
          tags: ['check'],
          summary: 'Check a draft against brand and platform policy: hits with spans, brand safety, blocked',
          body: CheckBody,
          response: { 200: CheckResponse, ...errors(400, 413, 429) },
        },
      },
      (request) => {
        const { text, region } = request.body;
        const verdict = policy.check(text, region === undefined ? {} : { region });
        return {
          blocked: verdict.blocked,
          brandSafety: verdict.brandSafety,
          hits: verdict.hits.map((h) => ({
            ruleId: h.ruleId,
            category: h.category,
            severity: h.severity,
            span: [h.span[0], h.span[1]],
            text: h.text,
            why: h.why,
          })),
        };
      },
    );
    done();
  };
}
