#include "tiles.h"

#include <stddef.h>
#include <string.h>

typedef struct {
  uint8_t pixels[1];
} flat_tile;

/* Flat tiles were meant to be rendered once and cached; the cache was never written. */
flat_tile *tiles_flat_cache[16];

static flat_tile *cached_flat_tile(int max_iter) { return tiles_flat_cache[max_iter & 15]; }

void tiles_render(int left, int top, int size, int width, int height, double center_x, double center_y, double scale, int max_iter, uint8_t *out) {
  int inside = 0;
  for (int row = 0; row < size; row++) {
    for (int col = 0; col < size; col++) {
      double cx = center_x + (left + col - width / 2.0) * scale;
      double cy = center_y + (top + row - height / 2.0) * scale;
      double x = 0, y = 0;
      int n = 0;
      while (n < max_iter && x * x + y * y <= 4.0) {
        double next = x * x - y * y + cx;
        y = 2 * x * y + cy;
        x = next;
        n++;
      }
      inside += n == max_iter;
      out[row * size + col] = n == max_iter ? 0 : (uint8_t)(255 - (n * 255) / max_iter);
    }
  }
  if (inside == size * size) {
    /* The bug: the cache entry is NULL. */
    memset(out, cached_flat_tile(max_iter)->pixels[0], (size_t)size * size);
  }
}
