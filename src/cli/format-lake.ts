import { basename } from 'node:path';
import type { IngestResult, LakeStats } from '../lake/index.js';

const int = (n: number | null) => (n === null ? '-' : Math.round(n).toLocaleString('en-US'));
const pct = (n: number | null) => (n === null ? '-' : `${(100 * n).toFixed(2)}%`);

/** One block per ingested file: rows read, accepted, rejected by reason, what changed in the lake. */
export function formatIngest(results: readonly IngestResult[]): string {
  return results
    .map((r) => {
      const reasons = Object.entries(r.rejectsByReason)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      return [
        `${basename(r.file)} (${r.shape}, ${r.reader}) in ${r.seconds.toFixed(2)} s`,
        `  rows ${int(r.rowsRead)}: accepted ${int(r.rowsAccepted)}, rejected ${int(r.rowsRejected)}${reasons ? ` (${reasons})` : ''}`,
        `  new posts ${int(r.newPosts)}, new snapshots ${int(r.newSnapshots)}, same-time duplicates merged ${int(r.duplicatesMerged)}`,
      ].join('\n');
    })
    .join('\n');
}

/** The lake summary for a person. */
export function formatStats(s: LakeStats): string {
  const platforms = Object.entries(s.postsByPlatform)
    .map(([k, v]) => `${k} ${int(v)}`)
    .join(', ');
  const dist = (d: LakeStats['plays'], f: (n: number | null) => string) =>
    `p10 ${f(d.p10)}  p25 ${f(d.p25)}  p50 ${f(d.p50)}  p75 ${f(d.p75)}  p90 ${f(d.p90)}  p99 ${f(d.p99)}  (n ${int(d.count)})`;
  const reasons = Object.entries(s.rejectsByReason)
    .map(([k, v]) => `${k} ${int(v)}`)
    .join(', ');
  return [
    `posts        ${int(s.posts)}${platforms ? ` (${platforms})` : ''}`,
    `authors      ${int(s.authors)}`,
    `snapshots    ${int(s.snapshots)}`,
    `posted       ${s.posted.first ?? '-'} .. ${s.posted.last ?? '-'}`,
    `observed     ${s.observed.first ?? '-'} .. ${s.observed.last ?? '-'}`,
    `plays        ${dist(s.plays, int)}`,
    `share rate   ${dist(s.shareRate, pct)}`,
    `top hashtags ${s.topHashtags.map((t) => `#${t.tag} ${int(t.posts)}`).join(', ') || '-'}`,
    `rejects      ${int(s.rejects)}${reasons ? ` (${reasons})` : ''}`,
  ].join('\n');
}
