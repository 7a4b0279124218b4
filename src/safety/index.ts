/**
 * safety: policy packs (banned terms, sensitive topics, per-region and brand rules) as data files, a matcher
 * robust to case, accents, l33t and spacing, brand-safety scores and the PolicyPenalty on ViralScore, the
 * decoding-time mask that keeps banned terms out of generated text, and the audit table in the lake.
 */
export {
  parsePolicyPack,
  safeParsePolicyPack,
  loadPolicyPack,
  defaultPolicyPacks,
  defaultPackPath,
  bannedTermsPack,
  severities,
  ruleKinds,
  PACK_FORMAT,
} from './pack.js';
export type { PolicyPack, PolicyRule, RuleOverride, RuleKind, Severity } from './pack.js';
export {
  Policy,
  checkPolicy,
  policyFor,
  brandSafetyScore,
  severityWeights,
  isCueKind,
  termPatterns,
} from './policy.js';
export type { PolicyHit, PolicyVerdict, CheckPolicyOptions, CheckPolicyCallOptions } from './policy.js';
export { PolicyPenalty, withoutCues } from './penalty.js';
export type { PolicyPenaltyOptions, PenaltyResult, PenaltyInputs } from './penalty.js';
export { BannedSequenceMask, MaskCursor, byteLevelPieces, maskingProcessor } from './decoding-mask.js';
export type {
  BannedSequenceMaskOptions,
  MaskStepOptions,
  VocabPiece,
  MaskingContext,
  MaskingProcessorOptions,
} from './decoding-mask.js';
export { screenCandidates } from './screen.js';
export type { ScreenInput, ScreenedCandidate, ScreenOptions } from './screen.js';
export { canonicalize } from './canonical.js';
export { recordAudit, readAudit, auditSchema, AUDIT_TABLE } from './audit.js';
export type { AuditRecord, AuditCandidate, AuditRow, ReadAuditOptions } from './audit.js';
