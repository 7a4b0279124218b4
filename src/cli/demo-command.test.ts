import { describe, expect, it } from 'vitest';
import { formatCandidateTable } from './demo-command.js';

const candidate = (score: number, logProbNorm: number, v: number, text: string) => ({
  score,
  logProbNorm,
  vPenalised: v,
  subscores: { E: 0.1, H: 0.2, R: 0.3, S: 0.4, T: 0.5 },
  text,
});

describe('formatCandidateTable', () => {
  it('puts every header column over its own number, in rank order, with the script on one line', () => {
    const table = formatCandidateTable([
      candidate(-2.223, -3.0, 0.78, 'How to\nmake   bread'),
      candidate(-12.5, -13.25, 0.05, 'x'.repeat(100)),
    ]);
    const [header, ...rows] = table.split('\n');
    expect(header.trim().split(/\s+/)).toEqual([
      'rank',
      'score',
      'logP/t',
      'V',
      'E',
      'H',
      'R',
      'S',
      'T',
      'script',
    ]);
    expect(rows).toHaveLength(2);
    const cells = rows.map((r) => r.trim().split(/\s+/));
    expect(cells[0].slice(0, 9).map(Number)).toEqual([1, -2.223, -3, 0.78, 0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(cells[1].slice(0, 9).map(Number)).toEqual([2, -12.5, -13.25, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(rows[0].endsWith('How to make bread')).toBe(true);
    expect(cells[1][9]).toHaveLength(70);
    // Right-aligned columns: each number ends where its header word ends.
    for (const [name, value] of [
      ['score', '-2.223'],
      ['logP/t', '-3.00'],
      ['V', '0.78'],
    ] as const)
      expect(rows[0].indexOf(value) + value.length).toBe(header.indexOf(name) + name.length);
  });
});
