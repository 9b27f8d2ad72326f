// The image example: resize and blur large raw RGBA images with sharp in supervised workers,
// measured against the same sharp calls in this process; then corrupt and hostile image files,
// which come back as INVALID_ARGUMENT with sharp's reason. `npm run example:image`.
import { createHash } from "node:crypto";
import * as path from "node:path";
import { AirlockError, createPool } from "airlock";
import { createImageServiceClient, type ImageServiceClient } from "./gen/image/v1/image_airlock.js";
import { forEachConcurrently } from "../support/concurrency.js";
import { readFlags } from "../support/flags.js";
import { blur, resize, type Pixels } from "./operations.js";
import { sampleFiles, testImages } from "./samples.js";

const sigma = 2;

/** One way of running an operation: in this process, or through the pool. */
interface Runner {
  resize(image: Pixels, width: number, height: number): Promise<Pixels>;
  blur(image: Pixels, sigma: number): Promise<Pixels>;
}

/** How fast a runner went over the batch, and a digest of every output to compare runners by. */
interface Measurement {
  readonly seconds: number;
  readonly digests: string[];
}

async function main(): Promise<void> {
  const flags = readFlags({ size: 2048, count: 32, workers: 2 }, { size: 256, count: 4, workers: 2 });
  const images = testImages(flags.size);
  const imageMib = images[0]!.pixels.length / 2 ** 20;
  console.log(
    `image: ${flags.count} operations (resize to half size, blur with sigma ${sigma}, in turn) on ${flags.size}x${flags.size} RGBA ` +
      `images (${imageMib.toFixed(1)} MiB each), ${flags.workers} at a time`,
  );
  const pool = await createPool({ worker: path.join(__dirname, "worker.js"), workers: flags.workers });
  const client = createImageServiceClient(pool);
  const inProcess: Runner = { resize, blur };
  const isolated = pooled(client);

  // One of each first, so that neither side pays for loading libvips in the timed batch.
  await Promise.all([warmUp(inProcess, images[0]!), warmUp(isolated, images[0]!)]);
  const local = await measure(inProcess, images, flags.count, flags.workers);
  const remote = await measure(isolated, images, flags.count, flags.workers);
  const rate = (run: Measurement) =>
    `${(flags.count / run.seconds).toFixed(1)} images/s, ${((flags.count * imageMib) / run.seconds).toFixed(0)} MiB/s in (${run.seconds.toFixed(2)} s)`;
  console.log(`in-process sharp:    ${rate(local)}`);
  console.log(`airlock workers:     ${rate(remote)}, ${(local.seconds / remote.seconds).toFixed(2)}x in-process throughput`);
  const same = remote.digests.every((digest, i) => digest === local.digests[i]);
  console.log(`outputs identical to in-process: ${same ? "yes" : "NO"}`);

  console.log("decoding image files in a worker:");
  let filesAsExpected = true;
  for (const sample of await sampleFiles(images[0]!)) {
    try {
      const decoded = await client.decode({ file: sample.file });
      console.log(`  ${sample.name.padEnd(28)} -> ${decoded.width}x${decoded.height}, ${decoded.channels} channels`);
      filesAsExpected &&= sample.valid;
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      console.log(`  ${sample.name.padEnd(28)} -> ${error.code}: ${error.rawMessage}`);
      filesAsExpected &&= !sample.valid && error.code === "INVALID_ARGUMENT" && error.rawMessage.startsWith("sharp: ");
    }
  }
  const { crashes } = pool.stats();
  console.log(`worker crashes: ${crashes}; this process (pid ${process.pid}) is still here`);
  await pool.close();

  const ok = same && filesAsExpected;
  console.log(ok ? "result: every image processed as in-process, every bad file refused with a typed error" : "result: UNEXPECTED outcomes (see above)");
  process.exitCode = ok ? 0 : 1;
}

// The pool as a Runner: the same operations, each a call to a worker.
function pooled(client: ImageServiceClient): Runner {
  return {
    resize: (image, width, height) => client.resize({ image, width, height }),
    blur: (image, sigma) => client.blur({ image, sigma }),
  };
}

async function warmUp(runner: Runner, image: Pixels): Promise<void> {
  await runner.resize(image, 16, 16);
}

// Operation `i` of the batch: a resize to half size or a blur, on one of the test images.
function operation(runner: Runner, images: Pixels[], i: number): Promise<Pixels> {
  const image = images[i % images.length]!;
  return i % 2 === 0 ? runner.resize(image, image.width / 2, image.height / 2) : runner.blur(image, sigma);
}

async function measure(runner: Runner, images: Pixels[], count: number, inFlight: number): Promise<Measurement> {
  const digests: string[] = [];
  const started = performance.now();
  await forEachConcurrently(count, inFlight, async (i) => {
    const output = await operation(runner, images, i);
    digests[i] = createHash("sha1").update(output.pixels).digest("hex");
  });
  return { seconds: (performance.now() - started) / 1000, digests };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
