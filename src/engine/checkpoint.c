/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * checkpoint.c: writes and reads the one-file training checkpoints of checkpoint.h:
 * student, teacher, optimizer state and center as safetensors tensors, the position
 * and the hyperparameters as metadata.
 *
 * What this file is not: it does not name checkpoint files, record them in the store
 * or thin them (the trainer does), and it does not parse tensors itself (io.h does;
 * only read_meta reads the header directly, so listing checkpoints stays cheap).
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "dinolab/checkpoint.h"
#include "dinolab/error.h"
#include "dinolab/io.h"

/* A safetensors header longer than this is not one of ours. */
#define CKPT_MAX_HEADER (64u << 20)

void
dinolab_checkpoint_meta_clear (DinolabCheckpointMeta *meta)
{
    g_return_if_fail (meta != NULL);
    g_clear_pointer (&meta->run_uuid, g_free);
    g_clear_pointer (&meta->hparams_json, g_free);
    g_clear_pointer (&meta->trainer_state, g_free);
}

// ----------------------------------------------------------------------------
// writing

/* The tensor-name prefixes of the optimizer state, by kind (torch's state keys). */
static const char *
opt_prefix_m_ (DinolabOptimKind kind)
{
    return kind == DINOLAB_OPTIM_ADAMW ? "optimizer.exp_avg." : "optimizer.momentum_buffer.";
}

static void
view_set_ (DinolabTensorView *v, const char *name, const DinolabParamInfo *info, const float *data)
{
    g_assert (info->ndim <= DINOLAB_MAX_DIMS);
    memset (v, 0, sizeof *v);
    v->name = name;
    v->ndim = info->ndim;
    for (int d = 0; d < info->ndim; d++)
        v->shape[d] = info->shape[d];
    v->data = data;
}

/* Makes the rename of a file in @dir durable. Best effort: some file systems refuse
 * fsync on a directory (EINVAL), which is not a failure of the checkpoint. */
static void
sync_dir_ (const char *path)
{
    g_autofree char *dir = g_path_get_dirname (path);
    int fd = open (dir, O_RDONLY | O_DIRECTORY);

    if (fd < 0)
        return;
    (void) fsync (fd);
    close (fd);
}

static char *
steps_to_json_ (const gint64 *steps, guint n)
{
    GString *s = g_string_new ("[");

    for (guint i = 0; i < n; i++)
        g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", steps[i]);
    g_string_append_c (s, ']');
    return g_string_free (s, FALSE);
}

