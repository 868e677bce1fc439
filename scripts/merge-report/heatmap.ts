// A heat map chart of values in [0, 1]: one row per U-Net block, one column per evaluation, a
// colour bar, evaluation ticks and block labels. Cells without a value are drawn grey.

import { encodePng } from '../../pipeline/png.js';
import { Canvas, type Rgb } from './canvas.js';
import { GLYPH_HEIGHT, textWidth } from './pixel-font.js';

export interface HeatmapData {
  readonly title: string;
  /** One label per row (drawn at the left). */
  readonly rowLabels: readonly string[];
  /** The x axis' name and the label of each column (ticks are drawn for some of them). */
  readonly columnAxis: string;
  readonly columnLabels: readonly string[];
  /** values[row][column] in [0, 1]; NaN = no value. */
  readonly values: readonly (readonly number[])[];
}

const FONT = 2;
const LINE = GLYPH_HEIGHT * FONT;
const PAD = 8;
const MISSING: Rgb = [200, 200, 200];
const INK: Rgb = [0, 0, 0];

// viridis at 0, 0.25, 0.5, 0.75, 1
const STOPS: readonly Rgb[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** The colour of a value in [0, 1] (clamped); grey for NaN. */
export function heatColour(v: number): Rgb {
  if (Number.isNaN(v)) return MISSING;
  const t = Math.min(1, Math.max(0, v)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [STOPS[i]!, STOPS[i + 1]!];
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * f)) as unknown as Rgb;
}

/** The chart as PNG bytes. */
export function heatmapPng(data: HeatmapData): Buffer {
  const rows = data.rowLabels.length;
  const cols = data.columnLabels.length;
  if (data.values.length !== rows || data.values.some((r) => r.length !== cols)) {
    throw new Error(`heatmap: values are not ${rows} rows of ${cols}`);
  }
  const cellW = Math.max(3, Math.min(24, Math.floor(720 / Math.max(1, cols))));
  const cellH = LINE + 6;
  const labelW = Math.max(0, ...data.rowLabels.map((l) => textWidth(l, FONT)));
  const left = PAD + labelW + PAD;
  const top = PAD + LINE + PAD;
  const gridW = cols * cellW;
  const gridH = Math.max(1, rows) * cellH;
  const barX = left + gridW + 2 * PAD;
  const barW = 12;
  const width = barX + barW + PAD + textWidth('1.0', FONT) + PAD;
  const height = top + gridH + PAD + LINE + PAD + LINE + PAD;
  const c = new Canvas(Math.max(width, PAD + textWidth(data.title, FONT) + PAD), height);

  c.text(PAD, PAD, data.title, FONT, INK);
  data.rowLabels.forEach((label, r) => {
    c.textRight(left - PAD, top + r * cellH + 3, label, FONT, INK);
    data.values[r]!.forEach((v, k) => c.fillRect(left + k * cellW, top + r * cellH, cellW, cellH, heatColour(v)));
  });
  // thin white lines between block rows keep them apart
  for (let r = 1; r < rows; r++) c.fillRect(left, top + r * cellH, gridW, 1, [255, 255, 255]);

  // ticks on round column indices, as dense as their labels allow
  const axisY = top + gridH;
  const labelSpace = Math.max(0, ...data.columnLabels.map((l) => textWidth(l, FONT))) + 3 * FONT * 2;
  const every = niceStep(Math.ceil(labelSpace / cellW));
  for (let k = 0; k < cols; k += every) {
    const x = left + k * cellW + Math.floor(cellW / 2);
    c.fillRect(x, axisY, 1, 4, INK);
    c.textCentred(x, axisY + 6, data.columnLabels[k]!, FONT, INK);
  }
  c.textCentred(left + gridW / 2, axisY + 6 + LINE + PAD, data.columnAxis, FONT, INK);

  // colour bar: 1 at the top, 0 at the bottom
  for (let y = 0; y < gridH; y++) c.fillRect(barX, top + y, barW, 1, heatColour(1 - y / Math.max(1, gridH - 1)));
  c.text(barX + barW + 4, top, '1.0', FONT, INK);
  c.text(barX + barW + 4, top + gridH - LINE, '0.0', FONT, INK);
  return encodePng(c.width, c.height, c.rgb);
}

/** 1, 2, 5, 10, 20, 50, … at least n. */
function niceStep(n: number): number {
  for (let p = 1; ; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p >= n) return m * p;
  }
}
