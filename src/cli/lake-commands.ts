import { Option, type Command } from 'commander';
import { terminalProgress } from '../core/index.js';
import {
  ingestFiles,
  lakeStats,
  readerKinds,
  shapeNames,
  type IngestOptions,
  type ReaderKind,
} from '../lake/index.js';
import { formatIngest, formatStats } from './format-lake.js';
import { dataDirOf, dateOption, positiveInt, withLake } from './options.js';

/** Adds `ingest` and `stats` to the program. */
export function addLakeCommands(program: Command): void {
  program
    .command('ingest')
    .description(
      'ingest post exports (CSV, JSONL, JSON arrays, Parquet) into the lake; one transaction per file',
    )
    .argument('<files...>', 'files to ingest')
    .addOption(
      new Option('--format <shape>', 'export shape, instead of guessing it from the columns').choices(
        shapeNames,
      ),
    )
    .addOption(new Option('--reader <kind>', 'file format, instead of the extension').choices(readerKinds))
    .option('--year <year>', 'year of dd.mm dates (default: a year in the file name)', positiveInt('--year'))
    .option(
      '--observed-at <time>',
      'when the export was taken, for rows without a time (default: file mtime)',
      dateOption('--observed-at'),
    )
    .option('--json', 'print the per-file results as JSON')
    .action(
      async (
        files: string[],
        opts: { format?: string; reader?: ReaderKind; year?: number; observedAt?: Date; json?: boolean },
        command: Command,
      ) => {
        const options: IngestOptions = { progress: terminalProgress() };
        if (opts.format !== undefined) options.format = opts.format;
        if (opts.reader !== undefined) options.reader = opts.reader;
        if (opts.year !== undefined) options.year = opts.year;
        if (opts.observedAt !== undefined) options.observedAt = opts.observedAt;
        const results = await withLake(dataDirOf(command), (lake) => ingestFiles(lake, files, options));
        console.log(opts.json ? JSON.stringify(results, null, 2) : formatIngest(results));
      },
    );

  program
    .command('stats')
    .description('summarise the lake: posts, authors, dates, engagement percentiles, top hashtags, rejects')
    .option('--json', 'print one JSON object')
    .option('--top <n>', 'how many hashtags to list', positiveInt('--top'), 10)
    .action(async (opts: { json?: boolean; top: number }, command: Command) => {
      const stats = await withLake(dataDirOf(command), (lake) => lakeStats(lake, { topHashtags: opts.top }));
      console.log(opts.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
    });
}