gboolean
dinolab_checkpoint_write (const char                  *path,
                          DinolabModel                *student,
                          DinolabModel                *teacher,
                          DinolabOptimizer            *opt,
                          const float                 *center,
                          const DinolabCheckpointMeta *meta,
                          GError                     **error)
{
    const DinolabParamTable *table;
    DinolabOptimKind kind;
    const float *sp, *tp, *m, *v;
    g_autofree DinolabTensorView *views = NULL;
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *hparams = NULL, *steps = NULL, *step_s = NULL, *epoch_s = NULL;
    g_autofree char *iter_s = NULL, *wall_s = NULL;
    const char *md[32];
    guint nv = 0, nm = 0;
    int K;
    gboolean ok;

    g_return_val_if_fail (path != NULL, FALSE);
    g_return_val_if_fail (student != NULL && teacher != NULL && opt != NULL, FALSE);
    g_return_val_if_fail (center != NULL && meta != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
    g_return_val_if_fail (dinolab_model_get_table (teacher)->total ==
                          dinolab_model_get_table (student)->total, FALSE);

    table = dinolab_model_get_table (student);
    kind = dinolab_optimizer_get_kind (opt);
    sp = dinolab_model_get_params (student);
    tp = dinolab_model_get_params (teacher);
    m = dinolab_optimizer_get_m (opt);
    v = dinolab_optimizer_get_v (opt);
    K = dinolab_model_get_hparams (student)->out_dim;

    // student.*, teacher.*, optimizer.*, center: 4 blocks of the table + 1
    views = g_new0 (DinolabTensorView, (gsize) table->n * 4 + 1);
    for (guint i = 0; i < table->n; i++) {
        const DinolabParamInfo *info = &table->info[i];
        char *ns = g_strconcat ("student.", info->name, NULL);
        char *nt = g_strconcat ("teacher.", info->name, NULL);
        char *nm1 = g_strconcat (opt_prefix_m_ (kind), info->name, NULL);
        g_ptr_array_add (names, ns);
        g_ptr_array_add (names, nt);
        g_ptr_array_add (names, nm1);
        view_set_ (&views[nv++], ns, info, sp + info->offset);
        view_set_ (&views[nv++], nt, info, tp + info->offset);
        view_set_ (&views[nv++], nm1, info, m + info->offset);
        if (v != NULL) {
            char *nm2 = g_strconcat ("optimizer.exp_avg_sq.", info->name, NULL);
            g_ptr_array_add (names, nm2);
            view_set_ (&views[nv++], nm2, info, v + info->offset);
        }
    }
    memset (&views[nv], 0, sizeof views[nv]);
    views[nv].name = "center";
    views[nv].ndim = 2;
    views[nv].shape[0] = 1;
    views[nv].shape[1] = K;
    views[nv].data = center;
    nv++;

    hparams = meta->hparams_json ? g_strdup (meta->hparams_json)
                                 : dinolab_hparams_to_json (dinolab_model_get_hparams (student), FALSE);
    steps = steps_to_json_ (dinolab_optimizer_get_steps (opt), table->n);
    step_s = g_strdup_printf ("%" G_GINT64_FORMAT, meta->step);
    epoch_s = g_strdup_printf ("%d", meta->epoch);
    iter_s = g_strdup_printf ("%d", meta->iteration_in_epoch);
    wall_s = g_malloc (G_ASCII_DTOSTR_BUF_SIZE);
    g_ascii_formatd (wall_s, G_ASCII_DTOSTR_BUF_SIZE, "%.17g", meta->wall_seconds);

#define MD_(k, val) (md[nm++] = (k), md[nm++] = (val))
    MD_ ("format", DINOLAB_CHECKPOINT_FORMAT);
    MD_ ("hyperparameters", hparams);
    MD_ ("run", meta->run_uuid ? meta->run_uuid : "");
    MD_ ("step", step_s);
    MD_ ("epoch", epoch_s);
    MD_ ("iteration_in_epoch", iter_s);
    MD_ ("optimizer", kind == DINOLAB_OPTIM_ADAMW ? "adamw" : "sgd");
    MD_ ("optimizer_steps", steps);
    MD_ ("wall_seconds", wall_s);
    MD_ ("rng", "stateless: crops draw from (seed, epoch, item, view), drop path from "
                "(seed, global iteration), evaluation subsets from the seed; the "
                "hyperparameter seed and \"step\" are the whole random state");
    if (meta->trainer_state != NULL)
        MD_ ("trainer_state", meta->trainer_state);
#undef MD_
    md[nm] = NULL;
    g_assert (nm < G_N_ELEMENTS (md));

    ok = dinolab_safetensors_write (path, views, nv, md, error);
    if (ok)
        sync_dir_ (path);
    return ok;
}

// ----------------------------------------------------------------------------
// reading the metadata

static gboolean
meta_fail_ (GError **error, const char *path, const char *what)
{
    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                 "%s: not a Dinolab checkpoint: %s", path, what);
    return FALSE;
}

static const char *
md_get_ (JsonObject *md, const char *key)
{
    JsonNode *n = json_object_get_member (md, key);

    if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE ||
        json_node_get_value_type (n) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string (n);
}

