/**
 * The Hugging Face safetensors format (https://github.com/huggingface/safetensors#format):
 * an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON, then the raw little-endian
 * tensor bytes. The JSON maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`, offsets
 * relative to the start of the data section, plus an optional `__metadata__` map of strings to strings.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { IoError, ValidationError, writeFileAtomic } from '../core/index.js';

/** The element types TKLLM reads and writes; F16 keeps the raw half-precision bits in a Uint16Array. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'I64' | 'I32' | 'U8';

/** The typed array that holds each dtype's elements. */
export type SafetensorsData =
  Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** One tensor as plain data: element type, shape (row-major) and its elements. */
export interface TensorRecord {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: SafetensorsData;
}

/** Named tensors, the content of one safetensors file. */
export type TensorRecords = Record<string, TensorRecord>;

/** What a safetensors file holds: its tensors and its `__metadata__` strings. */
export interface SafetensorsContent {
  tensors: TensorRecords;
  metadata: Record<string, string>;
}

interface DtypeInfo {
  bytes: number;
  matches: (data: SafetensorsData) => boolean;
  view: (buffer: ArrayBuffer) => SafetensorsData;
}

const DTYPES: Record<SafetensorsDtype, DtypeInfo> = {
  F64: { bytes: 8, matches: (d) => d instanceof Float64Array, view: (b) => new Float64Array(b) },
  F32: { bytes: 4, matches: (d) => d instanceof Float32Array, view: (b) => new Float32Array(b) },
  F16: { bytes: 2, matches: (d) => d instanceof Uint16Array, view: (b) => new Uint16Array(b) },
  I64: { bytes: 8, matches: (d) => d instanceof BigInt64Array, view: (b) => new BigInt64Array(b) },
  I32: { bytes: 4, matches: (d) => d instanceof Int32Array, view: (b) => new Int32Array(b) },
  U8: { bytes: 1, matches: (d) => d instanceof Uint8Array, view: (b) => new Uint8Array(b) },
};

// The reference implementation refuses headers above 100 MB; so do we, before allocating anything.
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

