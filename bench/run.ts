// `npm run bench -- NAME [--json]`: runs one benchmark. Each benchmark module exports `run(options)`
// returning the figures its issue names; this runner prints them for people or as one JSON object.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchOptions {
  json: boolean;
  /** Progress and explanations go here (stderr), so that stdout stays one JSON object with --json. */
  log: (line: string) => void;
  args: string[];
}

export type BenchResult = Record<string, number | string | boolean | null | undefined | object>;

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''));

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const name = argv.find((a) => !a.startsWith('--'));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [--json]\navailable: ${available.join(', ') || '(none)'}`);
  process.exit(name ? 2 : 0);
}
const mod = (await import(join(here, `${name}.bench.ts`))) as {
  run: (o: BenchOptions) => Promise<BenchResult>;
};
const result = await mod.run({
  json,
  log: (line) => console.error(line),
  args: argv.filter((a) => a !== name && a !== '--json'),
});
if (json) console.log(JSON.stringify(result));
else
  for (const [k, v] of Object.entries(result))
    console.log(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
