/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * io.h: the engine's file formats for tensors. Model weights are safetensors files
 * (F32, little-endian, PyTorch layouts, DINO/timm state-dict names); arrays exchanged
 * with other tools (features, attention maps, images) are NumPy .npy files
 * (little-endian float32 or uint8, C order).
 *
 * Readers never trust the file: every length, offset and shape is checked against the
 * file size before anything is allocated or copied, and a bad file comes back as a
 * GError whose message starts with the path and names the tensor and value at fault.
 * Codes: DINOLAB_ERROR_IO (missing or unreadable file, failed write),
 * DINOLAB_ERROR_CORRUPT (truncated or malformed file), DINOLAB_ERROR_INVALID_INPUT
 * (valid file we do not support: wrong dtype, too many dims, fortran order; or a
 * missing tensor / wrong shape asked for by the caller).
 *
 * Writers write "<path>.tmp", fsync it and rename() it over @path, so a crash never
 * leaves a half-written file under the real name.
 *
 * This module knows nothing about models: matching tensors to a DinolabParamTable is
 * the caller's job (dinolab_safetensors_get_f32 does the shape check for it).
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define DINOLAB_MAX_DIMS 8

typedef enum {
    DINOLAB_DTYPE_F32, /* float, .npy '<f4', safetensors "F32" */
    DINOLAB_DTYPE_U8,  /* guint8, .npy '|u1' (.npy only) */
} DinolabDtype;

/* An n-dimensional array in C (row-major) order. ndim may be 0 (a scalar, numel 1). */
typedef struct {
    DinolabDtype dtype;
    int          ndim;
    int64_t      shape[DINOLAB_MAX_DIMS]; /* entries past ndim are 0 */
    void        *data;                    /* owned by the array; float* or guint8* */
} DinolabArray;

// ----------------------------------------------------------------------------
// Arrays

/* dinolab_array_new:
 * Returns a new zero-filled array of @dtype with @ndim (0..DINOLAB_MAX_DIMS) dims
 * @shape (each >= 0; may be NULL when @ndim is 0). data is never NULL, even when a
 * dim is 0. Free with dinolab_array_free(). Aborts only when out of memory. */
DinolabArray *dinolab_array_new          (DinolabDtype   dtype,
                                          int            ndim,
                                          const int64_t *shape);

/* dinolab_array_free:
 * Frees @a and its data. NULL-safe. */
void          dinolab_array_free         (DinolabArray  *a);

/* dinolab_array_numel:
 * Returns the number of elements: the product of the dims (1 for ndim 0). */
int64_t       dinolab_array_numel        (const DinolabArray *a);

/* dinolab_shape_to_string:
 * Formats @shape as "[2,3,28,28]" ("[]" for ndim 0). Returns a new string: g_free() it. */
char         *dinolab_shape_to_string    (int            ndim,
                                          const int64_t *shape);

// ----------------------------------------------------------------------------
// .npy (NumPy format 1.0; 2.0 and 3.0 headers are read too)

/* dinolab_npy_read:
 * Reads a '<f4' (DINOLAB_DTYPE_F32) or '|u1' (DINOLAB_DTYPE_U8) C-order array from
 * @path. Big-endian data, other dtypes, fortran_order True and more than
 * DINOLAB_MAX_DIMS dims are refused (DINOLAB_ERROR_INVALID_INPUT). Returns a new
 * array (dinolab_array_free) or NULL with @error set. */
DinolabArray *dinolab_npy_read           (const char    *path,
                                          GError       **error);

/* dinolab_npy_write:
 * Writes @a to @path as a version 1.0 .npy file ('<f4' or '|u1', C order), through
 * "<path>.tmp" and rename(). Returns FALSE with @error set (DINOLAB_ERROR_IO) on
 * failure; @path is then untouched and no "<path>.tmp" is left behind. */
gboolean      dinolab_npy_write          (const char         *path,
                                          const DinolabArray *a,
                                          GError            **error);

/* dinolab_npy_write_f32:
 * Same as dinolab_npy_write() for a float buffer the caller owns (@data holds the
 * product of @shape floats, C order; it is only read). */
gboolean      dinolab_npy_write_f32      (const char    *path,
                                          const float   *data,
                                          int            ndim,
                                          const int64_t *shape,
                                          GError       **error);

// ----------------------------------------------------------------------------
// safetensors