// Typed arrays share the platform's byte order; the format is little-endian.
function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new IoError('safetensors needs a little-endian platform');
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function validateRecord(name: string, record: TensorRecord): void {
  const info = DTYPES[record.dtype] as DtypeInfo | undefined;
  if (!info) throw new ValidationError(`tensor "${name}": dtype "${String(record.dtype)}" is not supported`);
  if (!record.shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new ValidationError(
      `tensor "${name}": shape must hold non-negative integers, got [${record.shape.join(', ')}]`,
    );
  if (!info.matches(record.data))
    throw new ValidationError(
      `tensor "${name}": dtype ${record.dtype} does not match a ${record.data.constructor.name}`,
    );
  const n = elementCount(record.shape);
  if (record.data.length !== n)
    throw new ValidationError(
      `tensor "${name}": shape [${record.shape.join(', ')}] needs ${n} elements, got ${record.data.length}`,
    );
}

/**
 * Encodes tensors and metadata as safetensors bytes, returned as parts (header, then each tensor) so
 * that a large model is not copied into one buffer before it is written.
 * Tensors are laid out by element size, widest first, then by name: as in the reference implementation,
 * every tensor then starts at a multiple of its element size, so readers may map it without copying.
 */
export function encodeSafetensors(
  tensors: TensorRecords,
  metadata: Record<string, string> = {},
): Uint8Array[] {
  assertLittleEndian();
  const names = Object.keys(tensors);
  if (names.includes(METADATA_KEY)) throw new ValidationError(`"${METADATA_KEY}" cannot name a tensor`);
  for (const name of names) validateRecord(name, tensors[name]);
  for (const [key, value] of Object.entries(metadata))
    if (typeof value !== 'string')
      throw new ValidationError(`metadata "${key}" must be a string, got ${typeof value}`);
  names.sort((a, b) => {
    const size = DTYPES[tensors[b].dtype].bytes - DTYPES[tensors[a].dtype].bytes;
    return size !== 0 ? size : a < b ? -1 : a > b ? 1 : 0;
  });

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const name of names) {
    const { dtype, shape, data } = tensors[name];
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  const length = Buffer.byteLength(json, 'utf8');
  // Spaces pad the header so that the data section starts at a multiple of 8 (allowed by the format).
  json += ' '.repeat((8 - ((8 + length) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  return [prefix, new Uint8Array(jsonBytes.buffer, jsonBytes.byteOffset, jsonBytes.byteLength), ...parts];
}

function isRecordObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Decodes safetensors bytes, checking the header against the format; `source` names the file in errors.
 * The tensors are copied out of `bytes`, so they stay valid when the buffer is reused.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContent {
  assertLittleEndian();
  const fail = (why: string): never => {
    throw new ValidationError(`${source}: ${why}`);
  };
  if (bytes.byteLength < 8) fail(`truncated: ${bytes.byteLength} bytes, the header length alone takes 8`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  const n = Number(headerLength);
  if (8 + n > bytes.byteLength)
    fail(`truncated: header needs ${n} bytes, the file has ${bytes.byteLength - 8} after the length`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (cause) {
    throw new ValidationError(`${source}: the header is not UTF-8 JSON (${(cause as Error).message})`, {
      cause,
    });
  }
  if (!isRecordObject(header)) return fail('the header must be a JSON object');

  const metadata: Record<string, string> = {};
  const rawMetadata = header[METADATA_KEY];
  if (rawMetadata !== undefined) {
    if (!isRecordObject(rawMetadata)) fail(`"${METADATA_KEY}" must be an object of strings`);
    for (const [key, value] of Object.entries(rawMetadata as Record<string, unknown>)) {
      if (typeof value !== 'string')
        fail(`"${METADATA_KEY}.${key}" must be a string, got ${JSON.stringify(value)}`);
      metadata[key] = value as string;
    }
  }

  const dataStart = 8 + n;
  const dataLength = bytes.byteLength - dataStart;
  const tensors: TensorRecords = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    if (!isRecordObject(entry)) return fail(`tensor "${name}": entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !(dtype in DTYPES))
      fail(
        `tensor "${name}": dtype ${JSON.stringify(dtype)} is not supported (${Object.keys(DTYPES).join(', ')})`,
      );
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      fail(`tensor "${name}": shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
    )
      fail(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} must be two non-negative integers`);
    const info = DTYPES[dtype as SafetensorsDtype];
    const [begin, end] = offsets as [number, number];
    const dims = shape as number[];
    if (end < begin || end > dataLength)
      fail(
        `tensor "${name}": data_offsets [${begin}, ${end}] are out of range of the ${dataLength}-byte data section`,
      );
    const expected = elementCount(dims) * info.bytes;
    if (end - begin !== expected)
      fail(
        `tensor "${name}": data_offsets span ${end - begin} bytes, shape [${dims.join(', ')}] of ${dtype as string} needs ${expected}`,
      );
    spans.push([begin, end, name]);
    // A copy, not `slice`: on a Node Buffer `slice` is a view over the whole file.
    const copy = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end));
    tensors[name] = { dtype: dtype as SafetensorsDtype, shape: dims, data: info.view(copy.buffer) };
  }
  // The format requires the tensors to cover the data section exactly: no holes and no overlaps.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== covered)
      fail(`tensor "${name}" starts at byte ${begin}, expected ${covered} (hole or overlap)`);
    covered = end;
  }
  if (covered !== dataLength) fail(`the data section has ${dataLength} bytes, the tensors cover ${covered}`);
  return { tensors, metadata };
}

/** Writes tensors to a safetensors file atomically (temporary file, then rename). */
export function saveSafetensors(
  path: string,
  tensors: TensorRecords,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads and validates a safetensors file; errors name the file. */
export function loadSafetensors(path: string): SafetensorsContent {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new IoError(`could not read ${path}: ${(cause as Error).message}`, { cause });
  }
  return decodeSafetensors(bytes, path);
}
