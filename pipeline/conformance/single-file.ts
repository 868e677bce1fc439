// Single-file conformance: the fixture's LDM single-file checkpoint, read with the folder's
// configs, must give the same outputs as the diffusers folder: the text encoder on the golden ids,
// the U-Net at one golden timestep, the VAE decoding the golden latents. Where a weight is stored
// at different precisions in the two (an F32 folder VAE, an F16 single file), the wider one is
// rounded to the narrower first, so the comparison stays exact: the check is about the name
// mapping and the loading, not about storage precision.

import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { SafetensorsDType } from '../../runtime/safetensors.js';
import type { WeightSource } from '../../runtime/weights.js';
import { roundToF16 } from '../../runtime/half.js';
import type { ModelFiles } from '../model-files.js';
import { loadTextEncoder, loadUNet, loadVae } from './models.js';
import { maxAbsDiff } from './metrics.js';
import { unetGoldenTimesteps } from './unet.js';
import type { ConformancePart, PartContext } from './types.js';

type Component = 'textEncoder' | 'unet' | 'vae';

/** Runs one component of a model on fixed inputs and returns its output on the host. */
type Evaluate = (files: ModelFiles, source: WeightSource) => Promise<Float32Array>;

export const singleFilePart: ConformancePart = {
  name: 'single-file',
  description: 'the single-file checkpoint gives the folder’s outputs exactly (text encoder, U-Net at one timestep, VAE decode)',
  claims: () => false,
  async run(ctx: PartContext): Promise<void> {
    const single = await ctx.singleFile();
    if (!single) {
      ctx.skip('single-file', 'the fixture has no single-file.safetensors');
      return;
    }
    const folder = await ctx.folder();
    const { rt, dtype } = ctx;
    const run = async (label: string, component: Component, evaluate: Evaluate): Promise<void> => {
      const [folderSource, singleSource, note] = precisionMatched(folder[component].weights, single[component].weights);
      const want = await evaluate(folder, folderSource);
      const got = await evaluate(single, singleSource);
      ctx.check({ name: `single-file ${label} = folder`, metric: 'max abs diff', error: maxAbsDiff(got, want), bar: 0, note });
    };

    const g = ctx.golden;
    if (g.has('text_encoder')) {
      const golden = await g.open('text_encoder');
      const shape = golden.shape('input_ids');
      const ids = Uint32Array.from(await golden.ints('input_ids'));
      await run('text_encoder last_hidden_state', 'textEncoder', async (files, source) =>
        runOnce(rt, await loadTextEncoder(rt, files, dtype, source), (encoder) =>
          rt.tidy(() => encoder.encode(rt.upload(ids, shape, 'u32'))),
        ),
      );
    } else {
      ctx.skip('single-file text_encoder', 'no golden text_encoder input ids to encode');
    }

    const unetTimestep = g.has('unet') ? [...unetGoldenTimesteps((await g.open('unet')).tensors(), g.section('unet')?.['timesteps']).keys()][0] : undefined;
    if (unetTimestep !== undefined) {
      const golden = await g.open('unet');
      const sample = await golden.floats('sample');
      const context = await golden.floats('encoder_hidden_states');
      await run(`unet t${unetTimestep}.out`, 'unet', async (files, source) =>
        runOnce(rt, await loadUNet(rt, files, dtype, source), (unet) =>
          rt.tidy(() => {
            const x = rt.upload(sample, golden.shape('sample'), 'f32');
            const c = rt.upload(context, golden.shape('encoder_hidden_states'), 'f32');
            return unet.forward(x, unetTimestep, c);
          }),
        ),
      );
    } else {
      ctx.skip('single-file unet', 'no golden U-Net sample and timestep to run');
    }

    if (g.has('vae') && (await g.open('vae')).has('latents')) {
      const golden = await g.open('vae');
      const latents = await golden.floats('latents');
      await run('vae decoded', 'vae', async (files, source) =>
        runOnce(rt, await loadVae(rt, files, dtype, source), (vae) =>
          rt.tidy(() => vae.decode(rt.upload(latents, golden.shape('latents'), 'f32'))),
        ),
      );
    } else {
      ctx.skip('single-file vae', 'no golden VAE latents to decode');
    }
  },
};

/** Runs fn on the model, reads its output back, and disposes the output and the model. */
async function runOnce<M extends { dispose(): void }>(rt: Runtime, model: M, fn: (model: M) => Tensor): Promise<Float32Array> {
  try {
    const out = fn(model);
    try {
      return await rt.read(out);
    } finally {
      out.dispose();
    }
  } finally {
    model.dispose();
  }
}

const PRECISION: Readonly<Partial<Record<SafetensorsDType, number>>> = { F32: 24, F16: 11, BF16: 8 };

/**
 * The two sources with every weight stored at different precisions read through the narrower
 * storage type on both sides (F16 and BF16 against each other round both ways), and a note saying
 * what was rounded.
 */
function precisionMatched(a: WeightSource, b: WeightSource): [WeightSource, WeightSource, string | undefined] {
  const roundA = new Map<string, SafetensorsDType>();
  const roundB = new Map<string, SafetensorsDType>();
  for (const name of a.names()) {
    if (!b.has(name)) continue;
    const da = a.stored(name).dtype;
    const db = b.stored(name).dtype;
    if (da === db) continue;
    const pa = PRECISION[da] ?? 0;
    const pb = PRECISION[db] ?? 0;
    if (pa >= pb) roundA.set(name, db);
    if (pb >= pa) roundB.set(name, da);
  }
  const describe = (side: string, m: Map<string, SafetensorsDType>): string[] =>
    m.size === 0 ? [] : [`${m.size} ${side} weights rounded to ${[...new Set(m.values())].join('/')}`];
  const notes = [...describe('folder', roundA), ...describe('single-file', roundB)];
  return [rounding(a, roundA), rounding(b, roundB), notes.length > 0 ? notes.join(', ') : undefined];
}

function rounding(source: WeightSource, round: ReadonlyMap<string, SafetensorsDType>): WeightSource {
  if (round.size === 0) return source;
  const read = async (name: string): Promise<Float32Array> => {
    const values = await source.readFloat32(name);
    const to = round.get(name);
    if (to === 'F16') return roundToF16(values);
    if (to === 'BF16') return roundToBf16(values);
    return values;
  };
  return {
    label: source.label,
    names: () => source.names(),
    has: (n) => source.has(n),
    shape: (n) => source.shape(n),
    stored: (n) => source.stored(n),
    readFloat32: read,
    load: async (rt: Runtime, name: string, dtype: FloatDType) =>
      round.has(name) ? rt.upload(await read(name), source.shape(name), dtype) : source.load(rt, name, dtype),
  };
}

/** Round-to-nearest-even to bfloat16 precision, kept as float32 values. */
function roundToBf16(values: Float32Array): Float32Array {
  const out = Float32Array.from(values);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7f800000) === 0x7f800000) continue; // inf and NaN as they are
    bits[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) << 16;
  }
  return out;
}
