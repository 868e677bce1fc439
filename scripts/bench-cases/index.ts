import type { BenchCase } from './case.js';
import { binaryCases } from './binary.js';

/** Every kernel benchmark; each kernel family adds its list here. */
export const allCases: BenchCase[] = [...binaryCases];
