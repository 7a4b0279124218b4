import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IoError, ValidationError } from '../core/index.js';
import { tempLake } from '../../test/temp-lake.js';
import { ingestFile } from './ingest.js';

let t: Awaited<ReturnType<typeof tempLake>>;
beforeEach(async () => {
  t = await tempLake();
});
afterEach(() => t.cleanup());

const observedAt = new Date('2025-06-01T00:00:00Z');
const rows = (sql: string) => t.lake.all(sql);

describe('ingestFile shapes', () => {
  it('reads the Research API fields from CSV, with hashtags from the list and the text', async () => {
    const file = t.write(
      'research.csv',
      'id,username,video_description,create_time,region_code,view_count,like_count,comment_count,share_count,hashtag_names,effect_ids\n' +
        '111,alice,"hello #Fun world #extra",1717200000,US,1000,100,10,5,"fun,dance",e1\n',
    );
    const r = await ingestFile(t.lake, file, { observedAt });
    expect(r).toMatchObject({ shape: 'tiktok-research', rowsAccepted: 1, newPosts: 1, newSnapshots: 1 });
    const [post] = await rows(
      `SELECT post_key, author_key, posted_at::VARCHAR AS posted, plays::INTEGER AS plays, region, attributes FROM posts`,
    );
    expect(post).toEqual({
      post_key: 'tiktok:111',
      author_key: 'tiktok:alice',
      posted: '2024-06-01 00:00:00',
      plays: 1000,
      region: 'US',
      attributes: JSON.stringify({ effect_ids: 'e1' }),
    });
    const tags = await rows(`SELECT tag, origin FROM hashtags ORDER BY tag`);
    expect(tags).toEqual([
      { tag: 'dance', origin: 'field' },
      { tag: 'extra', origin: 'text' },
      { tag: 'fun', origin: 'field' },
    ]);
  });

  it('reads the scraper export from a JSON array with nested authorMeta and hashtags[].name', async () => {
    const file = t.write(
      'scrape.json',
      JSON.stringify([
        {
          id: '222',
          text: 'clip',
          createTime: 1717200000,
          playCount: 5000,
          diggCount: 50,
          shareCount: 7,
          commentCount: 3,
          authorMeta: { name: 'bob', fans: 1200 },
          musicMeta: { musicName: 'song', musicId: 'm1' },
          videoMeta: { duration: 15 },
          hashtags: [{ name: 'Cats' }],
          webVideoUrl: 'https://example.com/v/222',
        },
      ]),
    );
    const r = await ingestFile(t.lake, file, { observedAt });
    expect(r).toMatchObject({ shape: 'tiktok-scraper', reader: 'json', rowsAccepted: 1 });
    expect(await rows(`SELECT music_title, duration_seconds, shares::INTEGER AS s FROM posts`)).toEqual([
      { music_title: 'song', duration_seconds: 15, s: 7 },
    ]);
    expect(await rows(`SELECT name, followers::INTEGER AS f FROM authors`)).toEqual([
      { name: 'bob', f: 1200 },
    ]);
    expect(await rows(`SELECT tag FROM hashtags`)).toEqual([{ tag: 'cats' }]);
    expect(await rows(`SELECT kind, uri FROM media`)).toEqual([
      { kind: 'video', uri: 'https://example.com/v/222' },
    ]);
  });

  it('reads the Research API fields from JSON lines and from Parquet', async () => {
    const line = {
      id: 333,
      video_description: 'x',
      create_time: 1717200000,
      view_count: 10,
      hashtag_names: ['a'],
    };
    const jsonl = t.write('api.jsonl', `${JSON.stringify(line)}\n`);
    expect(await ingestFile(t.lake, jsonl, { observedAt })).toMatchObject({
      reader: 'jsonl',
      rowsAccepted: 1,
    });
    const parquet = `${t.dir}/api.parquet`;
    await t.lake
      .run(`COPY (SELECT 444 AS id, 'y' AS video_description, 1717200000 AS create_time, 20 AS view_count,
      ['b', 'c'] AS hashtag_names) TO '${parquet}' (FORMAT parquet)`);
    expect(await ingestFile(t.lake, parquet, { observedAt })).toMatchObject({
      reader: 'parquet',
      rowsAccepted: 1,
    });
    expect(await rows(`SELECT post_key, tag FROM hashtags ORDER BY 1, 2`)).toEqual([
      { post_key: 'tiktok:333', tag: 'a' },
      { post_key: 'tiktok:444', tag: 'b' },
      { post_key: 'tiktok:444', tag: 'c' },
    ]);
  });

  it('keeps the status columns of the transcription CSV as attributes', async () => {
    const file = t.write(
      'claims.csv',
      '#,claim_status,video_id,video_duration_sec,video_transcription_text,verified_status,author_ban_status,video_view_count,video_like_count,video_share_count,video_download_count,video_comment_count\n' +
        '1,claim,7017666017,59,someone said #this,not verified,active,343296,19425,241,1,0\n',
    );
    expect(await ingestFile(t.lake, file, { observedAt })).toMatchObject({ shape: 'tiktok-transcripts' });
    const [post] = await rows(`SELECT transcript, saves::INTEGER AS saves, attributes FROM posts`);
    expect(post).toEqual({
      transcript: 'someone said #this',
      saves: 1,
      attributes: JSON.stringify({
        '#': '1',
        claim_status: 'claim',
        verified_status: 'not verified',
        author_ban_status: 'active',
      }),
    });
  });

  it('reads humanised counts and mm:ss durations, and a recrawl adds a snapshot and updates the post', async () => {
    const header =
      'user_name,user_nfollower,vid_id,vid_caption,vid_postTime,vid_scrapeTime,vid_duration,vid_nview,vid_nlike,vid_ncomment,vid_nshare,vid_nsave,vid_hashtags\n';
    const first = t.write(
      'vn.csv',
      header +
        'c1,304.9K,7506,cap,2025-05-21 09:44:45,2025-05-29 15:38:41,01:05,541.2K,21.9K,454,742,1098,"a, b"\n',
    );
    const later = t.write(
      'vn2.csv',
      header +
        'c1,305.4K,7506,cap,2025-05-21 09:44:45,2025-06-06 10:16:49,01:05,1.4M,30K,657,1161,1716,"a, b"\n',
    );
    await ingestFile(t.lake, first);
    const r = await ingestFile(t.lake, later);
    expect(r).toMatchObject({ newPosts: 0, newSnapshots: 1 });
    expect(
      await rows(
        `SELECT plays::INTEGER AS plays, duration_seconds AS d, observed_at::VARCHAR AS o FROM posts`,
      ),
    ).toEqual([{ plays: 1_400_000, d: 65, o: '2025-06-06 10:16:49' }]);
    expect(
      await rows(
        `SELECT plays::INTEGER AS p, round(hours_since_posting, 2) AS h FROM snapshots ORDER BY observed_at`,
      ),
    ).toEqual([
      { p: 541_200, h: 197.9 },
      { p: 1_400_000, h: 384.53 },
    ]);
    expect(await rows(`SELECT followers::INTEGER AS f FROM authors`)).toEqual([{ f: 305_400 }]);
    // Ingesting the older export again must not move the post back.
    await ingestFile(t.lake, first);
    expect(await t.lake.count(`SELECT plays FROM posts`)).toBe(1_400_000);
  });

  it('takes plays or views and create_time or posted_time in the one-scrape export', async () => {
    const file = t.write(
      'en.csv',
      'video_id,author,description,likes,comments,shares,plays,hashtags,music,create_time,fetch_time,views,posted_time\n' +
        '1,a,x,10,1,1,686000.0,"fyp, dogs",s,2025-05-19 15:45:53,,,\n' +
        '2,b,y,10,1,1,,,s,,2025-05-25 11:38:31,238300.0,2025-05-21 02:09:20\n',
    );
    expect(await ingestFile(t.lake, file, { observedAt })).toMatchObject({
      shape: 'tiktok-trending',
      rowsAccepted: 2,
    });
    expect(
      await rows(
        `SELECT source_id, plays::INTEGER AS p, posted_at::VARCHAR AS t, observed_at::VARCHAR AS o FROM posts ORDER BY 1`,
      ),
    ).toEqual([
      { source_id: '1', p: 686_000, t: '2025-05-19 15:45:53', o: '2025-06-01 00:00:00' },
      { source_id: '2', p: 238_300, t: '2025-05-21 02:09:20', o: '2025-05-25 11:38:31' },
    ]);
  });

  it('turns YouTube trending days into snapshots, with the year from the file name', async () => {
    const header =
      'video_id,title,channel_title,category_id,tags,views,likes,dislikes,comment_total,thumbnail_link,date\n';
    const file = t.write(
      'yt_2017.csv',
      header +
        'v1,T,C,24,a|"b",100,1,0,1,https://i.ytimg.com/vi/v1/default.jpg,30.09\n' +
        'v1,T,C,24,a|b,150,2,0,1,https://i.ytimg.com/vi/v1/default.jpg,1.1\n' +
        'v1,T,C,24,a|b,160,2,0,1,https://i.ytimg.com/vi/v1/default.jpg,1.1\n' +
        ',T2,C,24,,50,1,0,1,https://i.ytimg.com/vi/v2/default.jpg,13.1\n',
    );
    const r = await ingestFile(t.lake, file);
    expect(r).toMatchObject({
      shape: 'youtube-trending',
      rowsAccepted: 4,
      duplicatesMerged: 1,
      newPosts: 2,
      newSnapshots: 3,
    });
    expect(
      await rows(
        `SELECT post_key, observed_at::VARCHAR AS o, plays::INTEGER AS p FROM snapshots ORDER BY 1, 2`,
      ),
    ).toEqual([
      { post_key: 'youtube:v1', o: '2017-09-30 00:00:00', p: 100 },
      { post_key: 'youtube:v1', o: '2017-10-01 00:00:00', p: 160 },
      { post_key: 'youtube:v2', o: '2017-10-13 00:00:00', p: 50 },
    ]);
    await expect(ingestFile(t.lake, t.write('yt.csv', header))).rejects.toThrow(/--year/);
  });
});

