/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * io-private.h: file access shared by npy.c and safetensors.c (defined in npy.c):
 * mapping a file for reading, and the crash-safe writer (temp file, fsync, rename).
 */
#pragma once

#include <glib.h>

/* Maps @path read-only. Errors (DINOLAB_ERROR_IO) read "<path>: cannot open: <reason>";
 * a directory or FIFO is refused before open() (which would block on a FIFO). An
 * empty file maps with NULL contents, length 0. */
GMappedFile       *_dinolab_io_map                (const char *path, GError **error);

/* Sticky error, as in SQLite's *pRc: once a write fails, later writes do nothing and
 * _close() reports the first failure, so callers write straight down and check once.
 * _close() fsyncs and renames "<path>.tmp" over @path, or removes the temp file. */
typedef struct DinolabAtomicFile DinolabAtomicFile;

DinolabAtomicFile *_dinolab_atomic_file_open      (const char *path, GError **error);
void               _dinolab_atomic_file_write     (DinolabAtomicFile *af, const void *data, size_t size);
void               _dinolab_atomic_file_write_f32 (DinolabAtomicFile *af, const float *data, size_t n);
gboolean           _dinolab_atomic_file_close     (DinolabAtomicFile *af, GError **error);
