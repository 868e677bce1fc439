// Per-block time series of a merging run, built evaluation by evaluation from the recorder's token
// maps: the merged fraction, and the Jaccard distance of the merge pairs to the previous evaluation.

import type { BlockPlace } from '../../unet/hooks.js';
import type { RecordedEvaluation } from '../../merge/token-map-recorder.js';
import { mergedFraction, mergePairDistance } from '../../merge/token-map-metrics.js';

export interface EvaluationInfo {
  /** The U-Net evaluation index (0-based; PLMS makes steps + 1). */
  readonly index: number;
  readonly timestep: number | null;
}

export interface BlockSeries {
  readonly place: BlockPlace;
  /** A short label for charts: D0.1 = down_blocks.0.attentions.1, M0.0 = the mid block, U3.2, … (a third number: its transformer_blocks index when not 0). */
  readonly label: string;
  /** Per evaluation: 1 − rows/N, averaged over the batch rows; 0 where the block merged nothing. */
  readonly fraction: number[];
  /** Per evaluation: Jaccard distance of the merge pairs to the previous evaluation's; NaN at the first. */
  readonly jaccard: number[];
}

interface BlockTrack extends BlockSeries {
  /** The last evaluation's map (null: merged nothing) and its batch. */
  previous: { rows: Uint32Array | null; batch: number } | null;
}

export class MergeSeries {
  readonly evaluations: EvaluationInfo[] = [];
  private readonly tracks = new Map<string, BlockTrack>();

  /** Adds one evaluation's maps; blocks first seen now get 0 (nothing merged) for the earlier ones. */
  add(recorded: RecordedEvaluation): void {
    const k = this.evaluations.length;
    this.evaluations.push({ index: recorded.evaluation.step, timestep: recorded.evaluation.timestep });
    const now = new Map(recorded.maps.map((m) => [m.place.name, m]));
    for (const m of recorded.maps) {
      if (this.tracks.has(m.place.name)) continue;
      this.tracks.set(m.place.name, {
        place: m.place,
        label: blockLabel(m.place),
        fraction: new Array<number>(k).fill(0),
        jaccard: k === 0 ? [] : [NaN, ...new Array<number>(k - 1).fill(0)],
        previous: k === 0 ? null : { rows: null, batch: m.batch },
      });
    }
    for (const track of this.tracks.values()) {
      const m = now.get(track.place.name);
      const batch = m?.batch ?? track.previous?.batch ?? 1;
      const rows = m?.rows ?? null;
      track.fraction.push(rows ? mergedFraction(rows, batch) : 0);
      track.jaccard.push(track.previous ? mergePairDistance(track.previous.rows, rows, batch) : NaN);
      track.previous = { rows, batch };
    }
  }

  /** Every block that merged at least once, in execution order. */
  get blocks(): BlockSeries[] {
    return [...this.tracks.values()]
      .sort((a, b) => a.place.ordinal - b.place.ordinal)
      .map(({ place, label, fraction, jaccard }) => ({ place, label, fraction, jaccard }));
  }
}

export function blockLabel(p: BlockPlace): string {
  const stage = p.stage === 'down' ? 'D' : p.stage === 'up' ? 'U' : 'M';
  return `${stage}${p.blockIndex}.${p.attentionIndex}${p.transformerIndex > 0 ? `.${p.transformerIndex}` : ''}`;
}
