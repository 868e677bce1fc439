import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { createMergePlugin } from '../../merge/index.js';
import { AttentionHooks } from '../../unet/hooks.js';

// The denoising loop replays each kind of evaluation on its own buffers (Runtime.iteration), so a
// plug-in's kinds must follow the steps where its work changes.
t.test('merge plug-ins name the kind of work each evaluation records', async (t) => {
  const rt = await testRuntime();
  const kinds = (hooks: AttentionHooks, steps: number) => Array.from({ length: steps }, (_, step) => hooks.evaluationKind(step));
  const cases = [
    { options: { method: 'tome' } as const, want: ['', '', '', ''] },
    {
      options: { method: 'catome', checkpoints: [0, 2] } as const,
      want: ['pairs recomputed', 'pairs reused', 'pairs recomputed', 'pairs reused'],
    },
    {
      options: { method: 'toma', recomputeInterval: 3 } as const,
      want: ['assignment recomputed', 'assignment reused', 'assignment reused', 'assignment recomputed'],
    },
    {
      options: { method: 'importance' } as const,
      want: ['ToMe before a guidance map', 'ranked by guidance', 'ranked by guidance', 'ranked by guidance'],
    },
  ];
  for (const { options, want } of cases) {
    const hooks = new AttentionHooks(createMergePlugin(rt, options));
    t.same(kinds(hooks, want.length), want, options.method);
    hooks.dispose();
  }
});
