import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../test/temp-lake.js';
import { ingestBundledSample } from '../src/lake/index.js';
import { createServer, type TkllmServer } from '../src/server/index.js';
import { startServe } from '../src/cli/server-commands.js';
import { prepareWorkspace, TINY_WORKSPACE } from '../src/generate/index.js';
import { launchBrowser } from './browser.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const studioDir = join(root, 'web', 'dist');

let fixture: Awaited<ReturnType<typeof tempLake>>;
let app: TkllmServer;
let base: string;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let context: BrowserContext;
let page: Page;
const offsite: string[] = [];

beforeAll(async () => {
  // The studio as `npm run build:web` makes it, so the test sees what `tkllm serve` serves.
  await build({ configFile: join(root, 'web', 'vite.config.ts'), logLevel: 'warn' });
  fixture = await tempLake();
  await ingestBundledSample(fixture.lake);
  app = await createServer({ lake: fixture.lake, studioDir });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchBrowser();
  context = browser.context;
  page = await context.newPage();
  // Every request the page makes must stay on this server: no CDN, no font service.
  page.on('request', (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith('data:')) offsite.push(request.url());
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  fixture?.cleanup();
});

describe('the studio', () => {
  it('shows the lake summary of the bundled sample with its charts, and a screenshot goes to docs/', async () => {
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('pageerror', (e) => failed.push(e.message));
    await page.goto(`${base}/`);
    await expect.poll(() => page.textContent('#lake-status')).toMatch(/^403 posts from youtube\./);
    const figures = await page.$$eval('#lake-figures div', (divs) =>
      divs.map((d) => [d.querySelector('dt')?.textContent, d.querySelector('dd')?.textContent]),
    );
    expect(figures).toContainEqual(['Posts', '403']);
    expect(figures).toContainEqual(['Authors', '344']);
    await expect.poll(() => page.locator('#trends-table tbody tr').count()).toBeGreaterThan(1);
    expect(await page.locator('#hashtags-table tbody tr').count()).toBe(10);
    expect(await page.textContent('#hashtags-table tbody tr td')).toBe('#funny');
    const bins = await page.$$eval('#engagement-table tbody tr td:nth-child(2)', (tds) =>
      tds.map((td) => Number(td.textContent)),
    );
    expect(bins.reduce((a, b) => a + b, 0)).toBe(403);
    // The charts drew something: a canvas with non-blank pixels.
    const inked = await page.$eval('#hashtags-chart', (c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(1000);
    expect(await page.textContent('#models')).toMatch(/ViralScore: not trained/);
    expect(failed).toEqual([]);
    expect(offsite).toEqual([]);
    mkdirSync(join(root, 'docs'), { recursive: true });
    await page.screenshot({ path: join(root, 'docs', 'studio.png'), fullPage: true });
  });

  it('says no model is trained yet when a draft is scored from the keyboard, instead of showing numbers', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('Draft script or caption').focus();
    await page.keyboard.type('Would you eat ramen at 3am? Tag 3 friends #food');
    await page.keyboard.press('Control+Enter');
    const result = page.locator('#score-result .notice');
    await expect.poll(() => result.textContent()).toBe('no model trained yet — run tkllm viralscore train');
    expect(await page.locator('#score-result meter').count()).toBe(0);
    // The policy check needs no model: its verdict shows beside the message.
    await expect
      .poll(() => page.textContent('#check-result .policy'))
      .toMatch(/^Policy: allowed · brand safety \d+(\.\d)?%$/);
    expect(await page.textContent('#check-result li')).toMatch(/^"Tag 3 friends" — engagement-bait \(low\)/);
    await page.screenshot({ path: join(root, 'docs', 'studio-draft.png'), fullPage: false });
  });

  it('says no language model is trained yet when generating', async () => {
    await page.getByLabel('Topic or opening line').fill('ramen at 3am');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.textContent('#generate-status')).toMatch(/no language model trained yet/);
    expect(await page.locator('#generate-candidates > li').count()).toBe(0);
  });

  it('labels every form control and reaches the draft box by keyboard', async () => {
    const unlabelled = await page.$$eval('textarea, input, select', (els) =>
      els.filter((el) => (el as HTMLInputElement).labels?.length === 0).map((el) => el.id),
    );
    expect(unlabelled).toEqual([]);
    await page.goto(`${base}/`);
    const focused: string[] = [];
    for (let i = 0; i < 40 && !focused.includes('draft-text'); i++) {
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate(() => document.activeElement?.id ?? ''));
    }
    expect(focused).toContain('draft-text');
  });
});

