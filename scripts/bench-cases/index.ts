import type { BenchCase } from './case.js';
import { binaryCases } from './binary.js';
import { matmulCases } from './matmul.js';
import { conv2dCases } from './conv2d.js';
import { elementwiseCases } from './elementwise.js';
import { attentionCases, attentionSweepCases } from './attention.js';
import { mergeCases } from './merge.js';

/** Every kernel benchmark; each kernel family adds its list here. */
export const allCases: BenchCase[] = [...binaryCases, ...matmulCases, ...conv2dCases, ...elementwiseCases, ...attentionCases, ...attentionSweepCases, ...mergeCases];
