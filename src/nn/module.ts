import { ValidationError } from '../core/index.js';
import type { Tensor } from '../tensor/index.js';
import type { TensorRecords } from './safetensors.js';

/** Options of `loadStateDict`. */
export interface LoadStateDictOptions {
  /** Refuse weights the model does not have and parameters the weights lack (default true). */
  strict?: boolean;
}

/**
 * Base of the layers: owns named parameters and named sub-modules, so that a model can list, count,
 * freeze, save and load its weights by dotted names (`blocks.0.attn.qkv.weight`, as in PyTorch).
 * Each layer declares its own `forward` with the arguments it needs.
 */
export abstract class Module {
  /** Whether the module is in training mode (dropout active); `eval()` switches it off. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Registers a parameter under `name` and returns it. */
  protected registerParameter(name: string, param: Tensor): Tensor {
    if (this.ownParameters.has(name) || this.children.has(name))
      throw new ValidationError(`"${name}" is already registered on ${this.constructor.name}`);
    if (!param.isParameter) param.asParameter();
    this.ownParameters.set(name, param);
    return param;
  }

  /** Registers a sub-module under `name` and returns it. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    if (this.ownParameters.has(name) || this.children.has(name))
      throw new ValidationError(`"${name}" is already registered on ${this.constructor.name}`);
    this.children.set(name, module);
    return module;
  }

  /** Every parameter with its dotted name, depth first in registration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, p] of this.ownParameters) out.push([prefix + name, p]);
    for (const [name, child] of this.children) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  /** Every parameter, frozen ones included. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The parameters that currently take gradients. */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** The sub-modules with their dotted names (this module excluded). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [name, child] of this.children) {
      out.push([prefix + name, child], ...child.namedModules(`${prefix}${name}.`));
    }
    return out;
  }

  /** Number of scalar weights; with `trainableOnly`, only those not frozen. */
  parameterCount(options: { trainableOnly?: boolean } = {}): number {
    const params = options.trainableOnly === true ? this.trainableParameters() : this.parameters();
    return params.reduce((n, p) => n + p.size, 0);
  }

  /** Freezes every parameter of this module and its sub-modules: no gradients, no optimiser state. */
  freeze(): this {
    for (const p of this.parameters()) p.freeze();
    return this;
  }

  /** Unfreezes every parameter of this module and its sub-modules. */
  unfreeze(): this {
    for (const p of this.parameters()) p.unfreeze();
    return this;
  }

  /** Sets training mode here and below (dropout on); `train(false)` is `eval()`. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  /** Sets evaluation mode here and below (dropout off). */
  eval(): this {
    return this.train(false);
  }

  /** The weights as named float32 records (copies), ready for `saveSafetensors`. */
  stateDict(): TensorRecords {
    const out: TensorRecords = {};
    for (const [name, p] of this.namedParameters()) {
      out[name] = { dtype: 'F32', shape: [...p.shape], data: Float32Array.from(p.data) };
    }
    return out;
  }

  /**
   * Copies weights into the parameters in place (so optimisers holding them stay valid), checking names,
   * dtypes and shapes first: nothing is changed when any check fails.
   */
  loadStateDict(records: TensorRecords, options: LoadStateDictOptions = {}): void {
    const strict = options.strict ?? true;
    const params = this.namedParameters();
    const known = new Set(params.map(([name]) => name));
    if (strict) {
      const missing = params.filter(([name]) => !(name in records)).map(([name]) => name);
      if (missing.length > 0) throw new ValidationError(`weights lack parameters: ${missing.join(', ')}`);
      const extra = Object.keys(records).filter((name) => !known.has(name));
      if (extra.length > 0) throw new ValidationError(`weights hold unknown tensors: ${extra.join(', ')}`);
    }
    const updates: [Tensor, Float32Array][] = [];
    for (const [name, p] of params) {
      const record = records[name];
      if (record === undefined) continue;
      if (record.dtype !== 'F32' || !(record.data instanceof Float32Array))
        throw new ValidationError(`weight "${name}" must be F32, got ${record.dtype}`);
      if (record.shape.length !== p.shape.length || record.shape.some((d, i) => d !== p.shape[i]))
        throw new ValidationError(
          `weight "${name}" has shape [${record.shape.join(', ')}], the model expects [${p.shape.join(', ')}]`,
        );
      updates.push([p, record.data]);
    }
    for (const [p, data] of updates) p.data.set(data);
  }
}
