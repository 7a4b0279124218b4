/** lake: the DuckDB data lake of posts, authors, hashtags, engagement snapshots, media and rejects. */
export { Lake, lakeTables } from './lake.js';
export type { LakeRow, LakeTable, OpenLakeOptions } from './lake.js';
export { migrations, migrate, migrateComponent } from './migrations.js';
export type { Migration } from './migrations.js';
export { ingestFile, ingestFiles, yearInName } from './ingest.js';
export type { IngestOptions, IngestResult } from './ingest.js';
export { readerKinds } from './readers.js';
export type { ReaderKind } from './readers.js';
export { shapes, shapeNames } from './shapes.js';
export type { Shape } from './shapes.js';
export { lakeStats } from './stats.js';
export { playsHistogram, hashtagTrends } from './charts.js';
export type { TrendBucket } from './charts.js';
export { bundledSample, ingestBundledSample } from './sample.js';
export type { LakeStats } from './stats.js';
