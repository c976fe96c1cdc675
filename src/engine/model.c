/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * model.c: the DINO network (ViT backbone + projection head), forward and backward.
 *
 * Read it top to bottom: the tensor table, then initialisation and files, then the
 * backbone (forward, then backward in exact reverse order), then the head. Each layer
 * is a call to a kernel in kernels.c over flat float arrays; every matrix product goes
 * through matmul.c. Per-block tensors are reached through offsets into the one
 * parameter block, and the same offsets index the gradient block (llm.c's layout).
 *
 * What this file is not: the loss, the optimizer and the training step live in
 * loss.c, optim.c and step.c; data never enters here except as normalised floats.
 */
#include <math.h>
#include <string.h>

#include "dinolab/error.h"
#include "dinolab/io.h"
#include "dinolab/model.h"
#include "kernels.h"

typedef struct {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b;
    size_t ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} BlockOffsets;

typedef struct {
    size_t w, b;     /* offsets of weight [out, in] and bias [out] */
    int    in, out;
} LinearOffsets;

struct DinolabModel {
    DinolabHparams    hp;
    gboolean          has_head;
    DinolabParamTable table;
    float            *params;
    float            *grads;   /* NULL until dinolab_model_enable_grads() */

    /* backbone sizes: channels, patch, pos_embed grid side, width, heads, head dim,
     * depth, MLP hidden width */
    int C, p, g, D, NH, hd, L, H4;
    size_t cls, pos, patch_w, patch_b, norm_w, norm_b;
    BlockOffsets *blocks;       /* L entries */

    /* head sizes: out_dim, bottleneck, number of Linear layers in the MLP */
    int K, bn, nlin;
    LinearOffsets *head;        /* nlin entries */
    size_t last_g, last_v;
};

// ----------------------------------------------------------------------------
// the tensor table

static size_t
table_add_ (GArray *arr, size_t *offset, guint flags, const char *name, int ndim, ...)
{
    DinolabParamInfo info = { 0 };
    va_list ap;

    g_strlcpy (info.name, name, sizeof info.name);
    info.ndim = ndim;
    info.numel = 1;
    va_start (ap, ndim);
    for (int d = 0; d < ndim; d++) {
        info.shape[d] = va_arg (ap, int);
        info.numel *= (size_t) info.shape[d];
    }
    va_end (ap);
    /* DINO.md 5.1: decay every tensor with ndim > 1 that is not a bias. */
    if (ndim > 1 && !g_str_has_suffix (name, ".bias") && !(flags & DINOLAB_PARAM_FROZEN))
        flags |= DINOLAB_PARAM_DECAY;
    if (strstr (name, "last_layer") != NULL)
        flags |= DINOLAB_PARAM_LAST_LAYER;
    info.flags = flags;
    info.offset = *offset;
    *offset += info.numel;
    g_array_append_val (arr, info);
    return info.offset;
}

static void
model_build_table_ (DinolabModel *m)
{
    GArray *arr = g_array_new (FALSE, TRUE, sizeof (DinolabParamInfo));
    size_t off = 0;
    char name[DINOLAB_PARAM_NAME_LEN];
    int D = m->D;

    m->cls = table_add_ (arr, &off, 0, "cls_token", 3, 1, 1, D);
    m->pos = table_add_ (arr, &off, 0, "pos_embed", 3, 1, 1 + m->g * m->g, D);
    m->patch_w = table_add_ (arr, &off, 0, "patch_embed.proj.weight", 4, D, m->C, m->p, m->p);
    m->patch_b = table_add_ (arr, &off, 0, "patch_embed.proj.bias", 1, D);
    for (int l = 0; l < m->L; l++) {
        BlockOffsets *b = &m->blocks[l];
#define ADD_(field, suffix, ...) \
        (g_snprintf (name, sizeof name, "blocks.%d.%s", l, suffix), \
         b->field = table_add_ (arr, &off, 0, name, __VA_ARGS__))
        ADD_ (ln1_w, "norm1.weight", 1, D);
        ADD_ (ln1_b, "norm1.bias", 1, D);
        ADD_ (qkv_w, "attn.qkv.weight", 2, 3 * D, D);
        ADD_ (qkv_b, "attn.qkv.bias", 1, 3 * D);
        ADD_ (proj_w, "attn.proj.weight", 2, D, D);
        ADD_ (proj_b, "attn.proj.bias", 1, D);
        ADD_ (ln2_w, "norm2.weight", 1, D);
        ADD_ (ln2_b, "norm2.bias", 1, D);
        ADD_ (fc1_w, "mlp.fc1.weight", 2, m->H4, D);
        ADD_ (fc1_b, "mlp.fc1.bias", 1, m->H4);
        ADD_ (fc2_w, "mlp.fc2.weight", 2, D, m->H4);
        ADD_ (fc2_b, "mlp.fc2.bias", 1, D);
#undef ADD_
    }
    m->norm_w = table_add_ (arr, &off, 0, "norm.weight", 1, D);
    m->norm_b = table_add_ (arr, &off, 0, "norm.bias", 1, D);

    if (m->has_head) {
        for (int i = 0; i < m->nlin; i++) {
            LinearOffsets *h = &m->head[i];
            /* PyTorch names: a one-layer head is a bare Linear ("head.mlp.weight"); deeper
             * heads are a Sequential of Linear, GELU, ... ("head.mlp.0", "head.mlp.2"). */
            char prefix[32];
            if (m->nlin == 1)
                g_strlcpy (prefix, "head.mlp", sizeof prefix);
            else
                g_snprintf (prefix, sizeof prefix, "head.mlp.%d", 2 * i);
            h->in = i == 0 ? D : m->hp.head_hidden_dim;
            h->out = i == m->nlin - 1 ? m->bn : m->hp.head_hidden_dim;
            g_snprintf (name, sizeof name, "%s.weight", prefix);
            h->w = table_add_ (arr, &off, DINOLAB_PARAM_HEAD, name, 2, h->out, h->in);
            g_snprintf (name, sizeof name, "%s.bias", prefix);
            h->b = table_add_ (arr, &off, DINOLAB_PARAM_HEAD, name, 1, h->out);
        }
        m->last_g = table_add_ (arr, &off,
                                DINOLAB_PARAM_HEAD | (m->hp.norm_last_layer ? DINOLAB_PARAM_FROZEN : 0),
                                "head.last_layer.weight_g", 2, m->K, 1);
        m->last_v = table_add_ (arr, &off, DINOLAB_PARAM_HEAD, "head.last_layer.weight_v", 2, m->K, m->bn);
    }

    m->table.n = arr->len;
    m->table.total = off;
    m->table.info = (DinolabParamInfo *) g_array_free (arr, FALSE);
}

// ----------------------------------------------------------------------------
// the model

DinolabModel *
dinolab_model_new (const DinolabHparams *hp,
                   gboolean              with_head,
                   GError              **error)
{
    DinolabModel *m;

    g_return_val_if_fail (hp != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    if (!dinolab_hparams_validate (hp, error))
        return NULL;

    m = g_new0 (DinolabModel, 1);
    dinolab_hparams_init (&m->hp);
    dinolab_hparams_copy (&m->hp, hp);
    m->has_head = with_head;
    m->C = hp->in_chans;
    m->p = hp->patch_size;
    m->g = hp->img_size / hp->patch_size;
    m->D = hp->embed_dim;
    m->NH = hp->num_heads;
    m->hd = hp->embed_dim / hp->num_heads;
    m->L = hp->depth;
    m->H4 = (int) (hp->embed_dim * hp->mlp_ratio);
    m->K = hp->out_dim;
    m->bn = hp->bottleneck_dim;
    m->nlin = hp->head_nlayers;
    m->blocks = g_new0 (BlockOffsets, m->L);
    m->head = g_new0 (LinearOffsets, MAX (m->nlin, 1));
    model_build_table_ (m);
    m->params = g_new0 (float, m->table.total);
    return m;
}

void
dinolab_model_free (DinolabModel *model)
{
    if (model == NULL)
        return;
    dinolab_hparams_clear (&model->hp);
    g_free (model->table.info);
    g_free (model->blocks);
    g_free (model->head);
    g_free (model->params);
    g_free (model->grads);
    g_free (model);
}

double
dinolab_model_count_flops (const DinolabModel *model,
                           int                 height,
                           int                 width,
                           gboolean            with_head)
{
    const DinolabModel *m = model;
    double Np, T, D, flops;

    g_return_val_if_fail (model != NULL, 0.0);

    Np = (double) (height / m->p) * (width / m->p);
    T = 1.0 + Np;
    D = m->D;
    flops = 2.0 * Np * m->C * m->p * m->p * D;            /* patch embedding */
    flops += m->L * (2.0 * T * D * 3 * D                   /* qkv */
                     + 2.0 * 2.0 * T * T * D               /* q k^T and P v, all heads */
                     + 2.0 * T * D * D                     /* proj */
                     + 2.0 * 2.0 * T * D * m->H4);         /* fc1, fc2 */
    if (with_head && m->has_head) {
        for (int i = 0; i < m->nlin; i++)
            flops += 2.0 * m->head[i].in * m->head[i].out;
        flops += 2.0 * m->bn * m->K;
    }
    return flops;
}

void
dinolab_model_enable_grads (DinolabModel *model)
{
    g_return_if_fail (model != NULL);
    if (model->grads == NULL)
        model->grads = g_new0 (float, model->table.total);
}

void
dinolab_model_zero_grads (DinolabModel *model)
{
    g_return_if_fail (model != NULL && model->grads != NULL);
    memset (model->grads, 0, model->table.total * sizeof (float));
}

const DinolabHparams *
dinolab_model_get_hparams (const DinolabModel *model)
{
    g_return_val_if_fail (model != NULL, NULL);
    return &model->hp;
}

const DinolabParamTable *
dinolab_model_get_table (const DinolabModel *model)
{
    g_return_val_if_fail (model != NULL, NULL);
    return &model->table;
}

gboolean
dinolab_model_has_head (const DinolabModel *model)
{
    g_return_val_if_fail (model != NULL, FALSE);
    return model->has_head;
}

float *
dinolab_model_get_params (DinolabModel *model)
{
    g_return_val_if_fail (model != NULL, NULL);
    return model->params;
}

float *
dinolab_model_get_grads (DinolabModel *model)
{
    g_return_val_if_fail (model != NULL, NULL);
    return model->grads;
}

void
dinolab_model_copy_params (DinolabModel *dst, const DinolabModel *src)
{
    g_return_if_fail (dst != NULL && src != NULL);
    g_return_if_fail (dst->table.total == src->table.total);
    memcpy (dst->params, src->params, src->table.total * sizeof (float));
}

/* trunc_normal_(std, a=-2, b=2): the bounds are absolute (DINO.md 1.7), so with a
 * small std this is a plain normal; keep the rejection anyway for large stds. */
static float
trunc_normal_ (DinolabRng *rng, double std)
{
    for (;;) {
        double x = dinolab_rng_normal (rng) * std;
        if (x >= -2.0 && x <= 2.0)
            return (float) x;
    }
}

void
dinolab_model_init_random (DinolabModel *model, guint64 seed)
{
    DinolabRng rng;

    g_return_if_fail (model != NULL);
    dinolab_rng_seed (&rng, seed, 0x1417);

    for (guint i = 0; i < model->table.n; i++) {
        const DinolabParamInfo *e = &model->table.info[i];
        float *x = model->params + e->offset;
        double bound = 0.0;
        const char *name = e->name;

        if (g_str_has_prefix (name, "patch_embed.")) {
            /* not matched by the reference's init hook: PyTorch's Conv2d default */
            bound = 1.0 / sqrt ((double) model->C * model->p * model->p);
        } else if (strcmp (name, "head.last_layer.weight_v") == 0) {
            bound = 1.0 / sqrt ((double) model->bn);
        }

        for (size_t j = 0; j < e->numel; j++) {
            if (bound > 0.0)
                x[j] = (float) ((2.0 * dinolab_rng_uniform (&rng) - 1.0) * bound);
            else if (strcmp (name, "head.last_layer.weight_g") == 0)
                x[j] = 1.0f;
            else if (e->ndim == 1 && g_str_has_suffix (name, ".weight"))
                x[j] = 1.0f;                              /* LayerNorm scale */
            else if (e->ndim == 1)
                x[j] = 0.0f;                              /* biases */
            else
                x[j] = trunc_normal_ (&rng, 0.02);        /* Linear, cls_token, pos_embed */
        }
    }
}

// ----------------------------------------------------------------------------
// files

gboolean
dinolab_model_load_safetensors (DinolabModel             *model,
                                const DinolabSafetensors *st,
                                GError                  **error)
{
    g_return_val_if_fail (model != NULL && st != NULL, FALSE);

    /* check every tensor before copying any, so the model is unchanged on error */
    for (guint i = 0; i < model->table.n; i++) {
        const DinolabParamInfo *e = &model->table.info[i];
        if (!dinolab_safetensors_get_f32 (st, e->name, e->ndim, e->shape, error))
            return FALSE;
    }
    for (guint i = 0; i < model->table.n; i++) {
        const DinolabParamInfo *e = &model->table.info[i];
        memcpy (model->params + e->offset, dinolab_safetensors_get (st, e->name)->data,
                e->numel * sizeof (float));
    }
    return TRUE;
}

gboolean
dinolab_model_load_weights (DinolabModel *model,
                            const char   *path,
                            GError      **error)
{
    g_autoptr (DinolabSafetensors) st = NULL;

    g_return_val_if_fail (model != NULL, FALSE);
    g_return_val_if_fail (path != NULL, FALSE);

    st = dinolab_safetensors_read (path, NULL, error);
    return st != NULL && dinolab_model_load_safetensors (model, st, error);
}

gboolean
dinolab_model_save (const DinolabModel *model,
                    const float        *block,
                    gboolean            skip_frozen,
                    const char         *path,
                    GError            **error)
{
    g_autofree DinolabTensorView *views = NULL;
    g_autofree char *json = NULL;
    const char *metadata[3];
    guint n = 0;

    g_return_val_if_fail (model != NULL, FALSE);
    g_return_val_if_fail (path != NULL, FALSE);

    if (block == NULL)
        block = model->params;
    views = g_new0 (DinolabTensorView, model->table.n);
    for (guint i = 0; i < model->table.n; i++) {
        const DinolabParamInfo *e = &model->table.info[i];
        if (skip_frozen && (e->flags & DINOLAB_PARAM_FROZEN))
            continue;
        views[n].name = e->name;
        views[n].ndim = e->ndim;
        for (int d = 0; d < e->ndim; d++)
            views[n].shape[d] = e->shape[d];
        views[n].data = block + e->offset;
        n++;
    }
    json = dinolab_hparams_to_json (&model->hp, FALSE);
    metadata[0] = "hyperparameters";
    metadata[1] = json;
    metadata[2] = NULL;
    return dinolab_safetensors_write (path, views, n, metadata, error);
}

static const DinolabArray *
require_tensor_ (const DinolabSafetensors *st, const char *name, int ndim, GError **error)
{
    const DinolabArray *a = dinolab_safetensors_get (st, name);

    if (a == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: tensor %s is missing", dinolab_safetensors_get_path (st), name);
        return NULL;
    }
    if (a->ndim != ndim) {
        g_autofree char *shape = dinolab_shape_to_string (a->ndim, a->shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s: expected %d dimensions, found %s",
                     dinolab_safetensors_get_path (st), name, ndim, shape);
        return NULL;
    }
    return a;
}

gboolean
dinolab_model_hparams_from_file (const char     *path,
                                 DinolabHparams *hp,
                                 gboolean       *has_head,
                                 GError        **error)
{
    g_autoptr (DinolabSafetensors) st = NULL;

    g_return_val_if_fail (path != NULL && hp != NULL, FALSE);

    st = dinolab_safetensors_read (path, NULL, error);
    return st != NULL && dinolab_model_hparams_from_safetensors (st, hp, has_head, error);
}

gboolean
dinolab_model_hparams_from_safetensors (const DinolabSafetensors *st,
                                        DinolabHparams           *hp,
                                        gboolean                 *has_head,
                                        GError                  **error)
{
    const DinolabArray *cls, *patch, *pos, *fc1, *v;
    const char *json, *path;
    int depth = 0;

    g_return_val_if_fail (st != NULL && hp != NULL, FALSE);

    path = dinolab_safetensors_get_path (st);
    if (has_head)
        *has_head = dinolab_safetensors_get (st, "head.last_layer.weight_v") != NULL;

    json = dinolab_safetensors_get_metadata (st, "hyperparameters");
    if (json != NULL)
        return dinolab_hparams_load_json (hp, json, -1, path, error);

    /* No metadata (a converted reference or timm file): read the sizes off the shapes. */
    if (!(cls = require_tensor_ (st, "cls_token", 3, error)) ||
        !(patch = require_tensor_ (st, "patch_embed.proj.weight", 4, error)) ||
        !(pos = require_tensor_ (st, "pos_embed", 3, error)) ||
        !(fc1 = require_tensor_ (st, "blocks.0.mlp.fc1.weight", 2, error)))
        return FALSE;

    for (;;) {
        char name[64];
        g_snprintf (name, sizeof name, "blocks.%d.norm1.weight", depth);
        if (dinolab_safetensors_get (st, name) == NULL)
            break;
        depth++;
    }

    {
        int D = (int) cls->shape[2];
        int p = (int) patch->shape[2];
        int n0 = (int) pos->shape[1] - 1;
        int g = (int) lround (sqrt ((double) n0));

        if (g * g != n0 || n0 <= 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: pos_embed holds %d patch positions, not a square grid", path, n0);
            return FALSE;
        }
        g_strlcpy (hp->arch, "vit_custom", sizeof hp->arch);
        hp->embed_dim = D;
        hp->depth = depth;
        hp->num_heads = MAX (D / 64, 1);
        hp->patch_size = p;
        hp->in_chans = (int) patch->shape[1];
        hp->img_size = g * p;
        hp->global_crop_size = g * p;
        hp->local_crop_size = g * p;
        hp->mlp_ratio = (double) fc1->shape[0] / D;
        hp->drop_path_rate = 0.0;
    }

    if ((v = dinolab_safetensors_get (st, "head.last_layer.weight_v")) != NULL && v->ndim == 2) {
        int nlin = 0;
        const DinolabArray *first = dinolab_safetensors_get (st, "head.mlp.weight");
        hp->out_dim = (int) v->shape[0];
        hp->bottleneck_dim = (int) v->shape[1];
        if (first != NULL) {
            nlin = 1;
        } else {
            for (;;) {
                char name[64];
                g_snprintf (name, sizeof name, "head.mlp.%d.weight", 2 * nlin);
                if (dinolab_safetensors_get (st, name) == NULL)
                    break;
                nlin++;
            }
            first = dinolab_safetensors_get (st, "head.mlp.0.weight");
        }
        hp->head_nlayers = MAX (nlin, 1);
        if (nlin > 1 && first != NULL && first->ndim == 2)
            hp->head_hidden_dim = (int) first->shape[0];
    }
    return TRUE;
}

// ----------------------------------------------------------------------------
// backbone: activations

/* What a block keeps for its backward pass. The LayerNorm outputs, the two branch
 * outputs and the GELU output are not kept: the backward recomputes the normalised
 * rows from mean/rstd and the GELU from fc1, which costs two element-wise passes and
 * saves 43 % of the activation memory. */
typedef struct {
    float *ln1_mean, *ln1_rstd;          /* [BT], [BT] */
    float *qkv;                          /* [BT,3D] */
    float *att;                          /* [B,NH,T,T] softmax probabilities */
    float *atty;                         /* [BT,D] attention output before proj */
    float *res1;                         /* [BT,D] x + drop_path(attn) */
    float *ln2_mean, *ln2_rstd;
    float *fc1;                          /* [BT,H4] before the GELU */
    float *res2;                         /* [BT,D] block output */
} BlockActs;

struct DinolabBackboneWork {
    int B, H, W, h0, w0, Np, T;
    int L, D, NH;
    gboolean training;
    GPtrArray *allocs;

    float *cols;      /* [B*Np, C*p*p] */
    float *tok;       /* [B*Np, D] patch embeddings */
    float *pos;       /* [Np, D] positional embedding for this grid */
    float *x0;        /* [B,T,D] input of block 0 */
    BlockActs *acts;  /* L entries; all alike when not training */
    float *lnbuf;     /* [BT,D] LayerNorm output (forward), recomputed (backward) */
    float *branch;    /* [BT,D] a residual branch's output */
    float *h4;        /* [BT,H4] GELU output (forward, recomputed in backward), then its gradient */
    float *clsin;     /* [B,D] CLS row of the last block */
    float *cls;       /* [B,D] after the final norm: the output */
    float *lnf_mean, *lnf_rstd;
    float *dp_scale;  /* [L][2][B] drop-path scales of the last forward */
    gboolean dp_active;

    /* backward scratch, shared by all blocks */
    float *dx, *dbranch, *dln, *datty, *dqkv, *dh4, *datt, *dtok, *dpos, *dclsin;
};

static float *
work_alloc_ (GPtrArray *allocs, size_t n)
{
    float *x = g_new0 (float, MAX (n, 1));
    g_ptr_array_add (allocs, x);
    return x;
}

DinolabBackboneWork *
dinolab_backbone_work_new (const DinolabModel *model,
                           int                 batch,
                           int                 height,
                           int                 width,
                           gboolean            training)
{
    DinolabBackboneWork *w;
    size_t BT, D, H4;

    g_return_val_if_fail (model != NULL, NULL);
    g_return_val_if_fail (batch > 0, NULL);
    g_return_val_if_fail (height >= model->p && height % model->p == 0, NULL);
    g_return_val_if_fail (width >= model->p && width % model->p == 0, NULL);

    w = g_new0 (DinolabBackboneWork, 1);
    w->allocs = g_ptr_array_new_with_free_func (g_free);
    w->B = batch;
    w->H = height;
    w->W = width;
    w->h0 = height / model->p;
    w->w0 = width / model->p;
    w->Np = w->h0 * w->w0;
    w->T = 1 + w->Np;
    w->L = model->L;
    w->D = model->D;
    w->NH = model->NH;
    w->training = training;
    BT = (size_t) batch * w->T;
    D = model->D;
    H4 = model->H4;

    w->cols = work_alloc_ (w->allocs, (size_t) batch * w->Np * model->C * model->p * model->p);
    w->tok = work_alloc_ (w->allocs, (size_t) batch * w->Np * D);
    w->pos = work_alloc_ (w->allocs, (size_t) w->Np * D);
    w->x0 = work_alloc_ (w->allocs, BT * D);
    w->acts = g_new0 (BlockActs, model->L);
    g_ptr_array_add (w->allocs, w->acts);
    for (int l = 0; l < model->L; l++) {
        BlockActs *a = &w->acts[l];
        if (!training && l > 0) {
            /* Inference keeps one set of buffers: block l reads block l-1's res2 only
             * before it writes its own res2. */
            *a = w->acts[0];
            continue;
        }
        a->ln1_mean = work_alloc_ (w->allocs, BT);
        a->ln1_rstd = work_alloc_ (w->allocs, BT);
        a->qkv = work_alloc_ (w->allocs, BT * 3 * D);
        a->att = work_alloc_ (w->allocs, (size_t) batch * model->NH * w->T * w->T);
        a->atty = work_alloc_ (w->allocs, BT * D);
        a->res1 = work_alloc_ (w->allocs, BT * D);
        a->ln2_mean = work_alloc_ (w->allocs, BT);
        a->ln2_rstd = work_alloc_ (w->allocs, BT);
        a->fc1 = work_alloc_ (w->allocs, BT * H4);
        a->res2 = work_alloc_ (w->allocs, BT * D);
    }
    w->lnbuf = work_alloc_ (w->allocs, BT * D);
    w->branch = work_alloc_ (w->allocs, BT * D);
    w->h4 = work_alloc_ (w->allocs, BT * H4);
    w->clsin = work_alloc_ (w->allocs, (size_t) batch * D);
    w->cls = work_alloc_ (w->allocs, (size_t) batch * D);
    w->lnf_mean = work_alloc_ (w->allocs, batch);
    w->lnf_rstd = work_alloc_ (w->allocs, batch);
    w->dp_scale = work_alloc_ (w->allocs, (size_t) model->L * 2 * batch);

    if (training) {
        w->dx = work_alloc_ (w->allocs, BT * D);
        w->dbranch = work_alloc_ (w->allocs, BT * D);
        w->dln = work_alloc_ (w->allocs, BT * D);
        w->datty = work_alloc_ (w->allocs, BT * D);
        w->dqkv = work_alloc_ (w->allocs, BT * 3 * D);
        w->dh4 = work_alloc_ (w->allocs, BT * H4);
        w->datt = work_alloc_ (w->allocs, (size_t) w->T * w->T);
        w->dtok = work_alloc_ (w->allocs, (size_t) batch * w->Np * D);
        w->dpos = work_alloc_ (w->allocs, (size_t) w->Np * D);
        w->dclsin = work_alloc_ (w->allocs, (size_t) batch * D);
    }
    return w;
}

void
dinolab_backbone_work_free (DinolabBackboneWork *work)
{
    if (work == NULL)
        return;
    g_ptr_array_unref (work->allocs);
    g_free (work);
}

const float *
dinolab_backbone_work_get_cls (const DinolabBackboneWork *work)
{
    g_return_val_if_fail (work != NULL, NULL);
    return work->cls;
}

int
dinolab_backbone_work_get_batch (const DinolabBackboneWork *work)
{
    g_return_val_if_fail (work != NULL, 0);
    return work->B;
}

int
dinolab_backbone_work_get_n_patches (const DinolabBackboneWork *work)
{
    g_return_val_if_fail (work != NULL, 0);
    return work->Np;
}

void
dinolab_backbone_work_get_attention (const DinolabBackboneWork *work, float *out)
{
    const float *att;
    size_t T, Np;

    g_return_if_fail (work != NULL && out != NULL);
    att = work->acts[work->L - 1].att;
    T = work->T;
    Np = work->Np;
    /* att is [B, NH, T, T]; the CLS query is row 0 of each head, its keys 1..P the patches. */
    for (size_t bh = 0; bh < (size_t) work->B * work->NH; bh++)
        memcpy (out + bh * Np, att + bh * T * T + 1, Np * sizeof (float));
}

gboolean
dinolab_model_check_input (const DinolabModel *model,
                           int                 channels,
                           int                 height,
                           int                 width,
                           GError            **error)
{
    g_return_val_if_fail (model != NULL, FALSE);

    if (channels != model->C) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "images have %d channels but the model takes in_chans %d", channels, model->C);
        return FALSE;
    }
    if (height < model->p || height % model->p != 0 || width < model->p || width % model->p != 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "crop size %dx%d is not a multiple of patch_size %d", height, width, model->p);
        return FALSE;
    }
    {
        gint64 T = 1 + (gint64) (height / model->p) * (width / model->p);
        gint64 floats = (gint64) model->NH * T * T;

        if (floats > DINOLAB_MODEL_MAX_ATTENTION_FLOATS) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "input size %dx%d is too large: %" G_GINT64_FORMAT " tokens, whose attention "
                         "would take %.2f GiB for one image (at most %.2f GiB)", height, width, T,
                         (double) floats * sizeof (float) / (1 << 30),
                         (double) DINOLAB_MODEL_MAX_ATTENTION_FLOATS * sizeof (float) / (1 << 30));
            return FALSE;
        }
    }
    return TRUE;
}