/* Fills @meta from the __metadata__ strings (a JSON object of strings). */
static gboolean
meta_from_object_ (const char *path, JsonObject *md, DinolabCheckpointMeta *meta, GError **error)
{
    const char *format = md_get_ (md, "format"), *s;
    gint64 v;
    char *end;

    memset (meta, 0, sizeof *meta);
    if (format == NULL || strcmp (format, DINOLAB_CHECKPOINT_FORMAT) != 0)
        return meta_fail_ (error, path, format ? "unknown \"format\" metadata"
                                               : "no \"format\" metadata");
    if ((s = md_get_ (md, "hyperparameters")) == NULL)
        return meta_fail_ (error, path, "no \"hyperparameters\" metadata");
    meta->hparams_json = g_strdup (s);
    meta->run_uuid = g_strdup (md_get_ (md, "run") ? md_get_ (md, "run") : "");
    if ((s = md_get_ (md, "step")) == NULL ||
        !g_ascii_string_to_signed (s, 10, 0, G_MAXINT64, &v, NULL))
        goto bad;
    meta->step = v;
    if ((s = md_get_ (md, "epoch")) == NULL ||
        !g_ascii_string_to_signed (s, 10, 0, G_MAXINT, &v, NULL))
        goto bad;
    meta->epoch = (int) v;
    if ((s = md_get_ (md, "iteration_in_epoch")) == NULL ||
        !g_ascii_string_to_signed (s, 10, 0, G_MAXINT, &v, NULL))
        goto bad;
    meta->iteration_in_epoch = (int) v;
    if ((s = md_get_ (md, "wall_seconds")) != NULL) {
        meta->wall_seconds = g_ascii_strtod (s, &end);
        if (end == s || *end != '\0')
            goto bad;
    }
    if ((s = md_get_ (md, "trainer_state")) != NULL)
        meta->trainer_state = g_strdup (s);
    return TRUE;

bad:
    dinolab_checkpoint_meta_clear (meta);
    return meta_fail_ (error, path, "malformed step, epoch, iteration_in_epoch or wall_seconds");
}

