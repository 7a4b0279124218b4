import type { Command } from 'commander';
import { ValidationError } from '../core/index.js';
import { Lake } from '../lake/index.js';
import {
  checkPolicy,
  defaultPolicyPacks,
  loadPolicyPack,
  Policy,
  recordAudit,
  type PolicyPack,
  type PolicyVerdict,
} from '../safety/index.js';

interface PolicyCheckOptions {
  region?: string;
  pack: string[];
  defaultPack: boolean;
  json?: boolean;
  audit?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function packsOf(opts: { pack: string[]; defaultPack: boolean }): PolicyPack[] {
  const packs = [...(opts.defaultPack ? defaultPolicyPacks() : []), ...opts.pack.map(loadPolicyPack)];
  if (packs.length === 0)
    throw new ValidationError('no policy pack: give `--pack FILE` or drop `--no-default-pack`');
  return packs;
}

/** The verdict as lines for a person: the decision, then one line per hit with its rule and reason. */
export function formatVerdict(verdict: PolicyVerdict): string {
  const head =
    `${verdict.blocked ? 'BLOCKED' : 'allowed'}  brand safety ${verdict.brandSafety.toFixed(2)}` +
    `  region ${verdict.region ?? '(global rules only)'}  ${verdict.hits.length} hit(s)`;
  const lines = verdict.hits.map(
    (h) =>
      `  ${h.severity.padEnd(6)} ${h.ruleId}  "${h.text}" at ${h.span[0]}-${h.span[1]} (${h.kind}, ${h.category})\n` +
      `         ${h.why}`,
  );
  return [head, ...lines].join('\n');
}

/** Adds `policy check` and `policy validate` to the program. */
export function addPolicyCommands(program: Command): void {
  const policy = program
    .command('policy')
    .description('brand and platform policy: check texts, validate packs');

  policy
    .command('check')
    .description(
      'check a text against the policy packs: hits with rule, span and reason, brand safety, blocked',
    )
    .argument('<text...>', 'the text to check (several words are joined with spaces)')
    .option('--region <code>', 'region code (US, DE...) for per-region rules and severities')
    .option('--pack <file>', 'a policy pack file (YAML or JSON) to add; repeatable', collect, [])
    .option('--no-default-pack', 'leave out the shipped default pack')
    .option('--json', 'print the verdict as JSON')
    .option('--audit', 'record the check in the lake audit table (under --data-dir)')
    .action(async (words: string[], opts: PolicyCheckOptions, command: Command) => {
      const text = words.join(' ');
      const packs = packsOf(opts);
      const verdict = checkPolicy(text, {
        policy: Policy.compile(packs),
        ...(opts.region === undefined ? {} : { region: opts.region }),
      });
      if (opts.audit === true) {
        const dataDir = String(command.optsWithGlobals<{ dataDir: string }>().dataDir);
        const lake = await Lake.open(dataDir);
        try {
          await recordAudit(lake, {
            kind: 'check',
            candidates: [{ text, verdict }],
            details: { packs: packs.map((p) => p.name) },
            ...(verdict.region === undefined ? {} : { region: verdict.region }),
          });
        } finally {
          lake.close();
        }
      }
      console.log(opts.json === true ? JSON.stringify(verdict, null, 2) : formatVerdict(verdict));
    });

  policy
    .command('validate')
    .description('read policy pack files and report their rules, or the file, line and field of an error')
    .argument('<files...>', 'policy pack files')
    .option('--no-default-pack', 'do not check overrides against the shipped default pack')
    .action((files: string[], opts: { defaultPack: boolean }) => {
      const packs = packsOf({ pack: files, defaultPack: opts.defaultPack });
      const compiled = Policy.compile(packs);
      for (const pack of packs.slice(opts.defaultPack ? 1 : 0))
        console.log(
          `${pack.source}: pack "${pack.name}", ${pack.rules.length} rule(s), ` +
            `${pack.rules.reduce((n, r) => n + r.terms.length, 0)} term(s), ${pack.overrides.length} override(s)`,
        );
      console.log(`${compiled.listRules().filter((r) => !r.disabled).length} rule(s) active in all`);
    });
}