// ----------------------------------------------------------------------------
// backbone: forward

/* Drop path (DINO.md 1.5): rates rise linearly 0 .. drop_path_rate over the blocks
 * (torch.linspace); one Bernoulli(keep) draw per sample and residual branch, kept
 * branches divided by keep (the reference's floor(keep + U) / keep). Fills
 * w->dp_scale [L][2][B]; returns FALSE when nothing is ever dropped. Each sample has
 * its own stream, so a batch split across threads draws the same masks. */
static gboolean
drop_path_draw_ (const DinolabModel *m, DinolabBackboneWork *w, const DinolabDropPath *dp)
{
    if (dp == NULL || !w->training || m->hp.drop_path_rate <= 0.0 || m->L < 2)
        return FALSE;
    for (int b = 0; b < w->B; b++) {
        DinolabRng rng;
        int crop = dp->group_size > 0
            ? dp->first_sample + (b / dp->group_size) * dp->group_stride + b % dp->group_size
            : dp->first_sample + b;
        dinolab_rng_seed (&rng, dp->seed ^ (dp->stream * 0x9e3779b97f4a7c15ULL), (guint64) crop);
        for (int l = 0; l < m->L; l++) {
            double keep = 1.0 - m->hp.drop_path_rate * l / (m->L - 1);
            for (int branch = 0; branch < 2; branch++) {
                double u = dinolab_rng_uniform (&rng);
                w->dp_scale[((size_t) l * 2 + branch) * w->B + b] = (float) (floor (keep + u) / keep);
            }
        }
    }
    return TRUE;
}