describe('ingestFile rejects', () => {
  it('stores each kind of bad row with its line, field and reason, and takes the rest', async () => {
    const file = t.write(
      'bad.csv',
      'id,create_time,view_count,like_count\n' +
        '1,1717200000,10,1\n' + // line 2: fine
        ',1717200000,10,1\n' + // line 3: missing id
        '3,1717200000,abc,1\n' + // line 4: not a number
        '4,1717200000,10,-5\n' + // line 5: negative
        '5,99999999999,10,1\n' + // line 6: year 5138
        '6,1717200000,10,1,extra\n' + // line 7: malformed row
        '7,yesterday,10,1\n' + // line 8: not a timestamp
        '8,1717200000,1.2K,1\n', // line 9: fine
    );
    const r = await ingestFile(t.lake, file, { format: 'tiktok-research', observedAt });
    expect(r).toMatchObject({ rowsRead: 8, rowsAccepted: 2, rowsRejected: 6 });
    expect(await rows(`SELECT line::INTEGER AS line, field, reason, raw FROM rejects ORDER BY line`)).toEqual(
      [
        { line: 3, field: 'id', reason: 'missing_id', raw: null },
        { line: 4, field: 'view_count', reason: 'not_a_number', raw: 'abc' },
        { line: 5, field: 'like_count', reason: 'negative_count', raw: '-5' },
        { line: 6, field: 'create_time', reason: 'timestamp_out_of_range', raw: '99999999999' },
        { line: 7, field: null, reason: 'malformed_row', raw: '6,1717200000,10,1,extra' },
        { line: 8, field: 'create_time', reason: 'bad_timestamp', raw: 'yesterday' },
      ],
    );
    const [detail] = await rows(`SELECT detail FROM rejects WHERE line = 4`);
    expect(detail.detail).toBe('`view_count` is "abc", expected a count such as 1234 or 1.2K');
  });

  it('numbers rejected rows right in a CSV large enough to be read in parallel pieces', async () => {
    // DuckDB splits a CSV into pieces of about 8 MB for its threads; 20,000 rows of 1 KB make three.
    const filler = 'x'.repeat(1000);
    const bad = new Map([
      [3_000, (i: number) => `${i},${i},"${filler}",1717200000,-7`], // negative count
      [9_000, (i: number) => `${i},${i},"${filler}",1717200000,10,extra`], // malformed row
      [12_500, (i: number) => `,${i},"${filler}",1717200000,10`], // missing id
      [19_998, (i: number) => `${i},${i},"${filler}",1717200000,lots`], // not a number
    ]);
    const lines = ['id,username,video_description,create_time,view_count'];
    for (let i = 0; i < 20_000; i++)
      lines.push(bad.get(i)?.(i) ?? `${i},${i},"${filler} #t${i % 7}",1717200000,${i}`);
    const file = t.write('big.csv', lines.join('\n') + '\n');
    const r = await ingestFile(t.lake, file, { observedAt });
    expect(r).toMatchObject({ rowsRead: 20_000, rowsAccepted: 19_996, rowsRejected: 4 });
    // Record i (0-based) is on line i + 2.
    expect(await rows(`SELECT line::INTEGER AS line, reason FROM rejects ORDER BY line`)).toEqual([
      { line: 3_002, reason: 'negative_count' },
      { line: 9_002, reason: 'malformed_row' },
      { line: 12_502, reason: 'missing_id' },
      { line: 20_000, reason: 'not_a_number' },
    ]);
    const [counts] = await rows(`SELECT count(*)::INTEGER AS posts, max(plays)::INTEGER AS most FROM posts`);
    expect(counts).toEqual({ posts: 19_996, most: 19_999 });
  });

  it('rejects a broken JSON line with its line number', async () => {
    const file = t.write('x.jsonl', '{"id": 1, "view_count": 5}\n\n{"id": 2, "view_count": \n{"id": 3}\n');
    const r = await ingestFile(t.lake, file, { format: 'tiktok-research', observedAt });
    expect(r).toMatchObject({ rowsAccepted: 2, rowsRejected: 1 });
    expect(await rows(`SELECT line::INTEGER AS line, reason FROM rejects`)).toEqual([
      { line: 3, reason: 'broken_json' },
    ]);
  });

  it('names a file that cannot be read at all', async () => {
    await expect(ingestFile(t.lake, `${t.dir}/missing.csv`)).rejects.toBeInstanceOf(IoError);
    const notJson = t.write('bad.json', '[{"id": 1}, oops');
    await expect(ingestFile(t.lake, notJson)).rejects.toThrow(/bad\.json: cannot be read as json/);
    await expect(ingestFile(t.lake, t.write('odd.csv', 'a,b\n1,2\n'))).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('ingestFile transactions', () => {
  const csv = () =>
    t.write(
      'tx.csv',
      'id,username,video_description,create_time,view_count,share_count\n' +
        '1,a,"#x hi",1717200000,10,1\n2,b,y,1717200000,abc,1\n3,c,z,1717200000,30,3\n',
    );

  it('changes nothing when the same file is ingested again', async () => {
    const file = csv();
    await ingestFile(t.lake, file, { observedAt });
    const dump = async () => ({
      counts: await t.lake.tableCounts(),
      posts: await rows(`SELECT * EXCLUDE (observed_at, posted_at) FROM posts ORDER BY post_key`),
      rejects: await rows(`SELECT * FROM rejects`),
    });
    const before = await dump();
    const again = await ingestFile(t.lake, file, { observedAt });
    expect(again).toMatchObject({ newPosts: 0, newSnapshots: 0, rowsRejected: 1 });
    expect(await dump()).toEqual(before);
  });

  it('leaves the lake as it was when a file fails midway', async () => {
    const file = csv();
    const before = await t.lake.tableCounts();
    const failing = {
      update(_done: number, _total: number | undefined, label?: string) {
        // Rejects and authors are written by now; the posts step has not run.
        if (label?.endsWith(': posts')) throw new Error('injected failure');
      },
      finish() {},
    };
    await expect(ingestFile(t.lake, file, { observedAt, progress: failing })).rejects.toThrow(
      'injected failure',
    );
    expect(await t.lake.tableCounts()).toEqual(before);
    const reopened = await t.reopen();
    expect(await reopened.tableCounts()).toEqual(before);
    expect(await ingestFile(reopened, file, { observedAt })).toMatchObject({ newPosts: 2 });
  });
});
