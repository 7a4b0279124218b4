import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  assignArm,
  createExperiment,
  experimentReport,
  getExperiment,
  listExperiments,
  recordEvents,
  type Experiment,
} from '../../experiments/index.js';
import { TkllmError } from '../../core/index.js';
import type { ServerContext } from '../context.js';
import { recordAndLearn } from '../learn-from-events.js';
import {
  AssignBody,
  EventsBody,
  EventsResponse,
  ExperimentBody,
  ExperimentIdParams,
  ExperimentResponse,
  ReportQuery,
  ReportResponse,
} from '../schemas.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));
const keyed = [{ bearer: [] }, { apiKey: [] }];

/** Dates as ISO text, the way every response carries time. */
const experimentBody = (e: Experiment) => ({
  ...e,
  startsAt: e.startsAt.toISOString(),
  endsAt: e.endsAt?.toISOString() ?? null,
  createdAt: e.createdAt.toISOString(),
});

/**
 * A/B tests and bandit experiments over src/experiments: create and read them, the arm of a unit, engagement
 * events, and the report. Writes need a key; every use of the lake goes through its gate.
 */
export function experimentRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { gate, models } = context;
  return (app, _options, done) => {
    app.post(
      '/v1/experiments',
      {
        config: { write: true },
        schema: {
          tags: ['experiments'],
          summary: 'Create an experiment (the first arm is the control)',
          security: keyed,
          body: ExperimentBody,
          response: { 201: ExperimentResponse, ...errors(400, 401, 413, 429) },
        },
      },
      async (request, reply) => {
        const { startsAt, endsAt, ...rest } = request.body;
        const experiment = await gate.write((lake) =>
          createExperiment(lake, {
            ...rest,
            ...(startsAt === undefined ? {} : { startsAt: new Date(startsAt) }),
            ...(endsAt === undefined ? {} : { endsAt: new Date(endsAt) }),
          }),
        );
        return reply.code(201).send(experimentBody(experiment));
      },
    );

    app.get(
      '/v1/experiments',
      {
        schema: {
          tags: ['experiments'],
          summary: 'The experiments in the lake, oldest first',
          response: { 200: Type.Object({ experiments: Type.Array(Type.String()) }) },
        },
      },
      async () => ({ experiments: await gate.use((lake) => listExperiments(lake)) }),
    );

    app.get(
      '/v1/experiments/:id',
      {
        schema: {
          tags: ['experiments'],
          summary: 'One experiment',
          params: ExperimentIdParams,
          response: { 200: ExperimentResponse, ...errors(404) },
        },
      },
      async (request) => experimentBody(await gate.use((lake) => getExperiment(lake, request.params.id))),
    );

    app.post(
      '/v1/experiments/:id/assign',
      {
        schema: {
          tags: ['experiments'],
          summary:
            "A unit's arm under the experiment's hash allocation (the same unit always gets the same arm)",
          description:
            'Nothing is stored: the arm is a hash of the salt and the unit id, so this needs no key.',
          params: ExperimentIdParams,
          body: AssignBody,
          response: {
            200: Type.Object({ experiment: Type.String(), unitId: Type.String(), arm: Type.String() }),
            ...errors(400, 404),
          },
        },
      },
      async (request) => {
        const experiment = await gate.use((lake) => getExperiment(lake, request.params.id));
        const { unitId } = request.body;
        return { experiment: experiment.id, unitId, arm: assignArm(experiment, unitId) };
      },
    );

    app.post(
      '/v1/experiments/:id/events',
      {
        config: { write: true },
        schema: {
          tags: ['experiments'],
          summary: 'Record engagement events (1 h and 24 h after publication); repeats count once',
          description:
            'Rows that cannot be used are rejected one by one and counted with the field at fault; the rest ' +
            'are recorded in one transaction. With `update: true` the estimator then learns from the new ' +
            'engagement (an online update behind its guard, a new registry version), and a version the guard ' +
            'lets through is served at once.',
          security: keyed,
          params: ExperimentIdParams,
          body: EventsBody,
          response: { 200: EventsResponse, ...errors(400, 401, 404, 413, 429, 503) },
        },
      },
      async (request) => {
        const { events, update = false } = request.body;
        if (!update)
          return gate.write((lake) => recordEvents(lake, request.params.id, events, { source: 'api' }));
        if (models === undefined)
          throw new TkllmError(
            'UNSUPPORTED',
            'this server was started without a data directory: it cannot update the estimator',
          );
        const { dataDir } = models;
        const { result, update: learned } = await gate.write((lake) =>
          recordAndLearn(lake, dataDir, request.params.id, events, { source: 'api' }),
        );
        // The registry's active version moved: serve it.
        if (learned?.activated === true) await models.scorer(learned.version, request.log);
        return { ...result, update: learned };
      },
    );

    app.get(
      '/v1/experiments/:id/report',
      {
        schema: {
          tags: ['experiments'],
          summary:
            'Each arm against the control: lift with its interval, Welch, an always-valid sequence, SRM',
          params: ExperimentIdParams,
          querystring: ReportQuery,
          response: { 200: ReportResponse, ...errors(400, 404) },
        },
      },
      async (request) => {
        const { horizon, alpha } = request.query;
        const report = await gate.use((lake) =>
          experimentReport(lake, request.params.id, { horizon, alpha }),
        );
        return { ...report, experiment: experimentBody(report.experiment) };
      },
    );
    done();
  };
}