/* The [B] scales of branch @branch of block @l in the last forward, or NULL. Block 0
 * has rate 0 and is never dropped. */
static const float *
drop_path_scales_ (const DinolabModel *m, const DinolabBackboneWork *w, int l, int branch)
{
    if (!w->dp_active || l == 0)
        return NULL;
    return w->dp_scale + ((size_t) l * 2 + branch) * w->B;
}

void
dinolab_backbone_forward (DinolabModel          *model,
                          DinolabBackboneWork   *work,
                          const float           *images,
                          const DinolabDropPath *drop_path)
{
    DinolabModel *m = model;
    DinolabBackboneWork *w = work;
    const float *P = m->params;
    int B = w->B, T = w->T, Np = w->Np, D = m->D, H4 = m->H4;
    int BT = B * T;
    const float *x_in = w->x0;

    g_return_if_fail (model != NULL && work != NULL && images != NULL);
    g_return_if_fail (w->D == m->D && w->L == m->L);

    w->dp_active = drop_path_draw_ (m, w, drop_path);

    /* patch embedding: a conv with kernel = stride = p is a Linear on each patch */
    im2col_patches (w->cols, images, B, m->C, w->H, w->W, m->p);
    matmul_forward (w->tok, w->cols, P + m->patch_w, P + m->patch_b, B * Np, m->C * m->p * m->p, D);

    /* positional embedding, interpolated when the grid differs from img_size/p */
    if (w->h0 == m->g && w->w0 == m->g)
        memcpy (w->pos, P + m->pos + D, (size_t) Np * D * sizeof (float));
    else
        pos_interp_forward (w->pos, P + m->pos + D, m->g, w->h0, w->w0, D);

    for (int b = 0; b < B; b++) {
        float *x = w->x0 + (size_t) b * T * D;
        for (int c = 0; c < D; c++)
            x[c] = P[m->cls + c] + P[m->pos + c];
        for (int i = 0; i < Np; i++) {
            const float *t = w->tok + ((size_t) b * Np + i) * D;
            const float *pe = w->pos + (size_t) i * D;
            float *xi = x + (size_t) (1 + i) * D;
            for (int c = 0; c < D; c++)
                xi[c] = t[c] + pe[c];
        }
    }

    for (int l = 0; l < m->L; l++) {
        const BlockOffsets *o = &m->blocks[l];
        BlockActs *a = &w->acts[l];
        const float *s1 = drop_path_scales_ (m, w, l, 0);
        const float *s2 = drop_path_scales_ (m, w, l, 1);

        layernorm_forward (w->lnbuf, a->ln1_mean, a->ln1_rstd, x_in, P + o->ln1_w, P + o->ln1_b, BT, D);
        matmul_forward (a->qkv, w->lnbuf, P + o->qkv_w, P + o->qkv_b, BT, D, 3 * D);
        attention_forward (a->atty, a->att, a->qkv, B, T, m->NH, m->hd);
        matmul_forward (w->branch, a->atty, P + o->proj_w, P + o->proj_b, BT, D, D);
        residual_forward (a->res1, x_in, w->branch, s1, B, (size_t) T * D);
        layernorm_forward (w->lnbuf, a->ln2_mean, a->ln2_rstd, a->res1, P + o->ln2_w, P + o->ln2_b, BT, D);
        matmul_forward (a->fc1, w->lnbuf, P + o->fc1_w, P + o->fc1_b, BT, D, H4);
        gelu_forward (w->h4, a->fc1, (size_t) BT * H4);
        matmul_forward (w->branch, w->h4, P + o->fc2_w, P + o->fc2_b, BT, H4, D);
        residual_forward (a->res2, a->res1, w->branch, s2, B, (size_t) T * D);
        x_in = a->res2;
    }

    /* the final norm acts on every token, but only the CLS row is ever used */
    for (int b = 0; b < B; b++)
        memcpy (w->clsin + (size_t) b * D, x_in + (size_t) b * T * D, (size_t) D * sizeof (float));
    layernorm_forward (w->cls, w->lnf_mean, w->lnf_rstd, w->clsin, P + m->norm_w, P + m->norm_b, B, D);
}

