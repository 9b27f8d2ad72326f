/*
 * libtiles: renders the Mandelbrot set tile by tile, as a native image or video library
 * produces its output piece by piece. It has one bug, of a kind real C libraries ship: a fast
 * path for tiles that lie wholly inside the set reads a cache that was never filled (NULL).
 */
#ifndef TILES_H
#define TILES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Renders the `size` x `size` tile whose top-left pixel is (`left`, `top`) of a view centred on
 * (`center_x`, `center_y`) with `scale` units per pixel, into `out` (size * size gray bytes:
 * the escape time, scaled to 0-255, 0 inside the set). Bug: a tile with every pixel inside the
 * set takes the "flat tile" path, which dereferences a NULL cache entry: SIGSEGV.
 */
void tiles_render(int left, int top, int size, int width, int height, double center_x, double center_y, double scale, int max_iter, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
