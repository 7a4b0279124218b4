// The one place viralscore reaches the features module's contract.
// TODO(#5): switch to '../features/index.js' once the features face is committed.
export { featureGroupNames } from '../features/types.js';
export type { Draft, FeatureGroupName, FeatureGroupMatrix, FeatureMatrix } from '../features/types.js';