// ----------------------------------------------------------------------------
// backbone: backward, in exact reverse order of the forward

/* The LayerNorm output of the forward, from its saved statistics, row by row. */
static void
layernorm_recompute_ (float *out, const float *inp, const float *mean, const float *rstd,
                      const float *weight, const float *bias, int N, int C)
{
    for (int n = 0; n < N; n++)
        layernorm_apply (out + (size_t) n * C, inp + (size_t) n * C, mean[n], rstd[n], weight, bias, C);
}

/* The gradient w.r.t. a residual branch's output, given the stream's gradient w->dx:
 * scale[b] * dx, written into w->dbranch, or dx itself when the branch is never dropped
 * (scale NULL: block 0, no drop path), which saves the copy. The caller reads it before
 * the branch's LayerNorm adds into dx. */
static const float *
branch_grad_ (DinolabBackboneWork *w, const float *scale)
{
    if (scale == NULL)
        return w->dx;
    residual_backward (w->dbranch, w->dx, scale, w->B, (size_t) w->T * w->D);
    return w->dbranch;
}

void
dinolab_backbone_backward (DinolabModel        *model,
                           DinolabBackboneWork *work,
                           const float         *dcls,
                           float               *grads)
{
    DinolabModel *m = model;
    DinolabBackboneWork *w = work;
    const float *P = m->params;
    float *G = grads != NULL ? grads : m->grads;
    int B = w->B, T = w->T, Np = w->Np, D = m->D, H4 = m->H4;
    int BT = B * T;
    size_t nx = (size_t) BT * D;

    g_return_if_fail (model != NULL && work != NULL && dcls != NULL);
    g_return_if_fail (G != NULL);
    g_return_if_fail (work->training);

    /* final norm on the CLS rows; every other token gets no gradient from it, hence the
     * zeroed dx. layernorm_backward accumulates (its usual target is the residual
     * stream), so its [B,D] target starts from zero too. */
    memset (w->dx, 0, nx * sizeof (float));
    memset (w->dclsin, 0, (size_t) B * D * sizeof (float));
    layernorm_backward (w->dclsin, G + m->norm_w, G + m->norm_b, dcls, w->clsin,
                        P + m->norm_w, w->lnf_mean, w->lnf_rstd, B, D);
    for (int b = 0; b < B; b++)
        memcpy (w->dx + (size_t) b * T * D, w->dclsin + (size_t) b * D, (size_t) D * sizeof (float));

    /* w->dx holds the gradient w.r.t. the current block's output, then its input */
    for (int l = m->L - 1; l >= 0; l--) {
        const BlockOffsets *o = &m->blocks[l];
        const BlockActs *a = &w->acts[l];
        const float *x_in = l == 0 ? w->x0 : w->acts[l - 1].res2;
        const float *s1 = drop_path_scales_ (m, w, l, 0);
        const float *s2 = drop_path_scales_ (m, w, l, 1);
        const float *dbr;

        /* Buffers: w->dx is the residual stream's gradient and ACCUMULATES (each
         * branch's LayerNorm adds its share to the skip path's). Every other buffer
         * below has a single producer in this block and is WRITTEN by it (the kernels'
         * backward overwrites activation gradients, kernels.h), so none is zeroed. */

        /* res2 = res1 + s2 * fc2(gelu(fc1(ln2(res1)))) */
        dbr = branch_grad_ (w, s2);
        gelu_forward (w->h4, a->fc1, (size_t) BT * H4);
        matmul_backward (w->dh4, G + o->fc2_w, G + o->fc2_b, dbr, w->h4, P + o->fc2_w, BT, H4, D);
        gelu_backward (w->h4, a->fc1, w->dh4, (size_t) BT * H4);   /* h4: now d(fc1 output) */
        layernorm_recompute_ (w->lnbuf, a->res1, a->ln2_mean, a->ln2_rstd, P + o->ln2_w, P + o->ln2_b, BT, D);
        matmul_backward (w->dln, G + o->fc1_w, G + o->fc1_b, w->h4, w->lnbuf, P + o->fc1_w, BT, D, H4);
        layernorm_backward (w->dx, G + o->ln2_w, G + o->ln2_b, w->dln, a->res1, P + o->ln2_w,
                            a->ln2_mean, a->ln2_rstd, BT, D);

        /* res1 = x_in + s1 * proj(attention(qkv(ln1(x_in)))) */
        dbr = branch_grad_ (w, s1);
        matmul_backward (w->datty, G + o->proj_w, G + o->proj_b, dbr, a->atty, P + o->proj_w, BT, D, D);
        attention_backward (w->dqkv, w->datt, w->datty, a->qkv, a->att, B, T, m->NH, m->hd);
        layernorm_recompute_ (w->lnbuf, x_in, a->ln1_mean, a->ln1_rstd, P + o->ln1_w, P + o->ln1_b, BT, D);
        /* q, k and v all read ln1's output, but through one fused [3D, D] weight: their
         * three contributions sum inside this one product, so dln is still written once. */
        matmul_backward (w->dln, G + o->qkv_w, G + o->qkv_b, w->dqkv, w->lnbuf, P + o->qkv_w, BT, D, 3 * D);
        layernorm_backward (w->dx, G + o->ln1_w, G + o->ln1_b, w->dln, x_in, P + o->ln1_w,
                            a->ln1_mean, a->ln1_rstd, BT, D);
    }

    /* token 0 = cls_token + pos_embed[0]; token 1+i = patch_i + pos(i); dpos sums over
     * the samples, so it starts from zero */
    memset (w->dpos, 0, (size_t) Np * D * sizeof (float));
    for (int b = 0; b < B; b++) {
        const float *dxb = w->dx + (size_t) b * T * D;
        for (int c = 0; c < D; c++) {
            G[m->cls + c] += dxb[c];
            G[m->pos + c] += dxb[c];
        }
        for (size_t j = 0; j < (size_t) Np * D; j++)
            w->dpos[j] += dxb[D + j];
        memcpy (w->dtok + (size_t) b * Np * D, dxb + D, (size_t) Np * D * sizeof (float));
    }
    if (w->h0 == m->g && w->w0 == m->g) {
        for (size_t j = 0; j < (size_t) Np * D; j++)
            G[m->pos + D + j] += w->dpos[j];
    } else {
        pos_interp_backward (G + m->pos + D, w->dpos, m->g, w->h0, w->w0, D);
    }
    matmul_backward (NULL, G + m->patch_w, G + m->patch_b, w->dtok, w->cols, P + m->patch_w,
                     B * Np, m->C * m->p * m->p, D);
}

