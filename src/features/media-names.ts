/** Columns of the `audio` group (see media.ts for how each is computed). */
export const audioFeatureNames = [
  'durationSeconds',
  'loudnessMean',
  'loudnessStd',
  'loudnessMax',
  'loudnessSlope',
  'energyFirst3s',
  'energyFirst3sRatio',
  'tempoBpm',
  'tempoStrength',
  'pitchMean',
  'pitchStd',
  'voicedShare',
  'spectralCentroidMean',
  'spectralCentroidStd',
  ...Array.from({ length: 13 }, (_, i) => `mfcc${i + 1}Mean`),
] as const;

/** Columns of the `video` group (see media.ts). */
export const videoFeatureNames = [
  'durationSeconds',
  'brightnessMean',
  'brightnessStd',
  'contrastMean',
  'colourfulnessMean',
  'sharpnessMean',
  'cutsPerMinute',
  'motionMean',
  'motionStd',
  'firstFrameBrightness',
  'firstFrameColourfulness',
  'firstFrameSharpness',
  'motionFirst3s',
  'thumbnailTime',
  'thumbnailScore',
] as const;
