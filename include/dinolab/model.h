/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * model.h: the DINO network, a ViT backbone plus the DINO projection head, with its
 * forward and backward passes on the CPU.
 *
 * A DinolabModel owns one float32 parameter block laid out by a DinolabParamTable
 * (params.h) and, for a model that trains, a gradient block of the same layout. The
 * activations of a pass live in separate work objects sized once for a batch of
 * crops of one size, so a training step allocates nothing:
 *
 *   DinolabModel *m = dinolab_model_new (&hp, TRUE, &error);
 *   DinolabBackboneWork *w = dinolab_backbone_work_new (m, batch, 224, 224, TRUE);
 *   DinolabHeadWork *h = dinolab_head_work_new (m, batch, TRUE);
 *   dinolab_backbone_forward (m, w, images, &drop_path);     // CLS features [batch, D]
 *   dinolab_head_forward (m, h, dinolab_backbone_work_get_cls (w), batch);
 *   ... loss gives dlogits ...
 *   dinolab_head_backward (m, h, dlogits, NULL);             // += into the model's grads
 *   dinolab_backbone_backward (m, w, dinolab_head_work_get_dinput (h), NULL);
 *
 * Shapes follow the reference: images [B, C, H, W] (H, W multiples of patch_size),
 * tokens [B, 1 + (H/p)(W/p), D] with the CLS token first, the positional embedding
 * interpolated bicubically for grids other than img_size/patch_size (DINO.md 1.4).
 * Passes only read the parameters: several threads may run passes of one model at
 * once, each with its own work objects and (for backward) its own gradient block.
 */
#pragma once

#include <glib.h>

#include "dinolab/hparams.h"
#include "dinolab/io.h"
#include "dinolab/params.h"
#include "dinolab/rng.h"

G_BEGIN_DECLS

typedef struct DinolabModel        DinolabModel;

/* Drop path (stochastic depth, DINO.md 1.5) for one training forward. Whether a
 * residual branch is kept for a crop is a pure function of (seed, stream, the crop's
 * index, block, branch), so the masks do not depend on how a batch is split across
 * threads. Image j of the work has the crop index
 *   first_sample + (j / group_size) * group_stride + j % group_size
 * (group_size 0: first_sample + j), which lets a work hold a slice of every view. */
typedef struct {
    guint64 seed;
    guint64 stream;         /* e.g. the global iteration and the crop group */
    int     first_sample;
    int     group_size;
    int     group_stride;
} DinolabDropPath;
typedef struct DinolabBackboneWork DinolabBackboneWork;
typedef struct DinolabHeadWork     DinolabHeadWork;

// ----------------------------------------------------------------------------
// the model

/* dinolab_model_new:
 * Builds the tensor table for @hp (arch sizes, head sizes) and allocates the
 * parameter block, zero-filled: call dinolab_model_init_random() or load weights.
 * @with_head: FALSE for a backbone-only model (no head.* tensors; out_dim ignored).
 * @hp is copied. Returns NULL with DINOLAB_ERROR_INVALID_INPUT if @hp does not
 * validate. Free with dinolab_model_free(). */
DinolabModel *dinolab_model_new          (const DinolabHparams *hp,
                                          gboolean              with_head,
                                          GError              **error);
void          dinolab_model_free         (DinolabModel         *model);

/* dinolab_model_count_flops:
 * Matrix-product FLOPs (2*M*N*K for every product) of one forward pass of one image
 * of @height x @width through the backbone, plus one head row when @with_head. The
 * backward of a product costs twice its forward. For benchmarks. */
double        dinolab_model_count_flops  (const DinolabModel   *model,
                                          int                   height,
                                          int                   width,
                                          gboolean              with_head);

/* Allocates the (zeroed) gradient block; a teacher never needs one. Idempotent. */
void          dinolab_model_enable_grads (DinolabModel         *model);

/* The reference initialisation (DINO.md 1.7): N(0, 0.02^2) Linear weights, cls token
 * and pos embed; zero biases; LayerNorm 1/0; PyTorch's Conv2d default for the patch
 * embedding; U(-1/sqrt(bottleneck), ..) for the last layer's weight_v and weight_g = 1.
 * Deterministic in @seed. */
void          dinolab_model_init_random  (DinolabModel         *model,
                                          guint64               seed);

/* Copies every parameter of @src into @dst (same table, e.g. the teacher from the student). */
void          dinolab_model_copy_params  (DinolabModel         *dst,
                                          const DinolabModel   *src);

const DinolabHparams    *dinolab_model_get_hparams (const DinolabModel *model);
const DinolabParamTable *dinolab_model_get_table   (const DinolabModel *model);
gboolean      dinolab_model_has_head     (const DinolabModel   *model);
/* The parameter block (table->total floats), owned by the model. */
float        *dinolab_model_get_params   (DinolabModel         *model);
/* The gradient block, or NULL before dinolab_model_enable_grads(). Owned by the model. */
float        *dinolab_model_get_grads    (DinolabModel         *model);
void          dinolab_model_zero_grads   (DinolabModel         *model);

// ----------------------------------------------------------------------------
// files (safetensors, DESIGN.md "Model files")

/* dinolab_model_load_weights:
 * Reads every tensor of the table from the safetensors file @path (prefixes such as
 * "module.backbone." are accepted) and checks each shape. Errors name the file and
 * the tensor; the model is unchanged on error. */
gboolean      dinolab_model_load_weights (DinolabModel         *model,
                                          const char           *path,
                                          GError              **error);

/* Same, from a file already read (read it once when the sizes come from it too). */
gboolean      dinolab_model_load_safetensors (DinolabModel             *model,
                                              const DinolabSafetensors *st,
                                              GError                  **error);

