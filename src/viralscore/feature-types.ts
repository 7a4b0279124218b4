// The one place viralscore reaches the features module.
export {
  extractFeatures,
  featureGroupNames,
  loadFeatureMatrix,
  openFeatureContext,
} from '../features/index.js';
export type {
  Draft,
  FeatureContext,
  FeatureGroupMatrix,
  FeatureGroupName,
  FeatureMatrix,
} from '../features/index.js';