// ----------------------------------------------------------------------------
// head: MLP (Linear, GELU, ..., Linear to the bottleneck), L2 normalisation,
// weight-normalised Linear without bias to out_dim

struct DinolabHeadWork {
    int rows, D, K, bn, nlin;
    gboolean training;
    GPtrArray *allocs;
    float *inp;        /* [R,D] copy of the last input */
    float **lin;       /* nlin outputs [R, out_i] (the last is z [R,bn]) */
    float **act;       /* nlin-1 GELU outputs */
    float *zn, *znorm; /* [R,bn], [R] */
    float *weff, *vnorm; /* [K,bn], [K] */
    float *logits;     /* [R,K] */
    int last_rows;
    /* backward */
    float *dweff, *dzn, *dA, *dB, *dinp;
};

DinolabHeadWork *
dinolab_head_work_new (const DinolabModel *model,
                       int                 rows,
                       gboolean            training)
{
    DinolabHeadWork *w;
    int widest;

    g_return_val_if_fail (model != NULL && model->has_head, NULL);
    g_return_val_if_fail (rows > 0, NULL);

    w = g_new0 (DinolabHeadWork, 1);
    w->allocs = g_ptr_array_new_with_free_func (g_free);
    w->rows = rows;
    w->D = model->D;
    w->K = model->K;
    w->bn = model->bn;
    w->nlin = model->nlin;
    w->training = training;
    w->inp = work_alloc_ (w->allocs, (size_t) rows * model->D);
    w->lin = g_new0 (float *, model->nlin);
    w->act = g_new0 (float *, model->nlin);
    g_ptr_array_add (w->allocs, w->lin);
    g_ptr_array_add (w->allocs, w->act);
    widest = MAX (model->bn, model->D);
    for (int i = 0; i < model->nlin; i++) {
        w->lin[i] = work_alloc_ (w->allocs, (size_t) rows * model->head[i].out);
        if (i < model->nlin - 1)
            w->act[i] = work_alloc_ (w->allocs, (size_t) rows * model->head[i].out);
        widest = MAX (widest, model->head[i].out);
    }
    w->zn = work_alloc_ (w->allocs, (size_t) rows * model->bn);
    w->znorm = work_alloc_ (w->allocs, rows);
    w->weff = work_alloc_ (w->allocs, (size_t) model->K * model->bn);
    w->vnorm = work_alloc_ (w->allocs, model->K);
    w->logits = work_alloc_ (w->allocs, (size_t) rows * model->K);
    if (training) {
        w->dweff = work_alloc_ (w->allocs, (size_t) model->K * model->bn);
        w->dzn = work_alloc_ (w->allocs, (size_t) rows * model->bn);
        w->dA = work_alloc_ (w->allocs, (size_t) rows * widest);
        w->dB = work_alloc_ (w->allocs, (size_t) rows * widest);
        w->dinp = work_alloc_ (w->allocs, (size_t) rows * model->D);
    }
    return w;
}

