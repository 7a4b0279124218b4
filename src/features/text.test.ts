import { describe, expect, it } from 'vitest';
import { analyseText, splitSentences, templateOf } from './text.js';
import { emotionFeatureNames, hookOwnFeatureNames, textFeatureNames } from './text.js';
import { sentenceAffect } from './lexicon.js';

const text = (a: ReturnType<typeof analyseText>, name: (typeof textFeatureNames)[number]) =>
  a.text[textFeatureNames.indexOf(name)];
const hook = (a: ReturnType<typeof analyseText>, name: (typeof hookOwnFeatureNames)[number]) =>
  a.hook[hookOwnFeatureNames.indexOf(name)];
const emotion = (a: ReturnType<typeof analyseText>, name: (typeof emotionFeatureNames)[number]) =>
  a.emotion[emotionFeatureNames.indexOf(name)];

describe('text group', () => {
  it('counts words, sentences, emoji, tags, mentions, numbers, questions and calls to action', () => {
    const a = analyseText('Did you see this?! 3 tips 🔥🔥 for @maria #diy #home. Follow for more!');
    expect(text(a, 'sentences')).toBe(3);
    // did you see this / 3 tips for / follow for more: tags and mentions are not words.
    expect(text(a, 'words')).toBe(10);
    expect(text(a, 'emoji')).toBe(2);
    expect(text(a, 'hashtags')).toBe(2);
    expect(text(a, 'mentions')).toBe(1);
    expect(text(a, 'numbers')).toBe(1);
    expect(text(a, 'questions')).toBe(1);
    expect(text(a, 'exclamations')).toBe(2);
    expect(text(a, 'secondPerson')).toBe(1);
    expect(text(a, 'callsToAction')).toBe(1);
    expect(a.hashtags).toEqual(['diy', 'home']);
  });

  it('scores readability with Flesch reading ease', () => {
    // "The cat sat on the mat." 6 words, 6 syllables, 1 sentence: 206.835 - 1.015*6 - 84.6*1 = 116.145.
    expect(text(analyseText('The cat sat on the mat.'), 'fleschReadingEase')).toBeCloseTo(116.145, 3);
    const hard = analyseText(
      'Institutional considerations notwithstanding, comprehensive organisational restructuring remains indispensable.',
    );
    expect(text(hard, 'fleschReadingEase')).toBeLessThan(0);
  });

  it('gives an empty script zeros, not NaN', () => {
    const a = analyseText('');
    expect([...a.text, ...a.hook, ...a.emotion].every((v) => Number.isFinite(v))).toBe(true);
  });
});

describe('hook', () => {
  it('reads the first sentence: question, number, second person, curiosity gap, imperative', () => {
    const q = analyseText('Why do cats love boxes? Here is the answer.');
    expect(q.hookText).toBe('Why do cats love boxes?');
    expect(hook(q, 'hookIsQuestion')).toBe(1);
    expect(hook(q, 'hookWords')).toBe(5);
    const gap = analyseText("You won't believe what happened next. It was wild.");
    expect(hook(gap, 'hookCuriosityGap')).toBe(1);
    expect(hook(gap, 'hookSecondPerson')).toBe(1);
    const imp = analyseText('Stop scrolling. 3 habits that changed my life.');
    expect(hook(imp, 'hookImperative')).toBe(1);
    expect(hook(imp, 'hookHasNumber')).toBe(0);
    expect(hook(analyseText('Ten minutes to a better you'), 'hookHasNumber')).toBe(1);
  });

  it('splits titles at | and // as sentence breaks', () => {
    expect(splitSentences('BLIND TASTE TEST // Grace Helbig | Vlog')).toEqual([
      'BLIND TASTE TEST',
      'Grace Helbig',
      'Vlog',
    ]);
  });
});

describe('emotion arc', () => {
  it('follows sentiment from start to end with the signed peak and the swing', () => {
    const a = analyseText('I love this. It went terribly wrong. Good ending.');
    expect(emotion(a, 'sentimentStart')).toBe(3); // love +3
    expect(emotion(a, 'sentimentEnd')).toBe(3); // good +3
    expect(emotion(a, 'sentimentPeak')).toBe(3);
    expect(emotion(a, 'sentimentSwing')).toBeGreaterThan(4);
    expect(emotion(a, 'negativeSentenceShare')).toBeCloseTo(1 / 3);
  });

  it('flips negated words, sharpens intensified ones and raises arousal with ! and capitals', () => {
    expect(sentenceAffect(['not', 'good'], [], 0, 0).sentiment).toBe(-3);
    expect(sentenceAffect(['so', 'good'], [], 0, 0).sentiment).toBe(4.5);
    const calm = sentenceAffect(['good'], [], 0, 0).arousal;
    expect(sentenceAffect(['good'], [], 3, 1).arousal).toBe(calm + 1.5 + 2);
    expect(sentenceAffect([], ['😍'], 0, 0).sentiment).toBeGreaterThan(0);
  });
});

describe('templates', () => {
  it('masks numbers, names and the creator, so instances of one format meet', () => {
    expect(templateOf('5 things Anna Smith hates')).toBe(templateOf('7 things Tom hates'));
    expect(templateOf('grace tries sushi', 'Grace')).toBe(templateOf('ben tries sushi', 'Ben'));
    expect(templateOf('5 things Anna hates')).not.toBe(templateOf('5 things Anna loves'));
  });
});