gboolean
dinolab_checkpoint_read_meta (const char *path, DinolabCheckpointMeta *meta, GError **error)
{
    g_autoptr (JsonParser) parser = NULL;
    g_autofree char *header = NULL;
    guint8 len_le[8];
    guint64 len = 0;
    GStatBuf st;
    JsonNode *root;
    JsonNode *mdn;
    FILE *fp;
    size_t got;
    int errsv;

    g_return_val_if_fail (path != NULL && meta != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    memset (meta, 0, sizeof *meta);
    fp = g_fopen (path, "rb");
    if (fp == NULL || fstat (fileno (fp), &st) != 0) {
        errsv = errno;
        if (fp != NULL)
            fclose (fp);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot read: %s", path,
                     g_strerror (errsv));
        return FALSE;
    }
    got = fread (len_le, 1, sizeof len_le, fp);
    for (int i = 0; i < 8 && got == 8; i++)
        len |= (guint64) len_le[i] << (8 * i);
    if (got != 8 || len == 0 || len > CKPT_MAX_HEADER || len > (guint64) st.st_size - 8) {
        fclose (fp);
        return meta_fail_ (error, path, "truncated or malformed safetensors header");
    }
    header = g_malloc (len + 1);
    got = fread (header, 1, len, fp);
    fclose (fp);
    if (got != len)
        return meta_fail_ (error, path, "truncated safetensors header");
    header[len] = '\0';

    parser = json_parser_new ();
    if (!json_parser_load_from_data (parser, header, (gssize) len, NULL) ||
        (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        return meta_fail_ (error, path, "malformed safetensors header");
    mdn = json_object_get_member (json_node_get_object (root), "__metadata__");
    if (mdn == NULL || !JSON_NODE_HOLDS_OBJECT (mdn))
        return meta_fail_ (error, path, "no metadata");
    return meta_from_object_ (path, json_node_get_object (mdn), meta, error);
}

// ----------------------------------------------------------------------------
// loading

/* Finds @prefix@name in @st (its name after io.h's normalisation is @name without a
 * student./teacher. prefix) and checks its shape against @info. Returns its data or
 * NULL with one message naming the file, the tensor and both shapes. */
static const float *
ckpt_tensor_ (const DinolabSafetensors *st, const char *path, const char *prefix,
              const char *lookup, const DinolabParamInfo *info, GError **error)
{
    const DinolabArray *a = dinolab_safetensors_get (st, lookup);
    char want[96], found[96];
    gboolean same;

    if (a == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: tensor %s%s is missing (the checkpoint does not match the configuration)",
                     path, prefix, info->name);
        return NULL;
    }
    same = a->ndim == info->ndim;
    for (int d = 0; same && d < info->ndim; d++)
        same = a->shape[d] == info->shape[d];
    if (!same) {
        dinolab_param_format_shape (want, sizeof want, info->ndim, info->shape);
        dinolab_param_format_shape (found, sizeof found, a->ndim, a->shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s%s: expected %s, found %s (the checkpoint does not match the "
                     "configuration)", path, prefix, info->name, want, found);
        return NULL;
    }
    return a->data;
}

static gboolean
parse_steps_ (const char *path, const char *text, gint64 *out, guint n, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonNode *root;
    JsonArray *arr;

    if (text == NULL || !json_parser_load_from_data (parser, text, -1, NULL) ||
        (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_ARRAY (root) ||
        json_array_get_length (arr = json_node_get_array (root)) != n) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: \"optimizer_steps\" metadata is missing or does not hold %u counts",
                     path, n);
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        JsonNode *e = json_array_get_element (arr, i);
        if (JSON_NODE_TYPE (e) != JSON_NODE_VALUE || json_node_get_value_type (e) != G_TYPE_INT64 ||
            json_node_get_int (e) < 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: \"optimizer_steps\"[%u] is not a count", path, i);
            return FALSE;
        }
        out[i] = json_node_get_int (e);
    }
    return TRUE;
}