/* dinolab_model_save:
 * Writes the parameters (or, with @block non-NULL, that block laid out like the
 * parameters, e.g. gradients) to @path, with the hyperparameter JSON in the metadata.
 * @skip_frozen leaves out DINOLAB_PARAM_FROZEN tensors (for gradient files). */
gboolean      dinolab_model_save         (const DinolabModel   *model,
                                          const float          *block,
                                          gboolean              skip_frozen,
                                          const char           *path,
                                          GError              **error);

/* dinolab_model_hparams_from_file:
 * Fills @hp (initialised by the caller) with the sizes of the network stored in
 * @path: from its "hyperparameters" metadata when present, else from the tensor
 * shapes (DESIGN.md: width from cls_token, patch and channels from the patch kernel,
 * grid from pos_embed, depth from the blocks, MLP ratio from fc1, head sizes from
 * head.*; num_heads = width / 64). Sets *@has_head. The caller may then override keys
 * (--config, --set) and build the model with dinolab_model_new(). */
gboolean      dinolab_model_hparams_from_file (const char     *path,
                                               DinolabHparams *hp,
                                               gboolean       *has_head,
                                               GError        **error);
/* Same, from a file already read. */
gboolean      dinolab_model_hparams_from_safetensors (const DinolabSafetensors *st,
                                                      DinolabHparams           *hp,
                                                      gboolean                 *has_head,
                                                      GError                  **error);

// ----------------------------------------------------------------------------
// backbone

/* dinolab_backbone_work_new:
 * Activation buffers for @batch images of @height x @width (multiples of the patch
 * size, checked by the caller with dinolab_model_check_input()). With @training
 * every block keeps its activations for the backward pass; without, the blocks share
 * one set of buffers (inference). Free with dinolab_backbone_work_free(). */
DinolabBackboneWork *dinolab_backbone_work_new  (const DinolabModel  *model,
                                                 int                  batch,
                                                 int                  height,
                                                 int                  width,
                                                 gboolean             training);
void                 dinolab_backbone_work_free (DinolabBackboneWork *work);

/* The most attention entries (heads x tokens x tokens, float) one image may need in a
 * block: 2^28, 1 GiB. A 480x480 input to a patch-7 model with 4 heads needs 86M. */
#define DINOLAB_MODEL_MAX_ATTENTION_FLOATS (G_GINT64_CONSTANT (1) << 28)

/* Returns TRUE if images of @channels x @height x @width fit the model, else an
 * INVALID_INPUT error naming the size, e.g. "crop size 18 is not a multiple of
 * patch_size 4", or one whose attention would need more than
 * DINOLAB_MODEL_MAX_ATTENTION_FLOATS. */
gboolean      dinolab_model_check_input  (const DinolabModel   *model,
                                          int                   channels,
                                          int                   height,
                                          int                   width,
                                          GError              **error);

/* dinolab_backbone_forward:
 * images [B, C, H, W] -> CLS token after the final LayerNorm, [B, D], kept in @work.
 * @drop_path: NULL for no drop path (the teacher, evaluation); only a training work
 * applies it. */
void          dinolab_backbone_forward   (DinolabModel          *model,
                                          DinolabBackboneWork   *work,
                                          const float           *images,
                                          const DinolabDropPath *drop_path);

/* dinolab_backbone_backward:
 * @dcls [B, D]: gradient of the loss w.r.t. the forward's CLS output. Accumulates
 * into @grads (a block laid out like the parameters), or into the model's gradient
 * block when @grads is NULL (enable it first). Needs a training work. */
void          dinolab_backbone_backward  (DinolabModel         *model,
                                          DinolabBackboneWork  *work,
                                          const float          *dcls,
                                          float                *grads);

/* CLS output of the last forward, [B, D], owned by @work. */
const float  *dinolab_backbone_work_get_cls (const DinolabBackboneWork *work);
int           dinolab_backbone_work_get_batch (const DinolabBackboneWork *work);
/* Number of patches P = (H/p)(W/p) of the work's images. */
int           dinolab_backbone_work_get_n_patches (const DinolabBackboneWork *work);
/* Copies the last block's CLS-to-patch attention of the last forward into
 * @out [B, heads, P]: the softmax row of the CLS query over all 1+P keys, entries
 * 1..P, not renormalised (DINO.md 7). */
void          dinolab_backbone_work_get_attention (const DinolabBackboneWork *work,
                                                   float                     *out);

// ----------------------------------------------------------------------------
// head

/* Buffers for @rows head rows (crop-major concatenation of CLS features).
 * Without @training no backward buffers are kept. */
DinolabHeadWork *dinolab_head_work_new   (const DinolabModel  *model,
                                          int                  rows,
                                          gboolean             training);
void             dinolab_head_work_free  (DinolabHeadWork     *work);

/* inp [rows, D] -> logits [rows, out_dim] (cosines: the last layer is weight-normalised
 * and its input L2-normalised; no temperature), kept in @work. @rows may be less than
 * the work's capacity. */
void          dinolab_head_forward       (DinolabModel         *model,
                                          DinolabHeadWork      *work,
                                          const float          *inp,
                                          int                   rows);
const float  *dinolab_head_work_get_logits (const DinolabHeadWork *work);
/* dlogits [rows, out_dim] -> accumulates parameter gradients into @grads (NULL: the
 * model's block); the gradient w.r.t. the head input is then in
 * dinolab_head_work_get_dinput() [rows, D]. */
void          dinolab_head_backward      (DinolabModel         *model,
                                          DinolabHeadWork      *work,
                                          const float          *dlogits,
                                          float                *grads);
const float  *dinolab_head_work_get_dinput (const DinolabHeadWork *work);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabModel, dinolab_model_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabBackboneWork, dinolab_backbone_work_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabHeadWork, dinolab_head_work_free)

G_END_DECLS
