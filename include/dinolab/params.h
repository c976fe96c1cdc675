/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * params.h: the one table of named tensors that lays out a model's parameters.
 *
 * A model's parameters live in ONE contiguous float32 block. The table below says,
 * for every tensor, its state-dict name (the DINO/timm name used in safetensors
 * files), its PyTorch shape and its offset in the block. Gradients, AdamW moments
 * and the EMA teacher are blocks of the same length and layout, so an update is one
 * loop over the table and a zero-grad is one memset. The weight-decay groups, the
 * clipping units (one per tensor), freeze_last_layer and the EMA all read the table.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define DINOLAB_PARAM_MAX_DIMS 4
#define DINOLAB_PARAM_NAME_LEN 64

typedef enum {
    DINOLAB_PARAM_DECAY      = 1 << 0, /* in the weight-decay group (ndim > 1, not a bias) */
    DINOLAB_PARAM_FROZEN     = 1 << 1, /* never trained (weight_g with norm_last_layer) */
    DINOLAB_PARAM_LAST_LAYER = 1 << 2, /* name contains "last_layer": freeze_last_layer */
    DINOLAB_PARAM_HEAD       = 1 << 3, /* belongs to the projection head */
} DinolabParamFlags;

typedef struct {
    char    name[DINOLAB_PARAM_NAME_LEN]; /* e.g. "blocks.3.attn.qkv.weight" */
    int     ndim;
    int64_t shape[DINOLAB_PARAM_MAX_DIMS];
    size_t  offset;                        /* in floats, from the start of the block */
    size_t  numel;
    guint   flags;                         /* DinolabParamFlags */
} DinolabParamInfo;

typedef struct {
    DinolabParamInfo *info;   /* n entries, in block order */
    guint             n;
    size_t            total;  /* floats in the block = sum of numel */
} DinolabParamTable;

/* dinolab_param_table_lookup:
 * Returns the entry named @name, or NULL. The table keeps ownership. */
const DinolabParamInfo *dinolab_param_table_lookup (const DinolabParamTable *table,
                                                    const char              *name);

/* dinolab_param_format_shape:
 * Writes "[1,197,384]" for @shape into @buf (at most @len bytes, NUL-terminated). */
void dinolab_param_format_shape (char *buf, size_t len, int ndim, const int64_t *shape);

G_END_DECLS
