import { crc32 } from 'node:zlib';
import { rename, unlink, writeFile } from 'node:fs/promises';
import pngjs from 'pngjs';

/**
 * Encodes 8-bit RGB pixels (row-major, 3 bytes a pixel) as PNG with tEXt chunks, the way other SD
 * tools store the prompt and settings ("parameters" is what AUTOMATIC1111 and others read).
 */
export function encodePng(width: number, height: number, rgb: Uint8Array, text: Readonly<Record<string, string>> = {}): Buffer {
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${rgb.length} bytes for ${width}x${height} RGB`);
  const png = new pngjs.PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  const encoded = pngjs.PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
  const chunks = Object.entries(text).map(([k, v]) => textChunk(k, v));
  // Signature (8 bytes) + IHDR (4 length + 4 type + 13 data + 4 CRC): text goes right after IHDR.
  const afterHeader = 8 + 25;
  return Buffer.concat([encoded.subarray(0, afterHeader), ...chunks, encoded.subarray(afterHeader)]);
}

function textChunk(keyword: string, text: string): Buffer {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || keyword.includes('  ')) throw new Error(`bad PNG text keyword ${JSON.stringify(keyword)}`);
  // tEXt is Latin-1; characters outside it are replaced rather than mis-encoded.
  const body = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text.replace(/[^\x00-\xff]/g, '?'), 'latin1')]);
  const typeAndBody = Buffer.concat([Buffer.from('tEXt', 'ascii'), body]);
  const out = Buffer.alloc(8 + body.length + 4);
  out.writeUInt32BE(body.length, 0);
  typeAndBody.copy(out, 4);
  out.writeUInt32BE(crc32(typeAndBody) >>> 0, 8 + body.length);
  return out;
}

/** Reads the tEXt chunks of a PNG (tests, and tools that show an image's settings). */
export function readPngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 8;
  while (at + 8 <= png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    if (type === 'tEXt') {
      const body = png.subarray(at + 8, at + 8 + len);
      const zero = body.indexOf(0);
      out[body.toString('latin1', 0, zero)] = body.toString('latin1', zero + 1);
    }
    if (type === 'IEND') break;
    at += 12 + len;
  }
  return out;
}

/** Writes a file so that readers never see it half-written: a temporary beside it, then rename. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
