// The inputs of the image example, made in code: large RGBA test images, and image files that
// are corrupt or hostile in the ways real uploads are.
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import type { Pixels } from "./operations.js";

/** Four distinct `size` x `size` RGBA images: gradients, rings, a checkerboard and noise. */
export function testImages(size: number): Pixels[] {
  const painters: ((x: number, y: number, i: number) => [number, number, number])[] = [
    (x, y) => [(x * 255) / size, (y * 255) / size, 128],
    (x, y) => {
      const ring = Math.hypot(x - size / 2, y - size / 2) % 64;
      return [ring * 4, 255 - ring * 4, (x ^ y) & 255];
    },
    (x, y) => (((x >> 5) ^ (y >> 5)) & 1 ? [240, 240, 240] : [16, 16, 16]),
    (_x, _y, i) => {
      const noise = Math.imul(i + 1, 2654435761) >>> 0;
      return [noise & 255, (noise >>> 8) & 255, (noise >>> 16) & 255];
    },
  ];
  return painters.map((paint) => {
    const pixels = new Uint8Array(size * size * 4);
    for (let y = 0, i = 0; y < size; y++) {
      for (let x = 0; x < size; x++, i++) {
        pixels.set(paint(x, y, i), i * 4);
        pixels[i * 4 + 3] = 255;
      }
    }
    return { pixels, width: size, height: size, channels: 4 };
  });
}

/** A file to decode, and whether sharp should accept it. */
export interface SampleFile {
  readonly name: string;
  readonly file: Uint8Array;
  readonly valid: boolean;
}

/** An intact PNG, then files a decoder must refuse: truncated, oversized, not an image at all. */
export async function sampleFiles(image: Pixels): Promise<SampleFile[]> {
  const raw = { raw: { width: image.width, height: image.height, channels: 4 as const } };
  const png = await sharp(image.pixels, raw).png().toBuffer();
  const jpeg = await sharp(image.pixels, raw).jpeg().toBuffer();
  return [
    { name: "intact PNG", file: png, valid: true },
    { name: "PNG cut at 60%", file: png.subarray(0, Math.floor(png.length * 0.6)), valid: false },
    { name: "JPEG cut at 60%", file: jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), valid: false },
    { name: "PNG claiming 100000x100000", file: bombPng(100_000, 100_000), valid: false },
    { name: "not an image", file: Buffer.from("GIF89a? no: a text file renamed to .gif"), valid: false },
  ];
}

// A decompression bomb's calling card: a tiny, well-formed PNG whose header claims an image of
// 40 GB of RGBA. A decoder that believes it allocates first and fails (or swaps) later.
function bombPng(width: number, height: number): Uint8Array {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 6; // RGBA
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(Buffer.alloc(4096))), chunk("IEND", Buffer.alloc(0))]);
}

// A PNG chunk: length, type, data, and the CRC-32 of type and data.
function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const framing = Buffer.alloc(8);
  framing.writeUInt32BE(data.length, 0);
  framing.writeUInt32BE(crc32(body), 4);
  return Buffer.concat([framing.subarray(0, 4), body, framing.subarray(4)]);
}
