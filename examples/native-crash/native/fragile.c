/* libfragile: see fragile.h. Each BUG comment marks a defect left in on purpose. */
#include "fragile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t fragile_format(const char *pattern, const int64_t *args, size_t nargs, char *out, size_t out_size) {
  /* BUG: "no line is ever longer than this", so nothing below checks n against it. */
  char line[FRAGILE_LINE_MAX];
  size_t n = 0;
  size_t next = 0;
  for (const char *p = pattern; *p != '\0'; p++) {
    if (*p != '%' || p[1] == '\0') {
      line[n++] = *p;
      continue;
    }
    p++;
    if (*p == '%') {
      line[n++] = '%';
      continue;
    }
    int64_t value = next < nargs ? args[next++] : 0;
    switch (*p) {
      case 'd':
        n += (size_t)sprintf(line + n, "%lld", (long long)value);
        break;
      case 'x':
        n += (size_t)sprintf(line + n, "%llx", (unsigned long long)value);
        break;
      case 's': {
        /* BUG: trusts the pattern: the argument is taken for the address of a string. */
        const char *text = (const char *)(intptr_t)value;
        while (*text != '\0') line[n++] = *text++;
        break;
      }
      default:
        line[n++] = '%';
        line[n++] = *p;
    }
  }
  line[n] = '\0';
  snprintf(out, out_size, "%s", line);
  return n;
}

/* Scratch buffers, meant to be freed at the end of each call; the free was lost in a refactor. */
struct scratch {
  struct scratch *next;
  uint8_t bytes[1024 * 1024];
};
static struct scratch *scratch_list;

uint32_t fragile_checksum(const uint8_t *data, size_t size) {
  struct scratch *scratch = malloc(sizeof *scratch);
  if (scratch != NULL) {
    /* BUG: kept on a list nobody empties. Touching every page makes the leak resident. */
    memset(scratch->bytes, (int)(size & 0xFF), sizeof scratch->bytes);
    scratch->next = scratch_list;
    scratch_list = scratch;
  }
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < size; i++) {
    hash ^= data[i];
    hash *= 16777619u;
  }
  return hash;
}

size_t fragile_unescape(const char *in, char *out) {
  /* volatile: the spin below is the bug being shown; keep the optimizer from judging it. */
  const char *volatile p = in;
  size_t n = 0;
  while (*p != '\0') {
    if (*p != '\\') {
      out[n++] = *p++;
      continue;
    }
    if (p[1] == '\0') continue; /* BUG: should stop here; the cursor never moves again. */
    switch (p[1]) {
      case 'n':
        out[n++] = '\n';
        break;
      case 't':
        out[n++] = '\t';
        break;
      default:
        out[n++] = p[1];
    }
    p += 2;
  }
  out[n] = '\0';
  return n;
}
