// What the image example does with sharp, shared by the worker and by the in-process baseline
// that main.ts measures it against, so both run exactly the same code.
import sharp from "sharp";

/** Uncompressed pixels: the fields of the proto's RawImage. */
export interface Pixels {
  readonly pixels: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** Resizes to `width` x `height` with sharp's default kernel (Lanczos 3). */
export function resize(image: Pixels, width: number, height: number): Promise<Pixels> {
  return toPixels(load(image).resize(width, height));
}

/** Blurs with a Gaussian of standard deviation `sigma`. */
export function blur(image: Pixels, sigma: number): Promise<Pixels> {
  return toPixels(load(image).blur(sigma));
}

/** Decodes an image file; sharp rejects a corrupt, truncated or oversized one with a message that says why. */
export function decode(file: Uint8Array): Promise<Pixels> {
  return toPixels(sharp(file));
}

function load(image: Pixels): sharp.Sharp {
  const { pixels, width, height, channels } = image;
  if (channels < 1 || channels > 4 || pixels.length !== width * height * channels) {
    throw new RangeError(`raw image: ${pixels.length} bytes is not ${width} x ${height} x ${channels} channels`);
  }
  return sharp(pixels, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
}

async function toPixels(pipeline: sharp.Sharp): Promise<Pixels> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height, channels: info.channels };
}
