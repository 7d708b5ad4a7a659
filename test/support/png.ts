// Test helper: decodes the 8-bit RGB/RGBA PNGs a browser's screenshot produces, so a test can
// look at pixels (size, blankness, a colour that must be visible) with node:zlib alone.
import { inflateSync } from "node:zlib";

/** A decoded image: `channels` bytes per pixel, rows top to bottom. */
export interface Image {
  width: number;
  height: number;
  channels: 3 | 4;
  pixels: Buffer;
}

const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes a non-interlaced 8-bit RGB or RGBA PNG; throws for anything else. */
export function decodePNG(png: Buffer): Image {
  if (!png.subarray(0, 8).equals(signature)) throw new Error("png: bad signature");
  let width = 0;
  let height = 0;
  let channels: 3 | 4 = 3;
  const data: Buffer[] = [];
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = body.subarray(8, 13);
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
        throw new Error(`png: unsupported depth ${depth} colour ${colour} interlace ${interlace}`);
      }
      channels = colour === 6 ? 4 : 3;
    } else if (type === "IDAT") {
      data.push(body);
    } else if (type === "IEND") {
      break;
    }
    at += 12 + length;
  }
  const filtered = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = filtered[y * (stride + 1)];
    const row = filtered.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? (pixels[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const corner = x >= channels && y > 0 ? (pixels[(y - 1) * stride + x - channels] ?? 0) : 0;
      pixels[y * stride + x] = (row[x] ?? 0) + predict(filter, left, up, corner);
    }
  }
  return { width, height, channels, pixels };
}

/** The PNG row filters (RFC 2083 §6): what each filtered byte was taken relative to. */
function predict(filter: number | undefined, left: number, up: number, corner: number): number {
  switch (filter) {
    case 0:
      return 0;
    case 1:
      return left;
    case 2:
      return up;
    case 3:
      return (left + up) >> 1;
    case 4: {
      const estimate = left + up - corner;
      const [a, b, c] = [estimate - left, estimate - up, estimate - corner].map(Math.abs);
      if ((a ?? 0) <= (b ?? 0) && (a ?? 0) <= (c ?? 0)) return left;
      return (b ?? 0) <= (c ?? 0) ? up : corner;
    }
    default:
      throw new Error(`png: unknown row filter ${String(filter)}`);
  }
}

/** How many pixels are within `tolerance` (per channel) of the colour `[r, g, b]`. */
export function countColour(image: Image, [r, g, b]: readonly number[], tolerance = 24): number {
  let count = 0;
  const { pixels, channels } = image;
  for (let at = 0; at < pixels.length; at += channels) {
    const near =
      Math.abs((pixels[at] ?? 0) - (r ?? 0)) <= tolerance &&
      Math.abs((pixels[at + 1] ?? 0) - (g ?? 0)) <= tolerance &&
      Math.abs((pixels[at + 2] ?? 0) - (b ?? 0)) <= tolerance;
    if (near) count++;
  }
  return count;
}

/** The share of pixels (0–1) that differ from the most common colour: 0 for a blank image. */
export function inkRatio(image: Image): number {
  const counts = new Map<number, number>();
  const { pixels, channels } = image;
  for (let at = 0; at < pixels.length; at += channels) {
    const key = ((pixels[at] ?? 0) << 16) | ((pixels[at + 1] ?? 0) << 8) | (pixels[at + 2] ?? 0);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const total = pixels.length / channels;
  return total === 0 ? 0 : 1 - Math.max(0, ...counts.values()) / total;
}