gboolean
dinolab_checkpoint_load (const char            *path,
                         DinolabModel          *student,
                         DinolabModel          *teacher,
                         DinolabOptimizer      *opt,
                         float                 *center,
                         DinolabCheckpointMeta *meta,
                         GError               **error)
{
    g_autoptr (DinolabSafetensors) st_s = NULL;
    g_autoptr (DinolabSafetensors) st_t = NULL;
    g_auto (DinolabCheckpointMeta) m = { 0 };
    const DinolabParamTable *table;
    g_autofree const float **src_s = NULL, **src_t = NULL, **src_m = NULL, **src_v = NULL;
    g_autofree gint64 *steps = NULL;
    const float *src_c = NULL;
    DinolabOptimKind kind = DINOLAB_OPTIM_ADAMW;
    int K;

    g_return_val_if_fail (path != NULL && student != NULL && teacher != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
    g_return_val_if_fail (dinolab_model_get_table (teacher)->total ==
                          dinolab_model_get_table (student)->total, FALSE);

    table = dinolab_model_get_table (student);
    K = dinolab_model_get_hparams (student)->out_dim;

    // Two reads: io.h keeps one copy per normalised name, the student's or the teacher's.
    if (!(st_s = dinolab_safetensors_read (path, "student", error)))
        return FALSE;
    {
        const char *fmt = dinolab_safetensors_get_metadata (st_s, "format");
        g_autoptr (JsonObject) md = json_object_new ();
        static const char *const keys[] = { "format", "hyperparameters", "run", "step", "epoch",
                                            "iteration_in_epoch", "wall_seconds", "trainer_state" };
        if (fmt == NULL || strcmp (fmt, DINOLAB_CHECKPOINT_FORMAT) != 0)
            return meta_fail_ (error, path, fmt ? "unknown \"format\" metadata"
                                                : "no \"format\" metadata (a weight file?)");
        for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
            const char *val = dinolab_safetensors_get_metadata (st_s, keys[i]);
            if (val != NULL)
                json_object_set_string_member (md, keys[i], val);
        }
        if (!meta_from_object_ (path, md, &m, error))
            return FALSE;
    }
    if (!(st_t = dinolab_safetensors_read (path, "teacher", error)))
        return FALSE;

    // Check everything before changing anything.
    src_s = g_new0 (const float *, table->n);
    src_t = g_new0 (const float *, table->n);
    src_m = g_new0 (const float *, table->n);
    src_v = g_new0 (const float *, table->n);
    if (opt != NULL) {
        const char *okind = dinolab_safetensors_get_metadata (st_s, "optimizer");
        DinolabOptimKind want = dinolab_optimizer_get_kind (opt);
        kind = okind != NULL && strcmp (okind, "sgd") == 0 ? DINOLAB_OPTIM_SGD : DINOLAB_OPTIM_ADAMW;
        if (kind != want) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: the checkpoint holds %s state but the optimizer is %s (the "
                         "checkpoint does not match the configuration)", path,
                         kind == DINOLAB_OPTIM_SGD ? "sgd" : "adamw",
                         want == DINOLAB_OPTIM_SGD ? "sgd" : "adamw");
            return FALSE;
        }
        steps = g_new0 (gint64, table->n);
        if (!parse_steps_ (path, dinolab_safetensors_get_metadata (st_s, "optimizer_steps"),
                           steps, table->n, error))
            return FALSE;
    }
    for (guint i = 0; i < table->n; i++) {
        const DinolabParamInfo *info = &table->info[i];
        g_autofree char *nm = g_strconcat (opt_prefix_m_ (kind), info->name, NULL);
        g_autofree char *nv = g_strconcat ("optimizer.exp_avg_sq.", info->name, NULL);
        if (!(src_s[i] = ckpt_tensor_ (st_s, path, "student.", info->name, info, error)) ||
            !(src_t[i] = ckpt_tensor_ (st_t, path, "teacher.", info->name, info, error)))
            return FALSE;
        if (opt == NULL)
            continue;
        if (!(src_m[i] = ckpt_tensor_ (st_s, path, opt_prefix_m_ (kind), nm, info, error)))
            return FALSE;
        if (kind == DINOLAB_OPTIM_ADAMW &&
            !(src_v[i] = ckpt_tensor_ (st_s, path, "optimizer.exp_avg_sq.", nv, info, error)))
            return FALSE;
    }
    if (center != NULL) {
        DinolabParamInfo cinfo = { .name = "", .ndim = 2, .shape = { 1, K } };
        if (!(src_c = ckpt_tensor_ (st_s, path, "center", "center", &cinfo, error)))
            return FALSE;
    }

    // Copy.
    for (guint i = 0; i < table->n; i++) {
        const DinolabParamInfo *info = &table->info[i];
        size_t bytes = info->numel * sizeof (float);
        memcpy (dinolab_model_get_params (student) + info->offset, src_s[i], bytes);
        memcpy (dinolab_model_get_params (teacher) + info->offset, src_t[i], bytes);
        if (opt != NULL) {
            memcpy (dinolab_optimizer_get_m (opt) + info->offset, src_m[i], bytes);
            if (kind == DINOLAB_OPTIM_ADAMW)
                memcpy (dinolab_optimizer_get_v (opt) + info->offset, src_v[i], bytes);
        }
    }
    if (opt != NULL)
        memcpy (dinolab_optimizer_get_steps (opt), steps, table->n * sizeof (gint64));
    if (center != NULL)
        memcpy (center, src_c, (size_t) K * sizeof (float));
    if (meta != NULL) {
        *meta = m;
        memset (&m, 0, sizeof m);
    }
    return TRUE;
}
