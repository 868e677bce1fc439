import type { BenchCase } from './case.js';
import { binaryCases } from './binary.js';
import { matmulAheadCases, matmulCases, matmulSweepCases, splitSweepCases, tailSweepCases } from './matmul.js';
import { conv2dAheadCases, conv2dCases, conv2dM160Cases, conv2dSweepCases } from './conv2d.js';
import { elementwiseCases } from './elementwise.js';
import { attentionCases, attentionSweepCases } from './attention.js';
import { mergeCases } from './merge.js';

/** Every kernel benchmark; each kernel family adds its list here. */
export const allCases: BenchCase[] = [...binaryCases, ...matmulCases, ...matmulSweepCases, ...splitSweepCases, ...conv2dCases, ...conv2dSweepCases, ...matmulAheadCases, ...conv2dAheadCases, ...conv2dM160Cases, ...tailSweepCases, ...elementwiseCases, ...attentionCases, ...attentionSweepCases, ...mergeCases];