void
dinolab_head_work_free (DinolabHeadWork *work)
{
    if (work == NULL)
        return;
    g_ptr_array_unref (work->allocs);
    g_free (work);
}

const float *
dinolab_head_work_get_logits (const DinolabHeadWork *work)
{
    g_return_val_if_fail (work != NULL, NULL);
    return work->logits;
}

const float *
dinolab_head_work_get_dinput (const DinolabHeadWork *work)
{
    g_return_val_if_fail (work != NULL, NULL);
    return work->dinp;
}

void
dinolab_head_forward (DinolabModel    *model,
                      DinolabHeadWork *work,
                      const float     *inp,
                      int              rows)
{
    DinolabModel *m = model;
    DinolabHeadWork *w = work;
    const float *P = m->params;
    const float *x;

    g_return_if_fail (model != NULL && work != NULL && inp != NULL);
    g_return_if_fail (rows > 0 && rows <= work->rows);
    g_return_if_fail (w->K == m->K && w->D == m->D);

    w->last_rows = rows;
    memcpy (w->inp, inp, (size_t) rows * m->D * sizeof (float));
    x = w->inp;
    for (int i = 0; i < m->nlin; i++) {
        const LinearOffsets *h = &m->head[i];
        matmul_forward (w->lin[i], x, P + h->w, P + h->b, rows, h->in, h->out);
        if (i < m->nlin - 1) {
            gelu_forward (w->act[i], w->lin[i], (size_t) rows * h->out);
            x = w->act[i];
        }
    }
    l2norm_forward (w->zn, w->znorm, w->lin[m->nlin - 1], rows, m->bn);
    weightnorm_forward (w->weff, w->vnorm, P + m->last_v, P + m->last_g, m->K, m->bn);
    matmul_forward (w->logits, w->zn, w->weff, NULL, rows, m->bn, m->K);
}

