// Words the scoring benchmarks build drafts from: openers, topics, endings and hashtags of short-video
// captions. The score bench uses the first six openers and topics; the serve bench all of them.
export const openers = [
  'Wait for it:',
  'You will not believe',
  '3 tips for',
  'POV:',
  'Why nobody talks about',
  'I tried',
  'Stop scrolling:',
  'Day 12 of',
  'Rating',
  'The truth about',
];
export const topics = [
  'the perfect pasta',
  'a 5 minute workout',
  'my cat at 3am',
  'saving money in 2025',
  'this trick',
  'the new iPhone',
  'street food in Hanoi',
  'a tiny apartment',
  'learning guitar',
  'cold showers',
  'my first marathon',
  'fixing a bike',
];
export const endings = [
  'Would you try it?',
  'Comment your pick!',
  'Save this for later.',
  'Share it with a friend who needs it.',
  'Part 2 tomorrow.',
  '',
  'Honestly? Worth it.',
  'Follow for more 🔥',
];
export const tags = [
  'fyp',
  'food',
  'viral',
  'fitness',
  'cat',
  'money',
  'tech',
  'travel',
  'music',
  'diy',
  'learnontiktok',
  'comedy',
];