typedef struct DinolabSafetensors DinolabSafetensors; /* opaque */

/* dinolab_safetensors_read:
 * Reads every tensor of @path into memory (the file is not kept open or mapped).
 * Only dtype F32 is accepted. Names are normalised: any leading chain of "module.",
 * "backbone.", "student." and "teacher." is stripped
 * ("module.backbone.blocks.0.norm1.weight" -> "blocks.0.norm1.weight").
 * When several stored tensors normalise to the same name, the copy that came from
 * @prefer_prefix wins ("student" or "teacher"; NULL means "teacher", as DINO's evals
 * use the teacher), then a copy with neither prefix, then the other one; two copies
 * of equal rank (say "module.X" and "backbone.X") are an error.
 * Returns a new object (dinolab_safetensors_free) or NULL with @error set. */
DinolabSafetensors *dinolab_safetensors_read         (const char *path,
                                                      const char *prefer_prefix,
                                                      GError    **error);

/* dinolab_safetensors_free:
 * Frees @st and every tensor, name and metadata string it owns. NULL-safe. */
void                dinolab_safetensors_free         (DinolabSafetensors *st);

/* dinolab_safetensors_get_path:
 * Returns the path @st was read from. Owned by @st. */
const char         *dinolab_safetensors_get_path     (const DinolabSafetensors *st);

/* dinolab_safetensors_get_n_tensors:
 * Returns the number of tensors kept (after prefix collisions were resolved). */
guint               dinolab_safetensors_get_n_tensors (const DinolabSafetensors *st);

/* dinolab_safetensors_get_name:
 * Returns the normalised name of tensor @i (0 <= @i < n_tensors), in the order of the
 * tensors' data in the file (= the order they were written by dinolab_safetensors_write).
 * Owned by @st. */
const char         *dinolab_safetensors_get_name     (const DinolabSafetensors *st,
                                                      guint                     i);

/* dinolab_safetensors_get:
 * Returns the tensor with normalised name @name (always DINOLAB_DTYPE_F32), or NULL
 * if absent. Owned by @st and READ-ONLY: the data may point into the file's
 * read-only mapping (copy it before changing it). */
const DinolabArray *dinolab_safetensors_get          (const DinolabSafetensors *st,
                                                      const char               *name);

/* dinolab_safetensors_get_f32:
 * Looks up @name and checks it has exactly @ndim dims of @shape. Returns its data
 * (owned by @st) or NULL with @error set (DINOLAB_ERROR_INVALID_INPUT):
 * "<file>: tensor blocks.0.attn.qkv.weight is missing" or
 * "<file>: blocks.0.attn.qkv.weight: expected [96,32], found [96,31]". */
const float        *dinolab_safetensors_get_f32      (const DinolabSafetensors *st,
                                                      const char               *name,
                                                      int                       ndim,
                                                      const int64_t            *shape,
                                                      GError                  **error);

/* dinolab_safetensors_get_metadata:
 * Returns the __metadata__ value for @key (e.g. "hyperparameters") or NULL.
 * Owned by @st. */
const char         *dinolab_safetensors_get_metadata (const DinolabSafetensors *st,
                                                      const char               *key);

/* A tensor to write: borrowed name and data (data holds the product of shape floats). */
typedef struct {
    const char  *name;
    int          ndim;
    int64_t      shape[DINOLAB_MAX_DIMS];
    const float *data;        /* borrowed */
} DinolabTensorView;

/* dinolab_safetensors_write:
 * Writes the @n F32 @tensors to @path in the given order, data contiguous, header
 * JSON compact and padded with spaces to a multiple of 8 bytes. @metadata is NULL or
 * a NULL-terminated list of key, value, key, value, ... UTF-8 strings stored in
 * __metadata__. Names must be non-empty, unique, valid UTF-8 and not "__metadata__"
 * (DINOLAB_ERROR_INVALID_INPUT otherwise). Writes through "<path>.tmp" and rename();
 * on failure returns FALSE with @error set, @path untouched, no "<path>.tmp" left. */
gboolean            dinolab_safetensors_write        (const char              *path,
                                                      const DinolabTensorView *tensors,
                                                      guint                    n,
                                                      const char *const       *metadata,
                                                      GError                 **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabArray, dinolab_array_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabSafetensors, dinolab_safetensors_free)

G_END_DECLS
