// An RGB raster with filled rectangles and pixel-font text: just enough to draw the report's charts.

import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixel, textWidth } from './pixel-font.js';

export type Rgb = readonly [number, number, number];

export class Canvas {
  readonly rgb: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.rgb = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  /** Fills [x, x + w) × [y, y + h), clipped to the canvas. */
  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let py = y0; py < y1; py++) {
      for (let px = x0; px < x1; px++) this.rgb.set(color, (py * this.width + px) * 3);
    }
  }

  /** Text with its top-left corner at (x, y), each font pixel drawn as scale × scale. */
  text(x: number, y: number, text: string, scale: number, color: Rgb = [0, 0, 0]): void {
    [...text].forEach((char, k) => {
      const left = x + k * (GLYPH_WIDTH + 1) * scale;
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
          if (glyphPixel(char, gx, gy)) this.fillRect(left + gx * scale, y + gy * scale, scale, scale, color);
        }
      }
    });
  }

  /** Text right-aligned to x. */
  textRight(x: number, y: number, text: string, scale: number, color?: Rgb): void {
    this.text(x - textWidth(text, scale), y, text, scale, color);
  }

  /** Text centred on x. */
  textCentred(x: number, y: number, text: string, scale: number, color?: Rgb): void {
    this.text(x - Math.round(textWidth(text, scale) / 2), y, text, scale, color);
  }
}
