// The stream example: a native renderer streams an image tile by tile, and the caller uses each
// tile as it comes. The library crashes on tiles wholly inside the set: the stream then ends
// with WORKER_CRASHED, the crash's facts and the count of tiles delivered, and the caller
// resumes after the bad tile, on the worker the pool started in place of the dead one.
// `npm run example:stream` (`-- --small` for a quick run); writes the image as a PGM file.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { AirlockError, Code, createPool } from "airlock";
import { createTileServiceClient } from "./gen/tiles/v1/tiles_airlock.js";
import { readFlags } from "../support/flags.js";

async function main(): Promise<void> {
  const flags = readFlags({ width: 2048, tile: 256, iterations: 500 }, { width: 512, tile: 64, iterations: 200 });
  const width = flags.width;
  const height = (width * 3) / 4;
  const size = flags.tile;
  const columns = Math.ceil(width / size);
  const count = columns * Math.ceil(height / size);
  const view = { width, height, tileSize: size, maxIterations: flags.iterations, centerX: -0.75, centerY: 0, scale: 3 / width };
  console.log(`stream: ${width}x${height} Mandelbrot image in ${count} tiles of ${size}x${size}, rendered by libtiles in a worker`);

  const pool = await createPool({ worker: path.join(__dirname, "worker.js"), workers: 1, forwardStderr: false });
  const client = createTileServiceClient(pool);
  const image = new Uint8Array(width * height);
  const received = new Set<number>();
  const crashed: number[] = [];
  const started = performance.now();
  let firstTileMs: number | undefined;
  let next = 0;
  while (next < count) {
    try {
      for await (const tile of client.render({ ...view, firstTile: next, skipTiles: crashed })) {
        firstTileMs ??= performance.now() - started;
        for (let row = 0; row < tile.size; row++) image.set(tile.pixels.subarray(row * tile.size, (row + 1) * tile.size), (tile.top + row) * width + tile.left);
        received.add(tile.index);
        next = tile.index + 1;
      }
      break;
    } catch (error) {
      if (!(error instanceof AirlockError) || error.code !== Code.WorkerCrashed) throw error;
      // Tiles come in order: the one after the last delivered killed the worker.
      const bad = nextMissing(next, crashed);
      const facts = error.crash!;
      console.log(`  tile ${bad} crashed the worker after ${error.details.delivered} tiles of this stream (${facts.signal ?? facts.cause}, pid ${facts.pid}); resuming at tile ${bad + 1}`);
      crashed.push(bad);
      next = bad + 1;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const file = path.join(tmpdir(), "airlock-stream-example.pgm");
  writeFileSync(file, Buffer.concat([Buffer.from(`P5 ${width} ${height} 255\n`), image]));
  const { crashes, restarts } = pool.stats();
  await pool.close();

  console.log(`tiles received: ${received.size} of ${count}, ${crashed.length} lost to crashes (${crashed.join(", ")})`);
  console.log(`first tile after ${firstTileMs!.toFixed(0)} ms, all in ${seconds.toFixed(2)} s; worker crashes: ${crashes}, restarts: ${restarts}`);
  console.log(`image written to ${file}`);
  const ok = received.size + crashed.length === count && crashed.length > 0 && crashes === crashed.length;
  console.log(ok ? "result: every tile but the crashing ones arrived, in order, once; this process never crashed" : "result: UNEXPECTED outcome (see above)");
  process.exitCode = ok ? 0 : 1;
}

// The first tile from `from` on that is not already known to crash.
function nextMissing(from: number, crashed: readonly number[]): number {
  let tile = from;
  while (crashed.includes(tile)) tile += 1;
  return tile;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
