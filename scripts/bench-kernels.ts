// Kernel microbenchmarks: time, TFLOP/s or GB/s, and the fraction of the device's peak.
import { Runtime } from '../runtime/runtime.js';
import { timeGpu, timeKernelsOnGpu } from '../runtime/timing.js';
import { allCases } from './bench-cases/index.js';
import { Cli, runScript, UsageError } from './cli.js';

const cli = new Cli({
  name: 'bench-kernels',
  usage: 'node scripts/bench-kernels.js [--filter text] [--exclude text] [--dtype f32|f16] [--gpu-time] [--json] [--plain]',
  description: "Times every kernel at the U-Net's real shapes and prints time, TFLOP/s or GB/s and the fraction of peak.",
  options: {
    filter: { type: 'strings', valueName: 'TEXT', description: 'only cases whose kernel or name contains the text (any match)' },
    exclude: { type: 'strings', valueName: 'TEXT', description: "not cases whose kernel or name contains the text (e.g. 'sweep': no sweep rows)" },
    dtype: { type: 'choice', choices: ['f32', 'f16'], description: 'only f32 or f16 cases' },
    'gpu-time': { type: 'boolean', description: 'also time each case by GPU timestamps (kernel time alone, without host recording and submission; needs timestamp-query)' },
    json: { type: 'boolean', description: 'one JSON object per line instead of the table' },
    plain: { type: 'boolean', description: 'portable path: no f16, no subgroup matrices' },
  },
});

interface Peak {
  readonly name: string;
  readonly f16Tflops: number;
  readonly f32Tflops: number;
  readonly gbPerS: number;
}

// Dense peaks from the vendors' data sheets; used only to print a fraction.
const PEAKS: { match: RegExp; peak: Peak }[] = [
  { match: /H100/i, peak: { name: 'H100 SXM', f16Tflops: 989, f32Tflops: 67, gbPerS: 3350 } },
  { match: /H200/i, peak: { name: 'H200', f16Tflops: 989, f32Tflops: 67, gbPerS: 4800 } },
];

await runScript(cli, async ({ values: args }) => {
  const rt = await Runtime.create({ plain: args.plain });
  const device = rt.describe();
  const peak = PEAKS.find((p) => p.match.test(`${rt.gpu.adapterInfo.description} ${rt.gpu.adapterInfo.device}`))?.peak;
  if (!args.json) console.log(`# ${device}${peak ? `\n# peaks (${peak.name}): f16 ${peak.f16Tflops} TFLOP/s, f32 ${peak.f32Tflops} TFLOP/s, ${peak.gbPerS} GB/s` : ''}`);

  const cases = allCases.filter(
    (c) =>
      (args.filter.length === 0 || args.filter.some((f) => c.kernel.includes(f) || c.name.includes(f))) &&
      !args.exclude.some((f) => c.kernel.includes(f) || c.name.includes(f)) &&
      (!args.dtype || c.dtype === args.dtype) &&
      (c.dtype === 'f32' || rt.features.f16),
  );
  if (cases.length === 0) {
    rt.destroy();
    throw new UsageError('no benchmark matches');
  }

  for (const c of cases) {
    let line: Record<string, string | number>;
    try {
      const inst = c.setup(rt);
      const t = await timeGpu(rt, inst.run);
      const onGpu = args['gpu-time'] ? await timeKernelsOnGpu(rt, inst.run) : null;
      inst.dispose();
      const s = t.medianMs / 1e3;
      const tflops = c.flops ? c.flops / s / 1e12 : 0;
      const gbs = c.bytes / s / 1e9;
      const frac = peak ? (c.flops ? tflops / (c.dtype === 'f16' ? peak.f16Tflops : peak.f32Tflops) : gbs / peak.gbPerS) : NaN;
      const gpuRate = onGpu ? (c.flops ? c.flops / (onGpu.medianMs / 1e3) / 1e12 : c.bytes / (onGpu.medianMs / 1e3) / 1e9) : NaN;
      line = { kernel: c.kernel, name: c.name, dtype: c.dtype, variant: inst.variant ?? '', ms: +t.medianMs.toFixed(4), tflops: +tflops.toFixed(2), gbps: +gbs.toFixed(1), peakFraction: +frac.toFixed(3) };
      if (onGpu) Object.assign(line, { gpuMs: +onGpu.medianMs.toFixed(4), [c.flops ? 'gpuTflops' : 'gpuGbps']: +gpuRate.toFixed(2) });
      if (args.json) console.log(JSON.stringify(line));
      else {
        const rate = c.flops ? `${tflops.toFixed(1).padStart(7)} TFLOP/s` : `${gbs.toFixed(0).padStart(7)} GB/s   `;
        const gpu = onGpu ? ` | gpu ${onGpu.medianMs.toFixed(3)} ms ${gpuRate.toFixed(1)} ${c.flops ? 'TFLOP/s' : 'GB/s'}` : args['gpu-time'] ? ' | gpu: no timestamp-query' : '';
        console.log(`${c.name.padEnd(44)} ${c.dtype} ${t.medianMs.toFixed(3).padStart(9)} ms ${rate} ${Number.isNaN(frac) ? '' : `${(frac * 100).toFixed(1).padStart(5)}% of peak`}  ${inst.variant ?? ''}${gpu}`);
      }
    } catch (e) {
      const msg = (e as Error).message.split('\n').slice(0, 3).join(' | ');
      if (args.json) console.log(JSON.stringify({ kernel: c.kernel, name: c.name, dtype: c.dtype, error: msg }));
      else console.log(`${c.name.padEnd(44)} ${c.dtype} FAILED: ${msg}`);
      process.exitCode = 1;
    }
  }
  rt.destroy();
});
