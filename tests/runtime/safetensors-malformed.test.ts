import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { SafetensorsError, SafetensorsFile } from '../../runtime/safetensors.js';
import { info, scratchDir, writeRawSafetensors } from '../support/safetensors-data.js';

interface Case {
  readonly name: string;
  /** Builds the file at the given path. */
  readonly make: (path: string) => void;
  /** Every string the message must contain (the file name is always checked). */
  readonly says: readonly string[];
}

const f32 = (shape: unknown, offsets: unknown) => info('F32', shape, offsets);

const cases: Case[] = [
  { name: 'truncated', make: (p) => writeFileSync(p, new Uint8Array(5)), says: ['too short', '5 bytes'] },
  { name: 'empty', make: (p) => writeFileSync(p, new Uint8Array(0)), says: ['too short'] },
  { name: 'length-past-end', make: (p) => writeRawSafetensors(p, '{}', 0, 1000n), says: ['header length 1000', 'past the end'] },
  { name: 'length-huge', make: (p) => writeRawSafetensors(p, '{}', 0, 2n ** 62n), says: ['over the', 'limit'] },
  { name: 'not-json', make: (p) => writeRawSafetensors(p, '{"w": {', 0), says: ['not valid JSON'] },
  { name: 'not-utf8', make: (p) => writeRawSafetensors(p, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 0), says: ['UTF-8'] },
  { name: 'array-header', make: (p) => writeRawSafetensors(p, '[1, 2]', 0), says: ['not a JSON object', 'array'] },
  { name: 'string-header', make: (p) => writeRawSafetensors(p, '"weights"', 0), says: ['not a JSON object', 'string'] },
  {
    name: 'unknown-dtype',
    make: (p) => writeRawSafetensors(p, { 'conv.weight': info('F8_E4M3', [4], [0, 4]) }, 4),
    says: ['"conv.weight"', 'unsupported dtype', 'F8_E4M3'],
  },
  {
    name: 'missing-dtype',
    make: (p) => writeRawSafetensors(p, { 'conv.weight': { shape: [1], data_offsets: [0, 4] } }, 4),
    says: ['"conv.weight"', 'dtype'],
  },
  {
    name: 'negative-shape',
    make: (p) => writeRawSafetensors(p, { 'attn.q': f32([-1, 2], [0, 8]) }, 8),
    says: ['"attn.q"', 'shape', '[-1,2]'],
  },
  {
    name: 'fractional-shape',
    make: (p) => writeRawSafetensors(p, { 'attn.k': f32([1.5], [0, 4]) }, 4),
    says: ['"attn.k"', 'shape', 'non-negative integers'],
  },
  { name: 'shape-not-array', make: (p) => writeRawSafetensors(p, { 'attn.v': f32(3, [0, 12]) }, 12), says: ['"attn.v"', 'shape'] },
  {
    name: 'offsets-reversed',
    make: (p) => writeRawSafetensors(p, { 'norm.bias': f32([1], [8, 4]) }, 8),
    says: ['"norm.bias"', 'reversed'],
  },
  {
    name: 'offsets-malformed',
    make: (p) => writeRawSafetensors(p, { 'norm.bias': f32([1], [0]) }, 4),
    says: ['"norm.bias"', 'data_offsets must be two'],
  },
  {
    name: 'offsets-past-file',
    make: (p) => writeRawSafetensors(p, { 'proj.weight': f32([25], [0, 100]) }, 16),
    says: ['"proj.weight"', 'past the data section', '16 bytes'],
  },
  {
    name: 'length-mismatch',
    make: (p) => writeRawSafetensors(p, { 'proj.bias': f32([3], [0, 8]) }, 8),
    says: ['"proj.bias"', 'hold 8 bytes', 'needs 12'],
  },
  {
    name: 'overlap',
    make: (p) => writeRawSafetensors(p, { first: f32([2], [0, 8]), second: f32([2], [4, 12]) }, 12),
    says: ['"second"', 'overlap', '"first"'],
  },
  {
    name: 'gap-between',
    make: (p) => writeRawSafetensors(p, { first: f32([1], [0, 4]), second: f32([1], [8, 12]) }, 12),
    says: ['"second"', 'gap of 4 bytes', '"first"'],
  },
  {
    name: 'gap-at-start',
    make: (p) => writeRawSafetensors(p, { only: f32([1], [4, 8]) }, 8),
    says: ['"only"', 'gap of 4 bytes', 'start of the data section'],
  },
  {
    name: 'trailing-bytes',
    make: (p) => writeRawSafetensors(p, { only: f32([1], [0, 4]) }, 8),
    says: ['"only"', 'do not cover', '8 bytes'],
  },
  {
    name: 'metadata-not-string',
    make: (p) => writeRawSafetensors(p, { __metadata__: { format: 'pt', epoch: 3 }, w: f32([1], [0, 4]) }, 4),
    says: ['__metadata__', '"epoch"', 'must be a string'],
  },
  {
    name: 'metadata-array',
    make: (p) => writeRawSafetensors(p, { __metadata__: ['pt'] }, 0),
    says: ['__metadata__', 'object of strings'],
  },
  {
    name: 'entry-not-object',
    make: (p) => writeRawSafetensors(p, { 'lonely.weight': 'F32' }, 0),
    says: ['"lonely.weight"', 'must be an object'],
  },
];

t.test('every malformed file is rejected with a message naming the file and tensor', async (t) => {
  const dir = scratchDir(t);
  for (const c of cases) {
    const file = `bad-${c.name}.safetensors`;
    const path = join(dir, file);
    c.make(path);
    let error: unknown = null;
    try {
      const st = await SafetensorsFile.open(path);
      await st.close();
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof SafetensorsError, `${c.name}: throws SafetensorsError`);
    const message = error instanceof Error ? error.message : '';
    for (const s of [file, ...c.says]) t.ok(message.includes(s), `${c.name}: message mentions ${s}`, { message });
  }
});

t.test('what the reference library accepts is accepted', async (t) => {
  const dir = scratchDir(t);
  const path = join(dir, 'edge.safetensors');
  // Empty tensors may share an offset with their neighbour; __metadata__ null means none; extra keys are ignored.
  writeRawSafetensors(
    path,
    {
      __metadata__: null,
      b: f32([1], [0, 4]),
      a: { ...f32([0, 3], [0, 0]), extra: 'ignored' },
      c: f32([], [4, 8]),
    },
    8,
  );
  const st = await SafetensorsFile.open(path);
  t.same([...st.entries.keys()], ['a', 'b', 'c'], 'entries in file order');
  t.same(st.metadata, {});
  t.same(st.entry('c').shape, []);
  await st.close();

  const missing = join(dir, 'missing.safetensors');
  const error = await SafetensorsFile.open(missing).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(error instanceof SafetensorsError && error.message.includes('missing.safetensors'), 'a missing file names itself');
});
