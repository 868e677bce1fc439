import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testRuntime } from '../support/runtime.js';
import { fromRoot } from '../../runtime/paths.js';
import type { Runtime } from '../../runtime/runtime.js';
import { FixtureError } from '../../pipeline/conformance/golden.js';
import { CONFORMANCE_PARTS } from '../../pipeline/conformance/registry.js';
import { formatRecord, runConformance, summaryLine, type ConformanceReport } from '../../pipeline/conformance/run.js';
import { schedulerKindOf } from '../../pipeline/conformance/scheduler.js';
import type { CheckResult, SkipResult } from '../../pipeline/conformance/types.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');

// the whole fixture runs every network on lavapipe: minutes
t.setTimeout(900_000);

const checks = (r: ConformanceReport): CheckResult[] => r.records.filter((x): x is CheckResult => x.type === 'check');
const skips = (r: ConformanceReport): SkipResult[] => r.records.filter((x): x is SkipResult => x.type === 'skip');

t.test('every golden tensor the runtime computes matches, f32', async (t) => {
  const rt = await testRuntime();
  const report = await runConformance(rt, { fixtureDir: fixture, dtype: 'f32', onRecord: (r) => t.comment(formatRecord(r)) });
  t.comment(summaryLine(report));
  const failed = checks(report).filter((c) => !c.passed);
  t.same(failed.map(formatRecord), [], 'no check fails');
  const names = checks(report).map((c) => c.name);
  const count = (re: RegExp): number => names.filter((n) => re.test(n)).length;
  t.equal(count(/^tokenizer \(tokenizer\.json\)/), 7, '7 prompts from tokenizer.json');
  t.equal(count(/^tokenizer \(vocab\.json \+ merges\.txt\)/), 7, '7 prompts from vocab.json + merges.txt');
  t.equal(count(/^text_encoder hidden_states\.\d+$/), 4, 'embeddings and 3 layers');
  t.ok(names.includes('text_encoder last_hidden_state') && names.includes('text_encoder pooler_output'));
  t.equal(count(/^unet t981\./), 12, 't981: out and 11 intermediates');
  t.ok(names.includes('unet t500.out') && names.includes('unet t1.out'));
  t.equal(count(/^vae /), 10, 'decoded, encoded mean/logvar and 7 decoder intermediates');
  t.equal(count(/^scheduler_.* prev_sample/), 8, 'a chain per golden scheduler run');
  t.equal(count(/^single-file .* = folder$/), 3, 'text encoder, U-Net and VAE from the single file');
  t.equal(count(/^pipeline (latents0|latents_after_\d+|latents)$/), 6, 'pipeline: initial, 4 recorded and final latents');
  t.equal(count(/^pipeline tome0\.5\.latents/), 5, 'pipeline with ToMe: 4 recorded and final latents');
  t.equal(count(/^pipeline (tome0\.5\.)?image \(8-bit\)$/), 2, 'both images within ±1');
  // what is left uncompared belongs to parts that do not exist yet (the merge goldens)
  for (const s of skips(report)) {
    const file = /^golden\/(.+)\.safetensors$/.exec(s.name)?.[1];
    t.ok(file !== undefined && !CONFORMANCE_PARTS.some((p) => p.claims(file)), `only unclaimed golden files are skipped: ${s.name}`);
  }
  t.equal(report.passed, names.length, 'every check passed');
  t.equal(report.skipped, skips(report).reduce((n, s) => n + s.count, 0), 'skipped = uncompared golden tensors');
  t.match(summaryLine(report), /^\d+ passed, 0 failed(, \d+ skipped)?$/);
});

t.test('f16 scheduler chains stay within the f16 bar', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('skipped: no shader-f16');
    return;
  }
  const report = await runConformance(rt, { fixtureDir: fixture, dtype: 'f16', only: ['scheduler'] });
  t.equal(report.failed, 0, summaryLine(report));
  t.ok(checks(report).some((c) => c.name.includes('(20 steps, f16)') && c.bar === 1e-2));
});

t.test('names, counts and parts come from the fixture directory, not from this one fixture', async (t) => {
  const rt = await testRuntime();
  // a fixture with only some goldens, no single file, and a golden file no part knows
  const dir = mkdtempSync(join(tmpdir(), 'conformance-fixture-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(fixture, 'model'), join(dir, 'model'));
  mkdirSync(join(dir, 'golden'));
  for (const f of ['index.json', 'tokenizer.safetensors', 'scheduler_ddim_20.safetensors']) copyFileSync(join(fixture, 'golden', f), join(dir, 'golden', f));
  copyFileSync(join(fixture, 'golden', 'unet.safetensors'), join(dir, 'golden', 'controlnet.safetensors'));
  const report = await runConformance(rt, { fixtureDir: dir, dtype: 'f32' });
  t.equal(report.failed, 0, summaryLine(report));
  t.equal(report.passed, 14 + 4, 'tokenizer prompts and the DDIM run (timesteps, alphas_cumprod, inputs, samples)');
  const skipped = skips(report);
  t.same(
    skipped.map((s) => s.name).sort(),
    ['golden/controlnet.safetensors', 'single-file'],
    'the unknown golden file and the absent single file',
  );
  t.equal(report.skipped, 16 + 1, 'every tensor of the unknown file, and the single-file check');
  t.equal(summaryLine(report), '18 passed, 0 failed, 17 skipped');
});

t.test('bad usage is refused before any work', async (t) => {
  const rt = await testRuntime();
  await t.rejects(runConformance(rt, { fixtureDir: fixture, dtype: 'f32', only: ['nope'] }), FixtureError);
  await t.rejects(runConformance(rt, { fixtureDir: fixture, dtype: 'f32', only: ['nope'] }), /unknown part "nope" \(parts: tokenizer, text-encoder/);
  await t.rejects(runConformance(rt, { fixtureDir: join(fixture, 'nowhere'), dtype: 'f32' }), /fixture directory .* does not exist/);
  await t.rejects(runConformance(rt, { fixtureDir: join(fixture, 'golden'), dtype: 'f32' }), /no model\/ folder/);
  const noF16 = { features: { f16: false } } as unknown as Runtime;
  await t.rejects(runConformance(noF16, { fixtureDir: fixture, dtype: 'f16' }), /no shader-f16/);
  // --only accepts the golden file's spelling too
  const report = await runConformance(rt, { fixtureDir: fixture, dtype: 'f32', only: ['TOKENIZER'] });
  t.equal(report.passed, 14);
});

t.test('scheduler kinds are read from golden names', async (t) => {
  t.same(schedulerKindOf('scheduler_pndm_plms_50'), { kind: 'plms', steps: 50 });
  t.same(schedulerKindOf('scheduler_dpmpp_2m_20'), { kind: 'dpmpp-2m', steps: 20 });
  t.same(schedulerKindOf('scheduler_ddim_7'), { kind: 'ddim', steps: 7 });
  t.equal(schedulerKindOf('scheduler_lms_20'), null);
  t.equal(schedulerKindOf('unet'), null);
});

t.test('the command line: exit status and closing line', async (t) => {
  const run = spawnSync(process.execPath, [fromRoot('scripts', 'conformance.js'), fixture, '--only', 'tokenizer'], { encoding: 'utf8' });
  if (run.status !== 0) t.comment(run.stderr);
  t.equal(run.status, 0, 'exit status 0');
  const lines = run.stdout.trimEnd().split('\n');
  t.match(lines[lines.length - 1], /^14 passed, 0 failed, \d+ skipped$/);
  t.equal(lines.filter((l) => l.startsWith('ok    tokenizer')).length, 14);
});
