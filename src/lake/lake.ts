import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection, type Json } from '@duckdb/node-api';
import { IoError } from '../core/index.js';
import { migrate, migrateComponent, migrations, type Migration } from './migrations.js';
import { installMacros } from './macros.js';

/** Where and how to open a lake. */
export interface OpenLakeOptions {
  /** File name of the DuckDB database inside the data directory. */
  fileName?: string;
  /** Schema steps to apply; only tests that build an older lake pass a prefix of the real list. */
  migrations?: readonly Migration[];
}

/** A row as plain JSON values: BIGINT and DECIMAL come back as strings, so cast in SQL where numbers matter. */
export type LakeRow = Record<string, Json>;

/**
 * The data lake: one DuckDB file under a data directory holding posts, authors, hashtags, engagement
 * snapshots, media references and rejected rows. Open it with `Lake.open` and close it when done.
 *
 * @example
 * const lake = await Lake.open('./tkllm-data');
 * try { console.log(await lake.all('SELECT count(*)::INTEGER AS n FROM posts')); } finally { lake.close(); }
 */
export class Lake {
  private constructor(
    /** Absolute path of the DuckDB file. */
    readonly path: string,
    /** Schema version after migration. */
    readonly schemaVersion: number,
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /** Opens (creating if needed) the lake in `dataDir` and applies any pending schema migrations. */
  static async open(dataDir: string, options: OpenLakeOptions = {}): Promise<Lake> {
    const path = resolve(join(dataDir, options.fileName ?? 'lake.duckdb'));
    let instance: DuckDBInstance;
    try {
      mkdirSync(resolve(dataDir), { recursive: true });
      instance = await DuckDBInstance.create(path);
    } catch (cause) {
      throw new IoError(`cannot open the lake at ${path}: ${(cause as Error).message}`, { cause });
    }
    const connection = await instance.connect();
    try {
      const runner = {
        run: (sql: string) => connection.run(sql),
        scalar: async (sql: string) => (await connection.runAndReadAll(sql)).getRows()[0]?.[0],
      };
      // Rows of a table have no meaningful order (every read sorts or aggregates), and keeping the scan order
      // forces bulk inserts through one thread: inserts into the lake ran about a third faster without it.
      await connection.run('SET preserve_insertion_order = false');
      const version = await migrate(runner, options.migrations ?? migrations);
      await installMacros(runner);
      return new Lake(path, version, instance, connection);
    } catch (error) {
      connection.closeSync();
      instance.closeSync();
      throw error;
    }
  }

  /**
   * Creates or upgrades the tables a module above the lake owns (`features`, `experiments`, ...), with that
   * module's own ordered steps; returns the component's schema version. Call it before touching those tables.
   */
  async ensureSchema(component: string, steps: readonly Migration[]): Promise<number> {
    return migrateComponent(this.runner(), component, steps);
  }

  /**
   * An appender for bulk inserts into `table` (DuckDB's fastest path for rows made in JavaScript). Call
   * `flushSync` and `closeSync` on it; inside `transaction` the rows commit or roll back with the rest.
   */
  async appender(table: string): Promise<DuckDBAppender> {
    return this.connection.createAppender(table);
  }

  private runner() {
    return {
      run: (sql: string) => this.connection.run(sql),
      scalar: async (sql: string) => (await this.connection.runAndReadAll(sql)).getRows()[0]?.[0],
    };
  }

  /** Runs SQL that returns nothing of interest. */
  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** Runs a query and returns its rows as JSON-compatible objects. */
  async all(sql: string): Promise<LakeRow[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJson();
  }

  /** Runs a query and returns the first column of the first row as a number (NaN when absent). */
  async count(sql: string): Promise<number> {
    const reader = await this.connection.runAndReadAll(sql);
    return Number(reader.getRows()[0]?.[0] ?? Number.NaN);
  }

  /** Runs `work` inside one transaction: committed if it resolves, rolled back if it throws. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.connection.run('BEGIN TRANSACTION');
    try {
      const result = await work();
      await this.connection.run('COMMIT');
      return result;
    } catch (error) {
      await this.connection.run('ROLLBACK');
      throw error;
    }
  }

  /** Row counts of the lake's tables, for summaries and for checks that a failed ingest changed nothing. */
  async tableCounts(): Promise<Record<LakeTable, number>> {
    const counts = {} as Record<LakeTable, number>;
    for (const table of lakeTables) counts[table] = await this.count(`SELECT count(*) FROM ${table}`);
    return counts;
  }

  /** Closes the connection and the database file. */
  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** The tables that hold lake data (as opposed to bookkeeping). */
export const lakeTables = ['posts', 'authors', 'hashtags', 'snapshots', 'media', 'rejects'] as const;
/** One of the lake's data tables. */
export type LakeTable = (typeof lakeTables)[number];
