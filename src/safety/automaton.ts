/**
 * An Aho-Corasick automaton over canonical characters (Aho & Corasick, 1975): all patterns are found in one
 * pass over the text, whatever their number. Transitions are memoised per (state, character), so a state
 * that has been left once by a character is left in O(1) the next time: the decoding mask relies on it.
 */
export class Automaton {
  private readonly children: Map<string, number>[] = [new Map<string, number>()];
  private readonly fail: number[] = [0];
  private readonly depth: number[] = [0];
  /** Pattern ids that end at each state, its own and those of its suffix states. */
  private readonly outputs: number[][] = [[]];
  private readonly memo: Map<string, number>[] = [new Map<string, number>()];

  /** Builds the automaton of `patterns` (canonical strings); pattern `i` reports as id `i`. */
  constructor(patterns: readonly string[]) {
    patterns.forEach((pattern, id) => {
      let state = 0;
      for (const ch of pattern) {
        let next = this.children[state].get(ch);
        if (next === undefined) {
          next = this.children.length;
          this.children.push(new Map());
          this.fail.push(0);
          this.depth.push(this.depth[state] + 1);
          this.outputs.push([]);
          this.memo.push(new Map());
          this.children[state].set(ch, next);
        }
        state = next;
      }
      this.outputs[state].push(id);
    });
    // Breadth-first, so that a state's failure link is final before its children's are computed.
    const queue: number[] = [...this.children[0].values()];
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head];
      for (const [ch, child] of this.children[state]) {
        let f = this.fail[state];
        while (f !== 0 && !this.children[f].has(ch)) f = this.fail[f]!;
        const target = this.children[f].get(ch);
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        const inherited = this.outputs[this.fail[child]];
        if (inherited.length > 0) this.outputs[child].push(...inherited);
        queue.push(child);
      }
    }
  }

  /** Number of states (the root is state 0). */
  get size(): number {
    return this.children.length;
  }

  /** The state after reading `ch` in `state`. */
  step(state: number, ch: string): number {
    const memo = this.memo[state];
    const known = memo.get(ch);
    if (known !== undefined) return known;
    let s = state;
    let next = this.children[s].get(ch);
    while (next === undefined && s !== 0) {
      s = this.fail[s]!;
      next = this.children[s].get(ch);
    }
    const result = next ?? 0;
    memo.set(ch, result);
    return result;
  }

  /** Pattern ids that end at `state`. */
  output(state: number): readonly number[] {
    return this.outputs[state];
  }

  /** Length in characters of the longest pattern prefix that `state` stands for. */
  stateDepth(state: number): number {
    return this.depth[state];
  }
}
