// The worker of the stream example: binds libtiles and streams its tiles. The library's bug
// (a NULL read on tiles wholly inside the set) kills this process, never the caller.
import * as path from "node:path";
import { serve } from "airlock";
import { TileServiceDefinition } from "./gen/tiles/v1/tiles_airlock.js";

/** The exports of build/Release/tiles.node (native/binding.cc). */
interface Tiles {
  render(left: number, top: number, size: number, width: number, height: number, centerX: number, centerY: number, scale: number, maxIter: number): Uint8Array;
}

// Built by `npm run build:native` into the example's own folder; this file runs from dist/.
const tiles = require(path.resolve(__dirname, "../../../examples/stream/build/Release/tiles.node")) as Tiles;

serve(TileServiceDefinition, {
  async *render(request, context) {
    const { width, height, tileSize: size } = request;
    const columns = Math.ceil(width / size);
    const count = columns * Math.ceil(height / size);
    const skipped = new Set(request.skipTiles);
    for (let index = request.firstTile; index < count; index++) {
      if (skipped.has(index)) continue;
      // The caller went away (left its loop, or its deadline passed): stop rendering.
      if (context.signal.aborted) return;
      const left = (index % columns) * size;
      const top = Math.floor(index / columns) * size;
      const pixels = tiles.render(left, top, size, width, height, request.centerX, request.centerY, request.scale, request.maxIterations);
      yield { index, left, top, size, pixels };
    }
  },
});
