import { AdamW } from '../nn/index.js';
import type { AdamWState, TrainableParameter } from '../nn/index.js';

/** AdamW whose per-parameter state can be restored from a checkpoint before its first update. */
export class ResumableAdamW extends AdamW {
  private readonly restored = new Map<TrainableParameter, AdamWState>();

  /** Hands `state` to `param`: its next update continues from these moments. */
  restore(param: TrainableParameter, state: AdamWState): void {
    this.restored.set(param, state);
  }

  protected override initState(param: TrainableParameter): AdamWState {
    const state = this.restored.get(param);
    if (state !== undefined) {
      this.restored.delete(param);
      return state;
    }
    return super.initState(param);
  }
}