describe('the studio on a tiny trained LM and estimator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-e2e-generate-'));
  let serve: Awaited<ReturnType<typeof startServe>> | undefined;
  beforeAll(async () => {
    await prepareWorkspace(dir, TINY_WORKSPACE);
    serve = await startServe({ dataDir: dir, host: '127.0.0.1', port: 0, logLevel: 'silent' });
  }, 180_000);
  afterAll(async () => {
    await serve?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams candidates as they are written, then shows them ranked, best first, with their breakdown', async () => {
    await page.goto(serve!.url);
    // A record of the list as it changes: each candidate's text while streaming, then the ranked state.
    await page.evaluate(() => {
      const list = document.getElementById('generate-candidates')!;
      const log: { state: string; index: string; text: string }[] = [];
      (window as unknown as { generationLog: typeof log }).generationLog = log;
      new MutationObserver(() => {
        const state = list.dataset.state ?? '';
        if (state === 'ranked' && log.at(-1)?.state !== 'ranked') log.push({ state, index: '', text: '' });
        if (state !== 'streaming') return;
        for (const li of Array.from(list.querySelectorAll<HTMLLIElement>(':scope > li')))
          log.push({
            state,
            index: li.dataset.index ?? '',
            text: li.querySelector('.text')?.textContent ?? '',
          });
      }).observe(list, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await page.getByLabel('Topic or opening line').fill('What');
    await page.getByLabel('Candidates', { exact: true }).fill('6');
    await page.getByLabel('Length').selectOption('30');
    await page.getByLabel('Style strength').fill('0.5');
    await page.getByLabel('Hashtags of the post').fill('#fyp food');
    await page.getByLabel('Topic or opening line').press('Enter');
    await expect
      .poll(() => page.textContent('#generate-status'), { timeout: 60_000 })
      .toMatch(/^\d+ of 6 sampled candidates, best first/);
    expect(await page.getAttribute('#generate-candidates', 'aria-busy')).toBe('false');
    const log = await page.evaluate(
      () =>
        (window as unknown as { generationLog: { state: string; index: string; text: string }[] })
          .generationLog,
    );
    const rankedAt = log.findIndex((e) => e.state === 'ranked');
    const streamed = log.slice(0, Math.max(rankedAt, 0)).filter((e) => e.text.length > 'What'.length);
    // Text streamed in before the ranking, candidate by candidate.
    expect(rankedAt).toBeGreaterThan(0);
    expect(streamed.length).toBeGreaterThan(0);
    const items = page.locator('#generate-candidates > li');
    const count = await items.count();
    expect(count).toBeGreaterThan(0);
    const hints = await page.$$eval('#generate-candidates > li > .hint', (ps) =>
      ps.map((p) => p.textContent ?? ''),
    );
    const scores = hints.map((h) => Number(/rank score (-?[\d.]+)/.exec(h)?.[1]));
    expect(hints[0]).toMatch(/^#1 · /);
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeLessThanOrEqual(scores[i - 1]);
    expect(await page.locator('#generate-candidates > li').first().locator('meter').count()).toBe(5);
    const finals = await page.$$eval('#generate-candidates > li', (lis) =>
      lis.map((li) => ({
        index: li.dataset.index ?? '',
        text: li.querySelector('.text')?.textContent ?? '',
      })),
    );
    for (const f of finals) {
      expect(f.text, JSON.stringify(finals)).toMatch(/^What/);
      // Whatever streamed for a returned candidate is a prefix of its final text.
      for (const e of streamed.filter((s) => s.index === f.index))
        expect(f.text.startsWith(e.text)).toBe(true);
    }
  }, 120_000);
});