void
dinolab_head_backward (DinolabModel    *model,
                       DinolabHeadWork *work,
                       const float     *dlogits,
                       float           *grads)
{
    DinolabModel *m = model;
    DinolabHeadWork *w = work;
    const float *P = m->params;
    float *G = grads != NULL ? grads : m->grads;
    int R = w->last_rows;
    float *dcur = w->dA, *dother = w->dB;

    g_return_if_fail (model != NULL && work != NULL && dlogits != NULL);
    g_return_if_fail (G != NULL && work->training && R > 0);

    /* Every buffer here is scratch with a single producer, so each is WRITTEN (no
     * zeroing); only the parameter gradients in G accumulate. dweff[K,bn] =
     * dlogits^T @ zn is the effective weight's gradient, read once by the weight-norm
     * backward: a plain product with beta 0, not matmul_backward's accumulating dweight. */
    matmul_gemm (w->dweff, m->bn, dlogits, m->K, w->zn, m->bn, TRUE, FALSE, m->K, m->bn, R, 1.0f, 0.0f);
    matmul_backward (w->dzn, NULL, NULL, dlogits, w->zn, w->weff, R, m->bn, m->K);
    weightnorm_backward (G + m->last_v, m->hp.norm_last_layer ? NULL : G + m->last_g,
                         w->dweff, P + m->last_v, P + m->last_g, w->vnorm, m->K, m->bn);
    l2norm_backward (dcur, w->dzn, w->lin[m->nlin - 1], w->znorm, R, m->bn);

    for (int i = m->nlin - 1; i >= 0; i--) {
        const LinearOffsets *h = &m->head[i];
        const float *x = i == 0 ? w->inp : w->act[i - 1];
        float *dprev = i == 0 ? w->dinp : dother;

        matmul_backward (dprev, G + h->w, G + h->b, dcur, x, P + h->w, R, h->in, h->out);
        if (i == 0)
            break;
        /* through the GELU that produced this layer's input; dcur is free again */
        gelu_backward (dcur, w->lin[i - 1], dprev, (size_t) R * h->in);
    }
}
