import { ValidationError } from '../core/index.js';

/**
 * The KPIs a report can compare, each a per-unit value at one horizon. Counts are per unit; rates divide by
 * the unit's plays (units without plays have no rate).
 */
export const kpiExpressions = {
  plays: 'plays::DOUBLE',
  likes: 'likes::DOUBLE',
  comments: 'comments::DOUBLE',
  shares: 'shares::DOUBLE',
  rewatches: 'rewatches::DOUBLE',
  conversions: 'conversions::DOUBLE',
  watchThrough: 'watch_through',
  likeRate: 'likes::DOUBLE / nullif(plays, 0)',
  shareRate: 'shares::DOUBLE / nullif(plays, 0)',
  conversionRate: 'conversions::DOUBLE / nullif(plays, 0)',
} as const;

/** A KPI name. */
export type Kpi = keyof typeof kpiExpressions;
/** All KPI names, in report order. */
export const kpis = Object.keys(kpiExpressions) as Kpi[];

/** Checks a KPI name from outside (CLI, options) and returns it typed. */
export function parseKpi(name: string): Kpi {
  if (!(kpis as string[]).includes(name))
    throw new ValidationError(`unknown KPI "${name}": expected one of ${kpis.join(', ')}`);
  return name as Kpi;
}
