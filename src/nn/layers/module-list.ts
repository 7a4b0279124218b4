import { Module } from '../module.js';

/** An ordered list of sub-modules named by their index (`blocks.0`, `blocks.1`, ...). */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: readonly M[]) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
    this.items = [...items];
  }

  /** Number of modules. */
  get length(): number {
    return this.items.length;
  }
}
