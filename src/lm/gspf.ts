import { ValidationError } from '../core/index.js';
import type { Tensor } from '../tensor/index.js';
import type { LmBatch } from './data.js';
import { batchLoss } from './loss.js';
import type { LmModel } from './model.js';

/** Options of gradient-surgical fine-tuning. */
export interface GspfOptions {
  /** Unfreeze the k layers with the largest relative gradient norm (default 2 when no threshold). */
  topK?: number;
  /** Or unfreeze every layer whose ‖g‖/‖θ‖ is at least this (overrides topK when given). */
  threshold?: number;
  /** Batches whose summed gradients measure the norms (default 2). */
  probeBatches?: number;
  /** Re-measure and re-select every this many steps ("dynamic freezing"); 0 selects once (default 0). */
  reselectEvery?: number;
  /**
   * Let the embeddings (token, position, style) be selected (default false). Updating them needs the
   * gradient all the way down through every block, which is the cost GSPF exists to cut: with only upper
   * layers unfrozen, backward stops at the lowest of them.
   */
  includeEmbeddings?: boolean;
}

/** A layer GSPF may freeze or update as a whole. */
export interface LayerGroup {
  name: string;
  params: Tensor[];
}

/** The relative gradient norm of a layer group. */
export interface LayerScore {
  name: string;
  /** ‖g‖ / ‖θ‖ over all parameters of the group. */
  ratio: number;
}

/**
 * The layers of a TKLLM model as GSPF sees them: the embeddings (token, position, style), each
 * transformer block, and the output (final norm, LM head, direct connections, virality head).
 */
export function layerGroups(model: LmModel): LayerGroup[] {
  const groups: LayerGroup[] = [
    {
      name: 'embed',
      params: [...model.tok.parameters(), ...model.pos.parameters(), ...model.style.parameters()],
    },
  ];
  model.blocks.items.forEach((block, i) => groups.push({ name: `block.${i}`, params: block.parameters() }));
  groups.push({
    name: 'head',
    params: [
      ...model.lnF.parameters(),
      ...model.head.parameters(),
      ...(model.direct?.parameters() ?? []),
      ...(model.virality?.parameters() ?? []),
    ],
  });
  return groups;
}

/** Resolves and checks GSPF options. */
export function resolveGspfOptions(options: GspfOptions): Required<Omit<GspfOptions, 'threshold'>> & {
  threshold: number | null;
} {
  const resolved = {
    includeEmbeddings: options.includeEmbeddings ?? false,
    topK: options.topK ?? 2,
    threshold: options.threshold ?? null,
    probeBatches: options.probeBatches ?? 2,
    reselectEvery: options.reselectEvery ?? 0,
  };
  if (!Number.isInteger(resolved.topK) || resolved.topK <= 0)
    throw new ValidationError(`GSPF \`topK\` must be a positive integer, got ${resolved.topK}`);
  if (resolved.threshold !== null && !(resolved.threshold >= 0))
    throw new ValidationError(`GSPF \`threshold\` must be a number >= 0, got ${resolved.threshold}`);
  if (!Number.isInteger(resolved.probeBatches) || resolved.probeBatches <= 0)
    throw new ValidationError(
      `GSPF \`probeBatches\` must be a positive integer, got ${resolved.probeBatches}`,
    );
  if (!Number.isInteger(resolved.reselectEvery) || resolved.reselectEvery < 0)
    throw new ValidationError(
      `GSPF \`reselectEvery\` must be an integer >= 0, got ${resolved.reselectEvery}`,
    );
  return resolved;
}

/** What one GSPF probe measured. */
export interface LayerProbe {
  /** ‖g‖/‖θ‖ of every candidate layer (the embeddings only when they are candidates). */
  scores: LayerScore[];
  /**
   * The first probe batch's loss figures and the gradient it gave each candidate parameter (before the
   * other probe batches were added), so that the training step on that batch need not run it again.
   */
  first: { ce: number; viralityMse: number | null; grads: Map<Tensor, Float32Array> };
}

/**
 * Measures each candidate layer's relative gradient norm ‖g‖/‖θ‖ over `batches` with every candidate
 * unfrozen (gradients summed over the batches), then clears the gradients. The scale-free ratio compares
 * layers of different sizes: it is how far one step would move the layer relative to where it is. The
 * embeddings are candidates only with `includeEmbeddings`; otherwise they stay frozen during the probe,
 * so that it computes no embedding gradient and its backward stops at the lowest block, as the steps do.
 */
export function probeLayers(
  model: LmModel,
  batches: readonly LmBatch[],
  mu: number,
  includeEmbeddings = false,
): LayerProbe {
  if (batches.length === 0) throw new ValidationError('a GSPF probe needs at least one batch');
  const groups = layerGroups(model).filter((g) => includeEmbeddings || g.name !== 'embed');
  for (const p of model.parameters()) p.freeze();
  for (const group of groups) for (const p of group.params) p.unfreeze();
  let first: LayerProbe['first'] | null = null;
  for (const batch of batches) {
    const { loss, ce, viralityMse } = batchLoss(model, batch, mu);
    loss.backward();
    if (first === null) {
      const grads = new Map<Tensor, Float32Array>();
      // Later probe batches add into the same arrays, so the first batch's gradient is copied out.
      for (const group of groups)
        for (const p of group.params)
          if (p.grad !== null) grads.set(p, batches.length > 1 ? p.grad.data.slice() : p.grad.data);
      first = { ce, viralityMse, grads };
    }
  }
  const scores = groups.map(({ name, params }) => {
    let g2 = 0;
    let w2 = 0;
    for (const p of params) {
      const g = p.grad?.data;
      if (g !== undefined) for (let i = 0; i < g.length; i++) g2 += g[i] * g[i];
      for (let i = 0; i < p.data.length; i++) w2 += p.data[i] * p.data[i];
    }
    return { name, ratio: Math.sqrt(g2) / Math.max(Math.sqrt(w2), 1e-12) };
  });
  for (const p of model.parameters()) p.zeroGrad();
  return { scores, first: first! };
}

/** The candidate layers' ‖g‖/‖θ‖ over `batches` (see `probeLayers`). */
export function measureLayerScores(
  model: LmModel,
  batches: readonly LmBatch[],
  mu: number,
  includeEmbeddings = false,
): LayerScore[] {
  return probeLayers(model, batches, mu, includeEmbeddings).scores;
}

/**
 * The names of the layers to update: the top k by ratio, or those at or above the threshold (at least one);
 * the embeddings only with `includeEmbeddings`.
 */
export function selectLayers(scores: readonly LayerScore[], options: GspfOptions): string[] {
  const { topK, threshold, includeEmbeddings } = resolveGspfOptions(options);
  const ranked = scores
    .filter((s) => includeEmbeddings || s.name !== 'embed')
    .sort((a, b) => b.ratio - a.ratio);
  const chosen = threshold === null ? ranked.slice(0, topK) : ranked.filter((s) => s.ratio >= threshold);
  return (chosen.length > 0 ? chosen : ranked.slice(0, 1)).map((s) => s.name);
}

/**
 * Freezes every layer not in `selected` and unfreezes the selected ones. Frozen parameters take no
 * weight gradient (backward skips them) and their optimiser state is released, so they cost nothing.
 */
export function applyLayerSelection(
  model: LmModel,
  selected: readonly string[],
  optimizer?: { releaseState(param: Tensor): void },
): void {
  const keep = new Set(selected);
  for (const group of layerGroups(model)) {
    for (const p of group.params) {
      if (keep.has(group.name)) p.unfreeze();
      else {
        p.freeze();
        optimizer?.releaseState(p);
      }
    }
  }
}
