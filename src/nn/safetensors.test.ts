import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IoError, ValidationError } from '../core/index.js';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from './safetensors.js';
import type { TensorRecords } from './safetensors.js';

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Builds a file by hand from the format: u64 LE header length, JSON header, data section. */
function handMade(header: string, data: number[]): Uint8Array {
  const json = Buffer.from(header, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return new Uint8Array(Buffer.concat([prefix, json, Buffer.from(data)]));
}

describe('safetensors', () => {
  it('writes the exact bytes the format specifies', () => {
    // 1.0f = 0x3f800000 and -2.0f = 0xc0000000, little-endian; 7 as int32 = 07 00 00 00.
    // The I32 and F32 tensors both have 4-byte elements, so they are ordered by name: "a" then "b".
    // The header is 133 bytes of JSON; 8 + 133 = 141, so 3 spaces pad the data section to byte 144.
    const header =
      '{"__metadata__":{"k":"v"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
    expect(header.length).toBe(133);
    const expected = handMade(header + '   ', [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7, 0, 0, 0]);
    const tensors: TensorRecords = {
      b: { dtype: 'I32', shape: [1], data: new Int32Array([7]) },
      a: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
    };
    expect([...concat(encodeSafetensors(tensors, { k: 'v' }))]).toEqual([...expected]);
  });

  it('reads a hand-made file, including an unpadded header and a scalar', () => {
    const header =
      '{"x":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}';
    const bytes = handMade(header, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x40, 0x40]);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({});
    expect(tensors.x).toEqual({ dtype: 'I64', shape: [], data: new BigInt64Array([-1n]) });
    expect(tensors.y).toEqual({ dtype: 'F32', shape: [1, 1], data: new Float32Array([3]) });
  });

  it('round-trips every dtype through a file, atomically', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tkllm-st-'));
    const path = join(dir, 'model.safetensors');
    const tensors: TensorRecords = {
      'h.0.w': { dtype: 'F32', shape: [2, 3], data: new Float32Array([0.5, -1, 2, 3.25, 1e-8, -0]) },
      'h.0.d': { dtype: 'F64', shape: [1], data: new Float64Array([Math.PI]) },
      half: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
      ids: { dtype: 'I64', shape: [3], data: new BigInt64Array([1n, -2n, 2n ** 40n]) },
      mask: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 0, 1]) },
      pos: { dtype: 'I32', shape: [2, 1], data: new Int32Array([5, -6]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    };
    saveSafetensors(path, tensors, { config: '{"a":1}' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const bytes = readFileSync(path);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
    const loaded = loadSafetensors(path);
    expect(loaded.metadata).toEqual({ config: '{"a":1}' });
    for (const k of Object.keys(tensors)) expect(loaded.tensors[k], k).toEqual(tensors[k]);
    expect(Object.keys(loaded.tensors).sort()).toEqual(Object.keys(tensors).sort());
  });

  it('aligns every tensor to its element size, widest first', () => {
    const bytes = concat(
      encodeSafetensors({
        small: { dtype: 'U8', shape: [3], data: new Uint8Array(3) },
        wide: { dtype: 'F64', shape: [1], data: new Float64Array(1) },
        mid: { dtype: 'F32', shape: [1], data: new Float32Array(1) },
      }),
    );
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString()) as Record<
      string,
      { data_offsets: number[] }
    >;
    expect(header.wide.data_offsets).toEqual([0, 8]);
    expect(header.mid.data_offsets).toEqual([8, 12]);
    expect(header.small.data_offsets).toEqual([12, 15]);
  });

  it('refuses records whose data does not match dtype or shape', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      /"w": shape \[3\] needs 3 elements, got 2/,
    );
    expect(() => encodeSafetensors({ w: { dtype: 'I32', shape: [1], data: new Float32Array(1) } })).toThrow(
      /dtype I32 does not match a Float32Array/,
    );
    expect(() =>
      encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }),
    ).toThrow(ValidationError);
  });

  describe('names the file and the fault when reading', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tkllm-st-bad-'));
    const write = (name: string, bytes: Uint8Array): string => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    };
    const good = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';

    it('a file shorter than the length prefix', () => {
      const path = write('short.safetensors', new Uint8Array([1, 2, 3]));
      expect(() => loadSafetensors(path)).toThrow(`${path}: truncated: 3 bytes`);
    });
    it('a header longer than the file', () => {
      const bytes = handMade(good, [0, 0, 0, 0, 0, 0, 0, 0]).subarray(0, 30);
      const path = write('cut-header.safetensors', bytes);
      expect(() => loadSafetensors(path)).toThrow(
        /cut-header\.safetensors: truncated: header needs 54 bytes/,
      );
    });
    it('a data section cut short', () => {
      const path = write('cut-data.safetensors', handMade(good, [0, 0, 0, 0]));
      expect(() => loadSafetensors(path)).toThrow(
        /cut-data\.safetensors: .*\[0, 8\] are out of range of the 4-byte/,
      );
    });
    it('a header that is not JSON', () => {
      const path = write('json.safetensors', handMade('{"w": nope}', []));
      expect(() => loadSafetensors(path)).toThrow(/json\.safetensors: the header is not UTF-8 JSON/);
    });
    it('an absurd header length', () => {
      const bytes = new Uint8Array(16);
      new DataView(bytes.buffer).setBigUint64(0, 2n ** 40n, true);
      expect(() => decodeSafetensors(bytes, 'x.st')).toThrow(/x\.st: header length 1099511627776 exceeds/);
    });
    it('offsets that disagree with the shape, holes and unknown dtypes', () => {
      const data = [0, 0, 0, 0, 0, 0, 0, 0];
      expect(() =>
        decodeSafetensors(handMade('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', data), 'f'),
      ).toThrow(/f: tensor "w": data_offsets span 8 bytes, shape \[3\] of F32 needs 12/);
      expect(() =>
        decodeSafetensors(handMade('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', data), 'f'),
      ).toThrow(/starts at byte 4, expected 0/);
      expect(() =>
        decodeSafetensors(handMade('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', data), 'f'),
      ).toThrow(/the data section has 8 bytes, the tensors cover 4/);
      expect(() =>
        decodeSafetensors(handMade('{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,8]}}', data), 'f'),
      ).toThrow(/dtype "Q4" is not supported/);
      expect(() => decodeSafetensors(handMade('{"__metadata__":{"a":1}}', []), 'f')).toThrow(
        /"__metadata__.a" must be a string/,
      );
    });
    it('a missing file', () => {
      expect(() => loadSafetensors(join(dir, 'absent.safetensors'))).toThrow(IoError);
    });
  });
});
