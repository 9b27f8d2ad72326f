/*
 * libfragile: a small C library with the bugs real C libraries ship. It stands in for the
 * native dependency you cannot fix or audit; airlock's native-crash example runs it in
 * supervised worker processes so that its bugs never reach the caller.
 */
#ifndef FRAGILE_H
#define FRAGILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest text fragile_format promises to render (it does not check: see fragile.c). */
#define FRAGILE_LINE_MAX 256

/*
 * Renders `pattern` printf-style into `out` (`out_size` bytes): %d and %x take the next of
 * `args`, %% is a percent sign. Returns the length of the rendered text.
 * Bugs: %s takes the next argument for a string pointer; a rendering longer than
 * FRAGILE_LINE_MAX overflows a stack buffer.
 */
size_t fragile_format(const char *pattern, const int64_t *args, size_t nargs, char *out, size_t out_size);

/*
 * FNV-1a checksum of `size` bytes. Bug: every call leaks a 1 MiB scratch buffer.
 */
uint32_t fragile_checksum(const uint8_t *data, size_t size);

/*
 * Copies `in` to `out` (at least strlen(in) + 1 bytes), replacing \n, \t and \\ with the
 * characters they stand for; returns the length written. Bug: a backslash at the very end
 * makes it spin forever.
 */
size_t fragile_unescape(const char *in, char *out);

#ifdef __cplusplus
}
#endif

#endif
