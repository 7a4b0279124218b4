/**
 * The AdamW update as a WebAssembly SIMD loop (four float32 lanes per instruction). In plain JS the
 * update of the reference GPT's 2.2M parameters took 13 ms on an idle core (scalar float64 math with a
 * sqrt and a division per element); this loop takes about 2 ms, plus about 3 ms to copy the weights and
 * gradients in and the weights out. The module is assembled here from named opcodes (about 300 bytes),
 * so there is no binary file and no build step; `adamw-simd.test.ts` checks it against the formula.
 */

// Opcodes of the WebAssembly core and SIMD specifications used below.
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Shl: 0x74,
} as const;
const simd = {
  load: 0x00,
  store: 0x0b,
  f32x4Splat: 0x13,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
} as const;

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const get = (i: number): number[] => [op.localGet, ...uleb(i)];
const set = (i: number): number[] => [op.localSet, ...uleb(i)];
const v = (code: number): number[] => [0xfd, ...uleb(code)];
// Alignment hint 2^4 = 16 bytes (regions are 16-byte aligned), offset 0.
const load = (addr: number[]): number[] => [...addr, ...v(simd.load), 4, 0];
const at = (base: number, i: number): number[] => [...get(base), ...get(i), op.i32Add];

// Parameters: byte offsets of p, g, m, v and the element count n, then the scalars of the update.
const P = 0;
const G = 1;
const M = 2;
const VV = 3;
const N = 4;
const SCALARS = ['b1', 'a1', 'b2', 'a2', 'c2', 'eps', 'lr', 'decay'] as const;
const scalarParam = (s: (typeof SCALARS)[number]): number => 5 + SCALARS.indexOf(s);
// Locals after the 13 parameters: the byte index and end, one splatted vector per scalar, g, m, v.
const I = 13;
const END = 14;
const splat = (s: (typeof SCALARS)[number]): number => 15 + SCALARS.indexOf(s);
const GI = 23;
const MI = 24;
const VI = 25;

function body(): number[] {
  const code: number[] = [];
  for (const s of SCALARS) code.push(...get(scalarParam(s)), ...v(simd.f32x4Splat), ...set(splat(s)));
  code.push(...get(N), op.i32Const, 2, op.i32Shl, ...set(END));
  code.push(op.block, 0x40, op.loop, 0x40);
  code.push(...get(I), ...get(END), op.i32GeU, op.brIf, 1);
  // m' = b1 m + a1 g; v' = b2 v + a2 g^2
  code.push(...load(at(G, I)), ...set(GI));
  code.push(...get(splat('b1')), ...load(at(M, I)), ...v(simd.f32x4Mul));
  code.push(...get(splat('a1')), ...get(GI), ...v(simd.f32x4Mul), ...v(simd.f32x4Add), ...set(MI));
  code.push(...get(splat('b2')), ...load(at(VV, I)), ...v(simd.f32x4Mul));
  code.push(...get(splat('a2')), ...get(GI), ...get(GI), ...v(simd.f32x4Mul), ...v(simd.f32x4Mul));
  code.push(...v(simd.f32x4Add), ...set(VI));
  code.push(...at(M, I), ...get(MI), ...v(simd.store), 4, 0);
  code.push(...at(VV, I), ...get(VI), ...v(simd.store), 4, 0);
  // p' = p decay - lr m' / (sqrt(v' c2) + eps), where lr already holds lr / (1 - b1^t)
  code.push(...at(P, I));
  code.push(...load(at(P, I)), ...get(splat('decay')), ...v(simd.f32x4Mul));
  code.push(...get(splat('lr')), ...get(MI), ...v(simd.f32x4Mul));
  code.push(...get(VI), ...get(splat('c2')), ...v(simd.f32x4Mul), ...v(simd.f32x4Sqrt));
  code.push(...get(splat('eps')), ...v(simd.f32x4Add), ...v(simd.f32x4Div), ...v(simd.f32x4Sub));
  code.push(...v(simd.store), 4, 0);
  code.push(...get(I), op.i32Const, 16, op.i32Add, ...set(I), op.br, 0, op.end, op.end, op.end);
  // Two groups of locals: two i32 (I, END), then eleven v128.
  const fn = [2, 2, I32, 11, V128, ...code];
  return [...uleb(fn.length), ...fn];
}

function assemble(): Uint8Array {
  const params = [I32, I32, I32, I32, I32, ...SCALARS.map(() => F32)];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, ...uleb(params.length), ...params, 0]),
    // The memory is imported, so that each parameter's state lives in a memory of its own size.
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('adamw'), 0x00, 0]),
    ...section(10, [1, ...body()]),
  ];
  return Uint8Array.from(bytes);
}

// The project's lib settings (ES2023, Node types) do not declare the WebAssembly global that Node
// provides; these are the three constructors used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | undefined;
function adamwModule(): object {
  compiled ??= new wasm.Module(assemble());
  return compiled;
}

type AdamwFn = (
  p: number,
  g: number,
  m: number,
  v: number,
  n: number,
  b1: number,
  a1: number,
  b2: number,
  a2: number,
  c2: number,
  eps: number,
  lr: number,
  decay: number,
) => void;

/** Hyper-parameters of one AdamW update, with the bias corrections folded in. */
export interface AdamWStepScalars {
  b1: number;
  b2: number;
  /** 1 / (1 - b2^t). */
  c2: number;
  eps: number;
  /** lr / (1 - b1^t). */
  stepSize: number;
  /** 1 - lr * weightDecay. */
  decay: number;
}

/**
 * One parameter's AdamW moments in a WebAssembly memory of their own ([p | g | m | v], each padded to
 * four lanes), never grown, so that the `m` and `v` views stay valid for the life of the slot.
 */
export class AdamWSlot {
  readonly m: Float32Array;
  readonly v: Float32Array;
  private readonly p: Float32Array;
  private readonly g: Float32Array;
  private readonly stride: number;
  private readonly fn: AdamwFn;

  constructor(readonly n: number) {
    const padded = Math.ceil(n / 4) * 4;
    this.stride = padded * 4;
    const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil((4 * this.stride) / 65536)) });
    const instance = new wasm.Instance(adamwModule(), { env: { memory } });
    this.fn = instance.exports.adamw as AdamwFn;
    const view = (region: number): Float32Array => new Float32Array(memory.buffer, region * this.stride, n);
    this.p = view(0);
    this.g = view(1);
    this.m = view(2);
    this.v = view(3);
  }

  /** Updates `data` in place from `grad` and this slot's moments. */
  update(data: Float32Array, grad: Float32Array, s: AdamWStepScalars): void {
    this.p.set(data);
    this.g.set(grad);
    const st = this.stride;
    this.fn(0, st, 2 * st, 3 * st, this.n, s.b1, 1 - s.b1, s.b2, 1 - s.b2, s.c2, s.eps, s.stepSize, s.decay);
    data.set(this.p);
  }
}
