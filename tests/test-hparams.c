/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-hparams.c: the hyperparameter contract of DESIGN.md, checked key by key.
 *
 * Every expected value and message here is written out by hand from the brief and
 * DINO.md (defaults, ranges, the arch rule), never read back from the table in
 * hparams.c, so a wrong row in the table fails a test. Structs are compared field by
 * field with assert_hp_equal(), which lists the fields itself. Preset tests read the
 * source tree's data/presets (SOURCE_PRESETS_DIR) and write their own small presets
 * into a temporary directory.
 *
 * Not covered here: what the trainer does with the values.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dinolab/error.h"
#include "dinolab/hparams.h"

#ifndef SOURCE_PRESETS_DIR
#define SOURCE_PRESETS_DIR "data/presets"
#endif

static const char *const source_dirs[] = { SOURCE_PRESETS_DIR, NULL };

// ----------------------------------------------------------------------------
// helpers

static void
assert_hp_equal (const DinolabHparams *a, const DinolabHparams *b)
{
    g_assert_cmpstr (a->arch, ==, b->arch);
    g_assert_cmpint (a->patch_size, ==, b->patch_size);
    g_assert_cmpint (a->embed_dim, ==, b->embed_dim);
    g_assert_cmpint (a->depth, ==, b->depth);
    g_assert_cmpint (a->num_heads, ==, b->num_heads);
    g_assert_cmpfloat (a->mlp_ratio, ==, b->mlp_ratio);
    g_assert_cmpfloat (a->drop_path_rate, ==, b->drop_path_rate);
    g_assert_cmpint (a->out_dim, ==, b->out_dim);
    g_assert_cmpint (a->head_hidden_dim, ==, b->head_hidden_dim);
    g_assert_cmpint (a->bottleneck_dim, ==, b->bottleneck_dim);
    g_assert_cmpint (a->head_nlayers, ==, b->head_nlayers);
    g_assert_cmpint (!!a->norm_last_layer, ==, !!b->norm_last_layer);
    g_assert_cmpint (!!a->use_bn_in_head, ==, !!b->use_bn_in_head);
    g_assert_cmpfloat (a->student_temp, ==, b->student_temp);
    g_assert_cmpfloat (a->warmup_teacher_temp, ==, b->warmup_teacher_temp);
    g_assert_cmpfloat (a->teacher_temp, ==, b->teacher_temp);
    g_assert_cmpint (a->warmup_teacher_temp_epochs, ==, b->warmup_teacher_temp_epochs);
    g_assert_cmpfloat (a->center_momentum, ==, b->center_momentum);
    g_assert_cmpfloat (a->momentum_teacher, ==, b->momentum_teacher);
    g_assert_cmpint (a->optimizer, ==, b->optimizer);
    g_assert_cmpfloat (a->lr, ==, b->lr);
    g_assert_cmpfloat (a->min_lr, ==, b->min_lr);
    g_assert_cmpint (a->warmup_epochs, ==, b->warmup_epochs);
    g_assert_cmpfloat (a->weight_decay, ==, b->weight_decay);
    g_assert_cmpfloat (a->weight_decay_end, ==, b->weight_decay_end);
    g_assert_cmpfloat (a->clip_grad, ==, b->clip_grad);
    g_assert_cmpint (a->freeze_last_layer, ==, b->freeze_last_layer);
    g_assert_cmpint (a->batch_size_per_gpu, ==, b->batch_size_per_gpu);
    g_assert_cmpint (a->epochs, ==, b->epochs);
    g_assert_cmpfloat (a->global_crops_scale[0], ==, b->global_crops_scale[0]);
    g_assert_cmpfloat (a->global_crops_scale[1], ==, b->global_crops_scale[1]);
    g_assert_cmpfloat (a->local_crops_scale[0], ==, b->local_crops_scale[0]);
    g_assert_cmpfloat (a->local_crops_scale[1], ==, b->local_crops_scale[1]);
    g_assert_cmpint (a->local_crops_number, ==, b->local_crops_number);
    g_assert_cmpint (a->global_crop_size, ==, b->global_crop_size);
    g_assert_cmpint (a->local_crop_size, ==, b->local_crop_size);
    g_assert_cmpuint (a->seed, ==, b->seed);
    g_assert_cmpstr (a->dataset, ==, b->dataset);
    g_assert_cmpint (a->img_size, ==, b->img_size);
    g_assert_cmpint (a->in_chans, ==, b->in_chans);
    g_assert_cmpint (a->threads, ==, b->threads);
    g_assert_cmpfloat (a->eval_every, ==, b->eval_every);
    g_assert_cmpint (a->checkpoint_every, ==, b->checkpoint_every);
    g_assert_cmpint (!!a->use_centering, ==, !!b->use_centering);
    g_assert_cmpint (!!a->use_sharpening, ==, !!b->use_sharpening);
    g_assert_cmpint (!!a->use_momentum, ==, !!b->use_momentum);
}

/* Runs @call, which must fail; checks the error code and the exact message @want. */
#define assert_fails_with(call, err, code, want)                             \
    G_STMT_START {                                                           \
        gboolean ok_ = (call);                                               \
        g_assert_false (ok_);                                                \
        g_assert_error ((err), DINOLAB_ERROR, (code));                       \
        g_assert_cmpstr ((err)->message, ==, (want));                        \
        g_clear_error (&(err));                                              \
    } G_STMT_END

static void
write_file (const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename (dir, name, NULL);
    GError *error = NULL;

    g_file_set_contents (path, text, -1, &error);
    g_assert_no_error (error);
    g_free (path);
}

static void
remove_tree (const char *dir)
{
    GDir *d = g_dir_open (dir, 0, NULL);
    const char *name;

    g_assert_nonnull (d);
    while ((name = g_dir_read_name (d)) != NULL) {
        char *path = g_build_filename (dir, name, NULL);
        g_assert_cmpint (g_remove (path), ==, 0);
        g_free (path);
    }
    g_dir_close (d);
    g_assert_cmpint (g_rmdir (dir), ==, 0);
}

// ----------------------------------------------------------------------------
// defaults

/* DINO.md section 0 and the brief, written out. */
static void
test_defaults (void)
{
    DinolabHparams hp;
    GError *error = NULL;

    dinolab_hparams_init (&hp);
    g_assert_cmpstr (hp.arch, ==, "vit_small");
    g_assert_cmpint (hp.patch_size, ==, 16);
    g_assert_cmpint (hp.embed_dim, ==, 384);
    g_assert_cmpint (hp.depth, ==, 12);
    g_assert_cmpint (hp.num_heads, ==, 6);
    g_assert_cmpfloat (hp.mlp_ratio, ==, 4.0);
    g_assert_cmpfloat (hp.drop_path_rate, ==, 0.1);
    g_assert_cmpint (hp.out_dim, ==, 65536);
    g_assert_cmpint (hp.head_hidden_dim, ==, 2048);
    g_assert_cmpint (hp.bottleneck_dim, ==, 256);
    g_assert_cmpint (hp.head_nlayers, ==, 3);
    g_assert_true (hp.norm_last_layer);
    g_assert_false (hp.use_bn_in_head);
    g_assert_cmpfloat (hp.student_temp, ==, 0.1);
    g_assert_cmpfloat (hp.warmup_teacher_temp, ==, 0.04);
    g_assert_cmpfloat (hp.teacher_temp, ==, 0.04);
    g_assert_cmpint (hp.warmup_teacher_temp_epochs, ==, 0);
    g_assert_cmpfloat (hp.center_momentum, ==, 0.9);
    g_assert_cmpfloat (hp.momentum_teacher, ==, 0.996);
    g_assert_cmpint (hp.optimizer, ==, DINOLAB_OPTIMIZER_ADAMW);
    g_assert_cmpfloat (hp.lr, ==, 0.0005);
    g_assert_cmpfloat (hp.min_lr, ==, 1e-6);
    g_assert_cmpint (hp.warmup_epochs, ==, 10);
    g_assert_cmpfloat (hp.weight_decay, ==, 0.04);
    g_assert_cmpfloat (hp.weight_decay_end, ==, 0.4);
    g_assert_cmpfloat (hp.clip_grad, ==, 3.0);
    g_assert_cmpint (hp.freeze_last_layer, ==, 1);
    g_assert_cmpint (hp.batch_size_per_gpu, ==, 64);
    g_assert_cmpint (hp.epochs, ==, 100);
    g_assert_cmpfloat (hp.global_crops_scale[0], ==, 0.4);
    g_assert_cmpfloat (hp.global_crops_scale[1], ==, 1.0);
    g_assert_cmpfloat (hp.local_crops_scale[0], ==, 0.05);
    g_assert_cmpfloat (hp.local_crops_scale[1], ==, 0.4);
    g_assert_cmpint (hp.local_crops_number, ==, 8);
    g_assert_cmpint (hp.global_crop_size, ==, 224);
    g_assert_cmpint (hp.local_crop_size, ==, 96);
    g_assert_cmpuint (hp.seed, ==, 0);
    g_assert_cmpstr (hp.dataset, ==, "fashion-mnist");
    g_assert_cmpint (hp.img_size, ==, 224);
    g_assert_cmpint (hp.in_chans, ==, 3);
    g_assert_cmpint (hp.threads, ==, 0);
    g_assert_cmpfloat (hp.eval_every, ==, 1.0);
    g_assert_cmpint (hp.checkpoint_every, ==, 1);
    g_assert_true (hp.use_centering);
    g_assert_true (hp.use_sharpening);
    g_assert_true (hp.use_momentum);

    g_assert_true (dinolab_hparams_validate (&hp, &error));
    g_assert_no_error (error);

    /* clear twice is fine; copy to self is a no-op */
    dinolab_hparams_copy (&hp, &hp);
    g_assert_cmpstr (hp.dataset, ==, "fashion-mnist");
    dinolab_hparams_clear (&hp);
    g_assert_null (hp.dataset);
    dinolab_hparams_clear (&hp);
}

// ----------------------------------------------------------------------------
// every key: a valid --set, an out-of-range --set, the same through JSON

typedef enum { T_INT, T_DBL, T_BOOL, T_PAIR, T_STR, T_ARCH, T_OPT, T_SEED } FieldType;

typedef struct {
    const char *key;
    FieldType   type;
    size_t      off;
    const char *good;    /* valid --set text */
    double      want[2]; /* the field after it (pairs: both) */
    const char *want_s;  /* T_STR, T_ARCH */
    const char *bad;     /* refused --set text */
    const char *message; /* the exact refusal */
} KeyCase;

#define O(f) offsetof (DinolabHparams, f)
#define RANGE_MSG(key, val, range) key ": " val " is out of range " range

static const KeyCase key_cases[] = {
    { "arch", T_ARCH, O (arch), "vit_base", { 0 }, "vit_base", "vit_large",
      "arch: 'vit_large' is not one of vit_tiny, vit_small, vit_base, vit_custom "
      "(deit_tiny, deit_small, deit_base are aliases)" },
    { "patch_size", T_INT, O (patch_size), "8", { 8 }, NULL, "0",
      RANGE_MSG ("patch_size", "0", "[1, 64]") },
    { "embed_dim", T_INT, O (embed_dim), "768", { 768 }, NULL, "5000",
      RANGE_MSG ("embed_dim", "5000", "[1, 4096]") },
    { "depth", T_INT, O (depth), "4", { 4 }, NULL, "65",
      RANGE_MSG ("depth", "65", "[1, 64]") },
    { "num_heads", T_INT, O (num_heads), "12", { 12 }, NULL, "0",
      RANGE_MSG ("num_heads", "0", "[1, 64]") },
    { "mlp_ratio", T_DBL, O (mlp_ratio), "2.5", { 2.5 }, NULL, "0",
      RANGE_MSG ("mlp_ratio", "0", "(0, 16]") },
    { "drop_path_rate", T_DBL, O (drop_path_rate), "0.2", { 0.2 }, NULL, "1",
      RANGE_MSG ("drop_path_rate", "1", "[0, 1)") },
    { "out_dim", T_INT, O (out_dim), "4096", { 4096 }, NULL, "1",
      RANGE_MSG ("out_dim", "1", "[2, 1048576]") },
    { "head_hidden_dim", T_INT, O (head_hidden_dim), "512", { 512 }, NULL, "16385",
      RANGE_MSG ("head_hidden_dim", "16385", "[1, 16384]") },
    { "bottleneck_dim", T_INT, O (bottleneck_dim), "128", { 128 }, NULL, "0",
      RANGE_MSG ("bottleneck_dim", "0", "[1, 4096]") },
    { "head_nlayers", T_INT, O (head_nlayers), "1", { 1 }, NULL, "9",
      RANGE_MSG ("head_nlayers", "9", "[1, 8]") },
    { "norm_last_layer", T_BOOL, O (norm_last_layer), "false", { 0 }, NULL, "maybe",
      "norm_last_layer: expected true or false, got 'maybe'" },
    { "use_bn_in_head", T_BOOL, O (use_bn_in_head), "false", { 0 }, NULL, "true",
      "use_bn_in_head: true is not supported (Dinolab's projection head has no BatchNorm; "
      "only false is allowed)" },
    { "student_temp", T_DBL, O (student_temp), "0.2", { 0.2 }, NULL, "0",
      RANGE_MSG ("student_temp", "0", "(0, 1]") },
    { "warmup_teacher_temp", T_DBL, O (warmup_teacher_temp), "0.02", { 0.02 }, NULL, "1.01",
      RANGE_MSG ("warmup_teacher_temp", "1.01", "(0, 1]") },
    { "teacher_temp", T_DBL, O (teacher_temp), "0.07", { 0.07 }, NULL, "1.5",
      "teacher_temp: 1.5 is out of range (0, 1]" },
    { "warmup_teacher_temp_epochs", T_INT, O (warmup_teacher_temp_epochs), "30", { 30 }, NULL,
      "-1", RANGE_MSG ("warmup_teacher_temp_epochs", "-1", "[0, 100000]") },
    { "center_momentum", T_DBL, O (center_momentum), "0.99", { 0.99 }, NULL, "1.1",
      RANGE_MSG ("center_momentum", "1.1", "[0, 1]") },
    { "momentum_teacher", T_DBL, O (momentum_teacher), "0.9995", { 0.9995 }, NULL, "-0.5",
      RANGE_MSG ("momentum_teacher", "-0.5", "[0, 1]") },
    { "optimizer", T_OPT, O (optimizer), "sgd", { DINOLAB_OPTIMIZER_SGD }, NULL, "lars",
      "optimizer: 'lars' is not supported (Dinolab offers adamw and sgd; the reference uses "
      "lars only for convnets)" },
    { "lr", T_DBL, O (lr), "0.001", { 0.001 }, NULL, "11",
      RANGE_MSG ("lr", "11", "[0, 10]") },
    { "min_lr", T_DBL, O (min_lr), "1e-5", { 1e-5 }, NULL, "-1e-06",
      RANGE_MSG ("min_lr", "-1e-06", "[0, 10]") },
    { "warmup_epochs", T_INT, O (warmup_epochs), "5", { 5 }, NULL, "100001",
      RANGE_MSG ("warmup_epochs", "100001", "[0, 100000]") },
    { "weight_decay", T_DBL, O (weight_decay), "0.05", { 0.05 }, NULL, "-0.1",
      RANGE_MSG ("weight_decay", "-0.1", "[0, 10]") },
    { "weight_decay_end", T_DBL, O (weight_decay_end), "0.1", { 0.1 }, NULL, "10.5",
      RANGE_MSG ("weight_decay_end", "10.5", "[0, 10]") },
    { "clip_grad", T_DBL, O (clip_grad), "0", { 0 }, NULL, "1001",
      RANGE_MSG ("clip_grad", "1001", "[0, 1000]") },
    { "freeze_last_layer", T_INT, O (freeze_last_layer), "0", { 0 }, NULL, "-2",
      RANGE_MSG ("freeze_last_layer", "-2", "[0, 100000]") },
    { "batch_size_per_gpu", T_INT, O (batch_size_per_gpu), "128", { 128 }, NULL, "0",
      RANGE_MSG ("batch_size_per_gpu", "0", "[1, 65536]") },
    { "epochs", T_INT, O (epochs), "300", { 300 }, NULL, "0",
      RANGE_MSG ("epochs", "0", "[1, 100000]") },
    { "global_crops_scale", T_PAIR, O (global_crops_scale), "0.14,1", { 0.14, 1.0 }, NULL,
      "0.5,0.4", "global_crops_scale: [0.5, 0.4] is not a valid scale range: need [a, b] "
      "with 0 < a <= b <= 1" },
    { "local_crops_scale", T_PAIR, O (local_crops_scale), "[0.05, 0.14]", { 0.05, 0.14 }, NULL,
      "0,0.4", "local_crops_scale: [0, 0.4] is not a valid scale range: need [a, b] "
      "with 0 < a <= b <= 1" },
    { "local_crops_number", T_INT, O (local_crops_number), "10", { 10 }, NULL, "65",
      RANGE_MSG ("local_crops_number", "65", "[0, 64]") },
    { "global_crop_size", T_INT, O (global_crop_size), "160", { 160 }, NULL, "0",
      RANGE_MSG ("global_crop_size", "0", "[1, 4096]") },
    { "local_crop_size", T_INT, O (local_crop_size), "64", { 64 }, NULL, "4097",
      RANGE_MSG ("local_crop_size", "4097", "[1, 4096]") },
    { "seed", T_SEED, O (seed), "42", { 42 }, NULL, "-1",
      RANGE_MSG ("seed", "-1", "[0, 9223372036854775807]") },
    { "dataset", T_STR, O (dataset), "folder:/tmp/images", { 0 }, "folder:/tmp/images", "",
      "dataset: must not be empty" },
    { "img_size", T_INT, O (img_size), "32", { 32 }, NULL, "0",
      RANGE_MSG ("img_size", "0", "[1, 4096]") },
    { "in_chans", T_INT, O (in_chans), "1", { 1 }, NULL, "65",
      RANGE_MSG ("in_chans", "65", "[1, 64]") },
    { "threads", T_INT, O (threads), "4", { 4 }, NULL, "1025",
      RANGE_MSG ("threads", "1025", "[0, 1024]") },
    { "eval_every", T_DBL, O (eval_every), "0.25", { 0.25 }, NULL, "0",
      RANGE_MSG ("eval_every", "0", "(0, 100000]") },
    { "checkpoint_every", T_INT, O (checkpoint_every), "10", { 10 }, NULL, "0",
      RANGE_MSG ("checkpoint_every", "0", "[1, 100000]") },
    { "use_centering", T_BOOL, O (use_centering), "false", { 0 }, NULL, "2",
      "use_centering: expected true or false, got '2'" },
    { "use_sharpening", T_BOOL, O (use_sharpening), "no", { 0 }, NULL, "sometimes",
      "use_sharpening: expected true or false, got 'sometimes'" },
    { "use_momentum", T_BOOL, O (use_momentum), "off", { 0 }, NULL, "",
      "use_momentum: expected true or false, got ''" },
};

static void
assert_field (const DinolabHparams *hp, const KeyCase *c)
{
    gconstpointer p = G_STRUCT_MEMBER_P (hp, c->off);

    switch (c->type) {
    case T_INT:  g_assert_cmpint (*(const int *) p, ==, (int) c->want[0]); break;
    case T_SEED: g_assert_cmpuint (*(const guint64 *) p, ==, (guint64) c->want[0]); break;
    case T_DBL:  g_assert_cmpfloat (*(const double *) p, ==, c->want[0]); break;
    case T_BOOL: g_assert_cmpint (!!*(const gboolean *) p, ==, c->want[0] != 0); break;
    case T_PAIR:
        g_assert_cmpfloat (((const double *) p)[0], ==, c->want[0]);
        g_assert_cmpfloat (((const double *) p)[1], ==, c->want[1]);
        break;
    case T_STR:  g_assert_cmpstr (*(char *const *) p, ==, c->want_s); break;
    case T_ARCH: g_assert_cmpstr ((const char *) p, ==, c->want_s); break;
    case T_OPT:  g_assert_cmpint (*(const DinolabOptimizerKind *) p, ==, (int) c->want[0]); break;
    default:     g_assert_not_reached ();
    }
}

/* The bad value as a JSON literal of the key's type (a number stays a number). */
static char *
bad_as_json (const KeyCase *c)
{
    switch (c->type) {
    case T_INT:
    case T_DBL:
    case T_SEED:
        return g_strdup (c->bad);
    case T_PAIR:
        return g_strdup_printf ("[%s]", c->bad);
    case T_STR:
    case T_ARCH:
    case T_OPT:
        return g_strdup_printf ("\"%s\"", c->bad);
    case T_BOOL:
        return g_strdup (strcmp (c->bad, "true") == 0 ? "true" : "\"not a bool\"");
    default:
        g_assert_not_reached ();
    }
    return NULL;
}

static void
test_every_key (void)
{
    guint n = dinolab_hparams_get_n_keys ();

    /* the table and this test list the same 44 keys, in DESIGN.md's order */
    g_assert_cmpuint (n, ==, G_N_ELEMENTS (key_cases));
    g_assert_cmpuint (n, ==, 44);
    for (guint i = 0; i < n; i++)
        g_assert_cmpstr (dinolab_hparams_get_key (i), ==, key_cases[i].key);

    for (guint i = 0; i < n; i++) {
        const KeyCase *c = &key_cases[i];
        DinolabHparams hp, before;
        GError *error = NULL;
        char *assignment, *json, *bad, *message;

        g_test_message ("key %s: good '%s', bad '%s'", c->key, c->good, c->bad);
        dinolab_hparams_init (&hp);
        dinolab_hparams_init (&before);

        /* valid --set */
        g_assert_true (dinolab_hparams_set (&hp, c->key, c->good, &error));
        g_assert_no_error (error);
        assert_field (&hp, c);

        /* the same through key=value */
        dinolab_hparams_clear (&hp);
        dinolab_hparams_init (&hp);
        assignment = g_strdup_printf ("%s=%s", c->key, c->good);
        g_assert_true (dinolab_hparams_set_assignment (&hp, assignment, &error));
        g_assert_no_error (error);
        assert_field (&hp, c);
        g_free (assignment);

        /* refused --set: exact message, struct untouched */
        dinolab_hparams_copy (&before, &hp);
        assert_fails_with (dinolab_hparams_set (&hp, c->key, c->bad, &error), error,
                           DINOLAB_ERROR_INVALID_INPUT, c->message);
        assert_hp_equal (&hp, &before);

        /* refused from a JSON file: same message after the source; struct untouched */
        bad = bad_as_json (c);
        json = g_strdup_printf ("{\"epochs\": 7, \"%s\": %s}", c->key, bad);
        message = g_strdup_printf ("cfg.json: %s", c->message);
        if (c->type == T_BOOL && strcmp (c->bad, "true") != 0) {
            g_assert_false (dinolab_hparams_load_json (&hp, json, -1, "cfg.json", &error));
            g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
            g_assert_true (g_str_has_prefix (error->message, "cfg.json: "));
            g_assert_nonnull (strstr (error->message, c->key));
            g_assert_nonnull (strstr (error->message, "true or false"));
            g_clear_error (&error);
        } else {
            assert_fails_with (dinolab_hparams_load_json (&hp, json, -1, "cfg.json", &error),
                               error, DINOLAB_ERROR_INVALID_INPUT, message);
        }
        assert_hp_equal (&hp, &before);
        g_free (message);
        g_free (json);
        g_free (bad);

        /* garbage text is a type error naming the key */
        if (c->type != T_STR && c->type != T_ARCH && c->type != T_OPT) {
            g_assert_false (dinolab_hparams_set (&hp, c->key, "abc", &error));
            g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
            message = g_strdup_printf ("%s: expected ", c->key);
            g_assert_true (g_str_has_prefix (error->message, message));
            g_assert_true (g_str_has_suffix (error->message, ", got 'abc'"));
            g_free (message);
            g_clear_error (&error);
        }

        /* every key has a description with its range and default */
        g_assert_nonnull (dinolab_hparams_describe (c->key));
        g_assert_nonnull (strstr (dinolab_hparams_describe (c->key), "Allowed: "));
        g_assert_nonnull (strstr (dinolab_hparams_describe (c->key), "; default "));

        dinolab_hparams_clear (&before);
        dinolab_hparams_clear (&hp);
    }
}

static void
test_text_forms (void)
{
    DinolabHparams hp;
    GError *error = NULL;

    dinolab_hparams_init (&hp);
    /* whitespace, '=' inside a value, every boolean spelling, pair spellings */
    g_assert_true (dinolab_hparams_set_assignment (&hp, "  lr = 0.001 ", &error));
    g_assert_cmpfloat (hp.lr, ==, 0.001);
    g_assert_true (dinolab_hparams_set_assignment (&hp, "dataset=folder:/a=b", &error));
    g_assert_cmpstr (hp.dataset, ==, "folder:/a=b");
    g_assert_true (dinolab_hparams_set (&hp, "use_centering", "TRUE", &error));
    g_assert_true (hp.use_centering);
    g_assert_true (dinolab_hparams_set (&hp, "use_centering", "0", &error));
    g_assert_false (hp.use_centering);
    g_assert_true (dinolab_hparams_set (&hp, "use_centering", "yes", &error));
    g_assert_true (hp.use_centering);
    g_assert_true (dinolab_hparams_set (&hp, "use_centering", "off", &error));
    g_assert_false (hp.use_centering);
    g_assert_true (dinolab_hparams_set (&hp, "use_centering", "1", &error));
    g_assert_true (hp.use_centering);
    g_assert_true (dinolab_hparams_set (&hp, "global_crops_scale", "(0.3,0.9)", &error));
    g_assert_cmpfloat (hp.global_crops_scale[0], ==, 0.3);
    g_assert_cmpfloat (hp.global_crops_scale[1], ==, 0.9);
    g_assert_true (dinolab_hparams_set (&hp, "global_crops_scale", " [ 0.25 , 1 ] ", &error));
    g_assert_cmpfloat (hp.global_crops_scale[0], ==, 0.25);
    g_assert_cmpfloat (hp.global_crops_scale[1], ==, 1.0);
    /* an integral number is an integer; a fraction is not */
    g_assert_true (dinolab_hparams_set (&hp, "epochs", "64.0", &error));
    g_assert_cmpint (hp.epochs, ==, 64);
    g_assert_true (dinolab_hparams_set (&hp, "out_dim", "1e3", &error));
    g_assert_cmpint (hp.out_dim, ==, 1000);
    g_assert_true (dinolab_hparams_set (&hp, "seed", "9223372036854775807", &error));
    g_assert_cmpuint (hp.seed, ==, G_MAXINT64);
    g_assert_no_error (error);
    assert_fails_with (dinolab_hparams_set (&hp, "epochs", "64.5", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "epochs: expected an integer in [1, 100000], got '64.5'");
    assert_fails_with (dinolab_hparams_set (&hp, "lr", "nan", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "lr: expected a number in [0, 10], got 'nan'");
    assert_fails_with (dinolab_hparams_set (&hp, "teacher_temp", "inf", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "teacher_temp: expected a number in (0, 1], got 'inf'");
    assert_fails_with (dinolab_hparams_set (&hp, "global_crops_scale", "0.4", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "global_crops_scale: expected two numbers [a, b] with 0 < a <= b <= 1, "
                       "got '0.4'");
    assert_fails_with (dinolab_hparams_set (&hp, "optimizer", "adam", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, "optimizer: 'adam' is not one of adamw, sgd");
    assert_fails_with (dinolab_hparams_set_assignment (&hp, "lr", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "'lr': expected key=value, e.g. teacher_temp=0.07");
    assert_fails_with (dinolab_hparams_set_assignment (&hp, " =3", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, "' =3': no key before '='");
    dinolab_hparams_clear (&hp);
}

// ----------------------------------------------------------------------------
// unknown keys

static void
test_unknown_keys (void)
{
    DinolabHparams hp, before;
    GError *error = NULL;

    dinolab_hparams_init (&hp);
    dinolab_hparams_init (&before);
    assert_fails_with (dinolab_hparams_set (&hp, "teachr_temp", "0.04", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "unknown hyperparameter 'teachr_temp' (did you mean 'teacher_temp'?)");
    assert_fails_with (dinolab_hparams_set (&hp, "lr_min", "0", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "unknown hyperparameter 'lr_min' (did you mean 'min_lr'?)");
    assert_fails_with (dinolab_hparams_set (&hp, "Teacher-Temp", "0.04", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "unknown hyperparameter 'Teacher-Temp' (did you mean 'teacher_temp'?)");
    assert_fails_with (dinolab_hparams_set (&hp, "batchsize", "8", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "unknown hyperparameter 'batchsize' (did you mean 'batch_size'?)");
    assert_fails_with (dinolab_hparams_set (&hp, "epoch", "8", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "unknown hyperparameter 'epoch' (did you mean 'epochs'?)");
    assert_fails_with (dinolab_hparams_set (&hp, "zzz", "1", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, "unknown hyperparameter 'zzz'");
    assert_fails_with (dinolab_hparams_set (&hp, "completely_unrelated_name", "1", &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "unknown hyperparameter 'completely_unrelated_name'");
    assert_fails_with (dinolab_hparams_set (&hp, "use_fp16", "true", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "unknown hyperparameter 'use_fp16' (a DINO reference argument that "
                       "Dinolab does not use: training runs in float32 on the CPU)");
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"lr\": 0.001, \"teachr_temp\": 0.04}",
                                                  -1, "cfg.json", &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: unknown hyperparameter 'teachr_temp' (did you mean "
                       "'teacher_temp'?)");
    assert_hp_equal (&hp, &before);
    g_assert_null (dinolab_hparams_describe ("teachr_temp"));
    g_assert_null (dinolab_hparams_get_text (&hp, "teachr_temp"));
    dinolab_hparams_clear (&before);
    dinolab_hparams_clear (&hp);
}

// ----------------------------------------------------------------------------
// arch versus explicit sizes

static void
assert_arch (const DinolabHparams *hp, const char *arch, int dim, int depth, int heads)
{
    g_assert_cmpstr (hp->arch, ==, arch);
    g_assert_cmpint (hp->embed_dim, ==, dim);
    g_assert_cmpint (hp->depth, ==, depth);
    g_assert_cmpint (hp->num_heads, ==, heads);
}

static void
load_json_ok (DinolabHparams *hp, const char *json)
{
    GError *error = NULL;

    g_assert_true (dinolab_hparams_load_json (hp, json, -1, "test", &error));
    g_assert_no_error (error);
}

static void
test_arch_rule (void)
{
    const char *orders[] = {
        "{\"arch\": \"vit_small\", \"embed_dim\": 192}",
        "{\"embed_dim\": 192, \"arch\": \"vit_small\"}",
    };
    DinolabHparams hp;
    GError *error = NULL;

    /* an explicit size overrides the arch, whatever the key order */
    for (guint i = 0; i < G_N_ELEMENTS (orders); i++) {
        dinolab_hparams_init (&hp);
        dinolab_hparams_set (&hp, "arch", "vit_base", &error);
        load_json_ok (&hp, orders[i]);
        assert_arch (&hp, "vit_custom", 192, 12, 6);
        dinolab_hparams_clear (&hp);
    }

    dinolab_hparams_init (&hp);
    load_json_ok (&hp, "{\"arch\": \"vit_tiny\"}");
    assert_arch (&hp, "vit_tiny", 192, 12, 3);
    /* a size equal to the named one keeps the name, in either order */
    load_json_ok (&hp, "{\"num_heads\": 12, \"arch\": \"vit_base\", \"embed_dim\": 768}");
    assert_arch (&hp, "vit_base", 768, 12, 12);
    /* aliases */
    g_assert_true (dinolab_hparams_set (&hp, "arch", "deit_small", &error));
    assert_arch (&hp, "vit_small", 384, 12, 6);
    g_assert_true (dinolab_hparams_set (&hp, "arch", "deit_tiny", &error));
    assert_arch (&hp, "vit_tiny", 192, 12, 3);
    g_assert_true (dinolab_hparams_set (&hp, "arch", "deit_base", &error));
    assert_arch (&hp, "vit_base", 768, 12, 12);
    /* --set depth after a named arch */
    g_assert_true (dinolab_hparams_set (&hp, "depth", "6", &error));
    assert_arch (&hp, "vit_custom", 768, 6, 12);
    /* vit_custom keeps the sizes; a named arch later resets all three */
    g_assert_true (dinolab_hparams_set (&hp, "arch", "vit_custom", &error));
    assert_arch (&hp, "vit_custom", 768, 6, 12);
    g_assert_true (dinolab_hparams_set (&hp, "arch", "vit_small", &error));
    assert_arch (&hp, "vit_small", 384, 12, 6);
    g_assert_no_error (error);

    /* --set arch=vit_tiny after a file with custom sizes */
    load_json_ok (&hp, "{\"arch\": \"vit_custom\", \"embed_dim\": 64, \"depth\": 2, "
                       "\"num_heads\": 2}");
    assert_arch (&hp, "vit_custom", 64, 2, 2);
    g_assert_true (dinolab_hparams_set_assignment (&hp, "arch=vit_tiny", &error));
    assert_arch (&hp, "vit_tiny", 192, 12, 3);

    /* a struct edited directly so that the name lies is refused by validate */
    hp.embed_dim = 96;
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "arch: vit_tiny means embed_dim 192, depth 12, num_heads 3, but they "
                       "are 96, 12, 3 (use arch vit_custom for other sizes)");
    dinolab_hparams_clear (&hp);
}

// ----------------------------------------------------------------------------
// JSON: round trip, aliases, types

/* Changes every key away from its default, with values that print awkwardly. */
static void
set_everything (DinolabHparams *hp)
{
    static const char *const assignments[] = {
        "arch=vit_custom", "patch_size=7", "embed_dim=96", "depth=3", "num_heads=4",
        "mlp_ratio=2.75", "drop_path_rate=0.05", "out_dim=3000", "head_hidden_dim=300",
        "bottleneck_dim=48", "head_nlayers=2", "norm_last_layer=false",
        "student_temp=0.15", "warmup_teacher_temp=0.03", "teacher_temp=0.07",
        "warmup_teacher_temp_epochs=3", "center_momentum=0.95", "momentum_teacher=0.9995",
        "optimizer=sgd", "min_lr=1.5e-7", "warmup_epochs=2", "weight_decay=1e-4",
        "weight_decay_end=0.0001", "clip_grad=0.3", "freeze_last_layer=0", "batch_size=17",
        "epochs=9", "global_crops_scale=0.14,1", "local_crops_scale=0.05,0.14",
        "local_crops_number=0", "global_crop_size=21", "local_crop_size=14",
        "seed=18446744073709551615", "img_size=35", "in_chans=1", "threads=3",
        "eval_every=2", "checkpoint_every=4", "use_centering=false", "use_sharpening=false",
        "use_momentum=false",
    };
    GError *error = NULL;

    for (guint i = 0; i < G_N_ELEMENTS (assignments); i++) {
        gboolean ok = dinolab_hparams_set_assignment (hp, assignments[i], &error);
        /* the seed above is 2^64 - 1: refused, JSON integers stop at 2^63 - 1 */
        if (g_str_has_prefix (assignments[i], "seed=")) {
            g_assert_false (ok);
            g_clear_error (&error);
            g_assert_true (dinolab_hparams_set (hp, "seed", "9223372036854775807", &error));
        } else {
            g_assert_true (ok);
        }
        g_assert_no_error (error);
    }
    hp->lr = 0.1 + 0.2;             /* 0.30000000000000004: needs 17 digits */
    hp->weight_decay = 1.0 / 3.0;
    g_free (hp->dataset);
    hp->dataset = g_strdup ("folder:/data/\"quoted\" back\\slash\ttab/é/\x01");
}

static void
test_round_trip (void)
{
    DinolabHparams hp, back, defaults;
    GError *error = NULL;

    dinolab_hparams_init (&hp);
    dinolab_hparams_init (&defaults);
    set_everything (&hp);
    g_assert_true (dinolab_hparams_validate (&hp, &error));
    g_assert_no_error (error);

    for (int pretty = 0; pretty <= 1; pretty++) {
        char *json = dinolab_hparams_to_json (&hp, pretty);
        JsonParser *parser = json_parser_new ();
        JsonObject *obj;
        const char *prev = json;

        g_test_message ("to_json (pretty %d): %zu bytes", pretty, strlen (json));
        /* plain JSON that json-glib reads, with every key once, in table order */
        g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
        g_assert_no_error (error);
        obj = json_node_get_object (json_parser_get_root (parser));
        g_assert_cmpuint (json_object_get_size (obj), ==, G_N_ELEMENTS (key_cases));
        for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++) {
            char *quoted = g_strdup_printf ("\"%s\":", key_cases[i].key);
            const char *at = strstr (json, quoted);
            g_assert_nonnull (at);
            g_assert_true (at >= prev);
            prev = at;
            g_free (quoted);
        }
        g_assert_cmpint (json_object_get_int_member (obj, "batch_size_per_gpu"), ==, 17);
        g_assert_false (json_object_has_member (obj, "batch_size"));
        g_assert_cmpstr (json_object_get_string_member (obj, "dataset"), ==, hp.dataset);
        g_assert_cmpfloat (json_object_get_double_member (obj, "lr"), ==, 0.1 + 0.2);
        g_object_unref (parser);
        if (pretty)
            g_assert_nonnull (strstr (json, "\n  \"mlp_ratio\": 2.75,\n"));
        else
            g_assert_null (strchr (json, '\n'));

        /* loading it back onto defaults gives the same struct, field for field */
        dinolab_hparams_init (&back);
        g_assert_true (dinolab_hparams_load_json (&back, json, -1, "roundtrip", &error));
        g_assert_no_error (error);
        assert_hp_equal (&back, &hp);
        dinolab_hparams_clear (&back);
        g_free (json);
    }

    /* every key's --set text feeds back to the same value */
    dinolab_hparams_init (&back);
    for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++) {
        char *text = dinolab_hparams_get_text (&hp, key_cases[i].key);
        g_assert_nonnull (text);
        g_assert_true (dinolab_hparams_set (&back, key_cases[i].key, text, &error));
        g_assert_no_error (error);
        g_free (text);
    }
    assert_hp_equal (&back, &hp);
    dinolab_hparams_clear (&back);

    /* and the defaults survive the trip too */
    {
        char *json = dinolab_hparams_to_json (&defaults, TRUE);
        g_assert_nonnull (strstr (json, "\"lr\": 0.0005,"));
        g_assert_nonnull (strstr (json, "\"min_lr\": 1e-06,"));
        g_assert_nonnull (strstr (json, "\"mlp_ratio\": 4.0,"));
        g_assert_nonnull (strstr (json, "\"global_crops_scale\": [0.4, 1.0],"));
        g_assert_nonnull (strstr (json, "\"optimizer\": \"adamw\","));
        dinolab_hparams_init (&back);
        set_everything (&back);
        g_assert_true (dinolab_hparams_load_json (&back, json, -1, NULL, &error));
        assert_hp_equal (&back, &defaults);
        dinolab_hparams_clear (&back);
        g_free (json);
    }
    dinolab_hparams_clear (&defaults);
    dinolab_hparams_clear (&hp);
}

static void
test_batch_size_alias (void)
{
    DinolabHparams hp, before;
    GError *error = NULL;
    char *text;

    dinolab_hparams_init (&hp);
    g_assert_true (dinolab_hparams_set_assignment (&hp, "batch_size=32", &error));
    g_assert_cmpint (hp.batch_size_per_gpu, ==, 32);
    load_json_ok (&hp, "{\"batch_size\": 128}");
    g_assert_cmpint (hp.batch_size_per_gpu, ==, 128);
    load_json_ok (&hp, "{\"batch_size\": 16, \"batch_size_per_gpu\": 16}");
    g_assert_cmpint (hp.batch_size_per_gpu, ==, 16);
    text = dinolab_hparams_get_text (&hp, "batch_size");
    g_assert_cmpstr (text, ==, "16");
    g_free (text);
    g_assert_true (dinolab_hparams_describe ("batch_size")
                   == dinolab_hparams_describe ("batch_size_per_gpu"));

    dinolab_hparams_init (&before);
    dinolab_hparams_copy (&before, &hp);
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"batch_size\": 8, "
                                                  "\"batch_size_per_gpu\": 64}", -1, "c.json",
                                                  &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "c.json: batch_size and batch_size_per_gpu are the same hyperparameter "
                       "but have different values");
    /* the alias's message uses the name the user wrote */
    assert_fails_with (dinolab_hparams_set (&hp, "batch_size", "0", &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "batch_size: 0 is out of range [1, 65536]");
    assert_hp_equal (&hp, &before);
    dinolab_hparams_clear (&before);
    dinolab_hparams_clear (&hp);
}

static void
test_json_errors (void)
{
    DinolabHparams hp, before;
    GError *error = NULL;
    char *dir, *path, *message;

    dinolab_hparams_init (&hp);
    dinolab_hparams_init (&before);

    /* JSON types are strict, except integral numbers for integer keys */
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"teacher_temp\": \"0.04\"}", -1,
                                                  "cfg.json", &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: teacher_temp: expected a number in (0, 1], got \"0.04\"");
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"epochs\": 10.5}", -1, "cfg.json",
                                                  &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: epochs: expected an integer in [1, 100000], got 10.5");
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"use_centering\": 1}", -1, "cfg.json",
                                                  &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: use_centering: expected true or false, got 1");
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"global_crops_scale\": [0.4]}", -1,
                                                  "cfg.json", &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: global_crops_scale: expected two numbers [a, b] with "
                       "0 < a <= b <= 1, got [0.4]");
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"dataset\": null}", -1, "cfg.json",
                                                  &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: dataset: expected a string: a non-empty name, got null");
    assert_fails_with (dinolab_hparams_load_json (&hp, "[1, 2]", -1, "cfg.json", &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: expected a JSON object of hyperparameters, found an array");
    assert_fails_with (dinolab_hparams_load_json (&hp, "", -1, "cfg.json", &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: expected a JSON object of hyperparameters, found an empty "
                       "document");
    g_assert_false (dinolab_hparams_load_json (&hp, "{\"lr\": 0.001,", -1, "cfg.json", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("parse error: %s", error->message);
    g_assert_true (g_str_has_prefix (error->message, "cfg.json: not valid JSON: "));
    g_clear_error (&error);
    /* '_' keys belong to preset files only */
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"_description\": \"x\"}", -1,
                                                  "cfg.json", &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "cfg.json: '_description': keys starting with '_' are only allowed in "
                       "preset files");
    /* a good key before a bad one is not applied either */
    assert_fails_with (dinolab_hparams_load_json (&hp, "{\"lr\": 0.001, \"dataset\": \"x\", "
                                                  "\"teacher_temp\": 5}", -1, NULL, &error),
                       error, DINOLAB_ERROR_INVALID_INPUT,
                       "teacher_temp: 5 is out of range (0, 1]");
    assert_hp_equal (&hp, &before);

    /* an integral double is accepted for an integer key; an int for a double key */
    load_json_ok (&hp, "{\"epochs\": 10.0, \"lr\": 1, \"seed\": 5}");
    g_assert_cmpint (hp.epochs, ==, 10);
    g_assert_cmpfloat (hp.lr, ==, 1.0);
    g_assert_cmpuint (hp.seed, ==, 5);
    load_json_ok (&hp, "{}");
    g_assert_cmpint (hp.epochs, ==, 10);

    /* files: contents and I/O errors */
    dir = g_dir_make_tmp ("test-hparams-XXXXXX", &error);
    g_assert_no_error (error);
    write_file (dir, "cfg.json", "{\n  \"teacher_temp\": 0.07,\n  \"epochs\": 300\n}\n");
    write_file (dir, "bad.json", "{\n  \"teacher_temp\": 1.5\n}\n");
    path = g_build_filename (dir, "cfg.json", NULL);
    g_assert_true (dinolab_hparams_load_file (&hp, path, &error));
    g_assert_no_error (error);
    g_assert_cmpfloat (hp.teacher_temp, ==, 0.07);
    g_assert_cmpint (hp.epochs, ==, 300);
    g_free (path);
    path = g_build_filename (dir, "bad.json", NULL);
    message = g_strdup_printf ("%s: teacher_temp: 1.5 is out of range (0, 1]", path);
    assert_fails_with (dinolab_hparams_load_file (&hp, path, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, message);
    g_free (message);
    g_free (path);
    path = g_build_filename (dir, "missing.json", NULL);
    g_assert_false (dinolab_hparams_load_file (&hp, path, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO);
    g_test_message ("missing file: %s", error->message);
    g_assert_nonnull (strstr (error->message, "missing.json"));
    g_clear_error (&error);
    g_free (path);
    remove_tree (dir);
    g_free (dir);

    dinolab_hparams_clear (&before);
    dinolab_hparams_clear (&hp);
}

// ----------------------------------------------------------------------------
// validate: cross-key rules and directly edited structs

static void
expect_invalid (const char *assignments, const char *message)
{
    DinolabHparams hp;
    GError *error = NULL;
    char **list = g_strsplit (assignments, " ", -1);

    dinolab_hparams_init (&hp);
    for (char **a = list; *a != NULL; a++) {
        g_assert_true (dinolab_hparams_set_assignment (&hp, *a, &error));
        g_assert_no_error (error);
    }
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, message);
    g_strfreev (list);
    dinolab_hparams_clear (&hp);
}

static void
test_validate (void)
{
    DinolabHparams hp;
    GError *error = NULL;

    expect_invalid ("embed_dim=100", "embed_dim: 100 is not divisible by num_heads 6");
    expect_invalid ("img_size=30", "img_size: 30 is not a multiple of patch_size 16");
    expect_invalid ("global_crop_size=200",
                    "global_crop_size: 200 is not a multiple of patch_size 16");
    expect_invalid ("patch_size=8 local_crop_size=100",
                    "local_crop_size: 100 is not a multiple of patch_size 8");
    expect_invalid ("min_lr=0.001",
                    "min_lr: 0.001 is above lr 0.0005 (the schedule decays from lr to min_lr)");
    expect_invalid ("warmup_epochs=101", "warmup_epochs: 101 is more than epochs 100");
    expect_invalid ("epochs=20 warmup_teacher_temp_epochs=30",
                    "warmup_teacher_temp_epochs: 30 is more than epochs 20");

    /* boundaries that are allowed */
    dinolab_hparams_init (&hp);
    g_assert_true (dinolab_hparams_set_assignment (&hp, "min_lr=0.0005", &error));
    g_assert_true (dinolab_hparams_set_assignment (&hp, "warmup_epochs=100", &error));
    g_assert_true (dinolab_hparams_set_assignment (&hp, "global_crops_scale=1,1", &error));
    g_assert_true (dinolab_hparams_set_assignment (&hp, "patch_size=4", &error));
    g_assert_true (dinolab_hparams_set_assignment (&hp, "img_size=28", &error));
    g_assert_true (dinolab_hparams_set_assignment (&hp, "global_crop_size=28", &error));
    g_assert_true (dinolab_hparams_set_assignment (&hp, "local_crop_size=12", &error));
    g_assert_true (dinolab_hparams_validate (&hp, &error));
    g_assert_no_error (error);

    /* fields written directly are range-checked too */
    hp.teacher_temp = 2.0;
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, "teacher_temp: 2 is out of range (0, 1]");
    hp.teacher_temp = NAN;
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, "teacher_temp: nan is out of range (0, 1]");
    hp.teacher_temp = 0.04;
    hp.use_bn_in_head = TRUE;
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "use_bn_in_head: true is not supported (Dinolab's projection head has "
                       "no BatchNorm; only false is allowed)");
    hp.use_bn_in_head = FALSE;
    hp.optimizer = (DinolabOptimizerKind) 7;
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "optimizer: invalid value 7 (one of adamw, sgd)");
    hp.optimizer = DINOLAB_OPTIMIZER_SGD;
    hp.local_crops_scale[0] = 0.5;
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "local_crops_scale: [0.5, 0.4] is not a valid scale range: need [a, b] "
                       "with 0 < a <= b <= 1");
    hp.local_crops_scale[0] = 0.05;
    g_clear_pointer (&hp.dataset, g_free);
    assert_fails_with (dinolab_hparams_validate (&hp, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, "dataset: must not be empty");
    hp.dataset = g_strdup ("fashion-mnist");
    hp.seed = G_MAXUINT64;
    g_assert_false (dinolab_hparams_validate (&hp, &error));
    g_assert_true (g_str_has_prefix (error->message, "seed: "));
    g_clear_error (&error);
    hp.seed = 0;
    g_assert_true (dinolab_hparams_validate (&hp, &error));
    g_assert_no_error (error);
    dinolab_hparams_clear (&hp);
}

static void
test_describe (void)
{
    const char *d = dinolab_hparams_describe ("teacher_temp");

    g_test_message ("teacher_temp: %s", d);
    g_assert_nonnull (strstr (d, "Allowed: (0, 1]; default 0.04."));
    g_assert_true (d == dinolab_hparams_describe ("teacher_temp"));
    g_assert_nonnull (strstr (dinolab_hparams_describe ("global_crops_scale"),
                              "Allowed: [a, b] with 0 < a <= b <= 1; default [0.4, 1.0]."));
    g_assert_nonnull (strstr (dinolab_hparams_describe ("use_bn_in_head"),
                              "Allowed: false only; default false."));
    g_assert_nonnull (strstr (dinolab_hparams_describe ("min_lr"), "default 1e-06."));
    g_assert_nonnull (strstr (dinolab_hparams_describe ("arch"), "default vit_small."));
    g_assert_null (dinolab_hparams_describe ("nope"));
    for (guint i = 0; i < dinolab_hparams_get_n_keys (); i++)
        g_assert_null (strchr (dinolab_hparams_describe (dinolab_hparams_get_key (i)), '\n'));
}

// ----------------------------------------------------------------------------
// presets

static const char *const shipped[] = {
    "ablation-no-centering", "ablation-no-momentum", "ablation-no-sharpening", "default",
    "vit-small-16-imagenet",
};

static void
load_preset_ok (DinolabHparams *hp, const char *name, const char *const *dirs)
{
    GError *error = NULL;

    g_assert_true (dinolab_hparams_load_preset (hp, name, dirs, &error));
    g_assert_no_error (error);
}

/* The default preset, written out (its description says why each value is so). */
static void
assert_default_preset (const DinolabHparams *hp)
{
    g_assert_cmpstr (hp->dataset, ==, "fashion-mnist");
    g_assert_cmpint (hp->in_chans, ==, 1);
    g_assert_cmpint (hp->img_size, ==, 28);
    g_assert_cmpint (hp->global_crop_size, ==, 28);
    g_assert_cmpint (hp->local_crop_size, ==, 14);
    g_assert_cmpint (hp->patch_size, ==, 7);
    assert_arch (hp, "vit_custom", 128, 4, 4);
    g_assert_cmpint (hp->out_dim, ==, 2048);
    g_assert_cmpint (hp->head_hidden_dim, ==, 512);
    g_assert_cmpint (hp->bottleneck_dim, ==, 128);
    g_assert_cmpfloat (hp->drop_path_rate, ==, 0.1);
    g_assert_cmpint (hp->local_crops_number, ==, 6);
    g_assert_cmpint (hp->batch_size_per_gpu, ==, 64);
    g_assert_cmpint (hp->epochs, ==, 19);
    g_assert_cmpint (hp->warmup_epochs, ==, 1);
    g_assert_cmpfloat (hp->warmup_teacher_temp, ==, 0.04);
    g_assert_cmpfloat (hp->teacher_temp, ==, 0.04);
    g_assert_cmpfloat (hp->lr, ==, 0.001);
    g_assert_cmpfloat (hp->global_crops_scale[0], ==, 0.4);
    g_assert_cmpfloat (hp->global_crops_scale[1], ==, 1.0);
    g_assert_cmpfloat (hp->local_crops_scale[0], ==, 0.05);
    g_assert_cmpfloat (hp->local_crops_scale[1], ==, 0.4);
    g_assert_cmpint (hp->threads, ==, 2);
    g_assert_cmpfloat (hp->eval_every, ==, 0.5);
    g_assert_true (hp->use_centering && hp->use_sharpening && hp->use_momentum);
}

static void
test_presets_shipped (void)
{
    char **names;
    DinolabHparams hp, def, expect;
    GError *error = NULL;

    g_unsetenv ("DINOLAB_PRESETS_DIR");
    names = dinolab_hparams_list_presets (source_dirs);
    for (guint i = 0; names[i] != NULL; i++) {
        g_test_message ("preset %s", names[i]);
        if (i > 0)
            g_assert_cmpint (strcmp (names[i - 1], names[i]), <, 0); /* sorted, no duplicates */
    }
    for (guint i = 0; i < G_N_ELEMENTS (shipped); i++)
        g_assert_true (g_strv_contains ((const char *const *) names, shipped[i]));

    /* every preset loads onto defaults, validates and has a description */
    for (guint i = 0; names[i] != NULL; i++) {
        char *description = dinolab_hparams_describe_preset (names[i], source_dirs, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (strlen (description), >, 40);
        g_free (description);
        dinolab_hparams_init (&hp);
        load_preset_ok (&hp, names[i], source_dirs);
        g_assert_true (dinolab_hparams_validate (&hp, &error));
        g_assert_no_error (error);
        dinolab_hparams_clear (&hp);
    }
    g_strfreev (names);

    /* default: the brief's values; on top of a changed struct too (it is complete) */
    dinolab_hparams_init (&def);
    load_preset_ok (&def, "default", source_dirs);
    assert_default_preset (&def);
    dinolab_hparams_init (&hp);
    set_everything (&hp);
    load_preset_ok (&hp, "default", source_dirs);
    assert_hp_equal (&hp, &def);
    dinolab_hparams_clear (&hp);

    /* the ablations are the default with one switch off */
    dinolab_hparams_init (&expect);
    {
        const struct { const char *preset; size_t off; } ablations[] = {
            { "ablation-no-centering", O (use_centering) },
            { "ablation-no-sharpening", O (use_sharpening) },
            { "ablation-no-momentum", O (use_momentum) },
        };
        for (guint i = 0; i < G_N_ELEMENTS (ablations); i++) {
            dinolab_hparams_copy (&expect, &def);
            G_STRUCT_MEMBER (gboolean, &expect, ablations[i].off) = FALSE;
            dinolab_hparams_init (&hp);
            load_preset_ok (&hp, ablations[i].preset, source_dirs);
            assert_hp_equal (&hp, &expect);
            dinolab_hparams_clear (&hp);
        }
    }

    /* the reference ViT-S/16 recipe: every default, an ImageNet folder */
    dinolab_hparams_clear (&expect);
    dinolab_hparams_init (&expect);
    g_free (expect.dataset);
    expect.dataset = g_strdup ("folder:/path/to/imagenet/train");
    dinolab_hparams_init (&hp);
    set_everything (&hp);
    load_preset_ok (&hp, "vit-small-16-imagenet", source_dirs);
    assert_hp_equal (&hp, &expect);
    dinolab_hparams_clear (&hp);

    dinolab_hparams_clear (&expect);
    dinolab_hparams_clear (&def);
}

static void
test_presets_chain (void)
{
    GError *error = NULL;
    char *dir, *dir2, *message, *text, *path;
    const char *dirs[3];
    DinolabHparams hp, before;

    g_unsetenv ("DINOLAB_PRESETS_DIR");
    dir = g_dir_make_tmp ("test-hparams-XXXXXX", &error);
    dir2 = g_dir_make_tmp ("test-hparams-XXXXXX", &error);
    g_assert_no_error (error);
    dirs[0] = dir;
    dirs[1] = SOURCE_PRESETS_DIR;
    dirs[2] = NULL;

    write_file (dir, "base.json", "{\"_description\": \"base\", \"epochs\": 5, \"lr\": 0.001, "
                                  "\"arch\": \"vit_tiny\"}");
    write_file (dir, "mid.json", "{\"_base\": \"base\", \"_comment\": [1, 2], \"epochs\": 7, "
                                 "\"depth\": 4}");
    write_file (dir, "top.json", "{\"teacher_temp\": 0.05, \"_base\": \"mid\"}");
    write_file (dir, "a.json", "{\"_base\": \"b\"}");
    write_file (dir, "b.json", "{\"_base\": \"a\", \"epochs\": 3}");
    write_file (dir, "self.json", "{\"_base\": \"self\"}");
    write_file (dir, "orphan.json", "{\"_base\": \"nope\"}");
    write_file (dir, "numbase.json", "{\"_base\": 3}");
    write_file (dir, "badval.json", "{\"teacher_temp\": 5}");
    write_file (dir, "onbad.json", "{\"_base\": \"badval\"}");
    write_file (dir, "broken.json", "{\"epochs\": ");
    write_file (dir, "on-default.json", "{\"_base\": \"default\", \"epochs\": 2}");
    write_file (dir, "default.json", "{\"_base\": \"base\"}"); /* shadows the shipped one */
    write_file (dir, "README.txt", "not a preset");
    write_file (dir2, "default.json", "{\"epochs\": 4}");

    /* a chain of three; '_' keys are skipped; the arch rule holds across files */
    dinolab_hparams_init (&hp);
    load_preset_ok (&hp, "top", dirs);
    g_assert_cmpint (hp.epochs, ==, 7);
    g_assert_cmpfloat (hp.lr, ==, 0.001);
    g_assert_cmpfloat (hp.teacher_temp, ==, 0.05);
    assert_arch (&hp, "vit_custom", 192, 4, 3);
    dinolab_hparams_clear (&hp);

    /* the base of a user preset can be a shipped one (found in a later directory) */
    dinolab_hparams_init (&hp);
    {
        const char *src_first[] = { SOURCE_PRESETS_DIR, dir, NULL };
        load_preset_ok (&hp, "on-default", src_first);
        g_assert_cmpint (hp.epochs, ==, 2);
        g_assert_cmpint (hp.img_size, ==, 28);
    }
    /* the first directory wins: dir's default.json shadows the shipped one */
    load_preset_ok (&hp, "default", dirs);
    g_assert_cmpint (hp.epochs, ==, 5);
    /* $DINOLAB_PRESETS_DIR comes before search_dirs */
    g_setenv ("DINOLAB_PRESETS_DIR", dir2, TRUE);
    load_preset_ok (&hp, "default", dirs);
    g_assert_cmpint (hp.epochs, ==, 4);
    g_unsetenv ("DINOLAB_PRESETS_DIR");
    dinolab_hparams_clear (&hp);

    /* failures leave the struct alone */
    dinolab_hparams_init (&hp);
    dinolab_hparams_init (&before);
    path = g_build_filename (dir, "b.json", NULL);
    message = g_strdup_printf ("%s: _base: 'a' makes a loop: a -> b -> a", path);
    assert_fails_with (dinolab_hparams_load_preset (&hp, "a", dirs, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, message);
    g_free (message);
    g_free (path);
    path = g_build_filename (dir, "self.json", NULL);
    message = g_strdup_printf ("%s: _base: 'self' makes a loop: self -> self", path);
    assert_fails_with (dinolab_hparams_load_preset (&hp, "self", dirs, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, message);
    g_free (message);
    g_free (path);

    g_assert_false (dinolab_hparams_load_preset (&hp, "orphan", dirs, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("orphan: %s", error->message);
    g_assert_nonnull (strstr (error->message, "orphan.json: _base: preset 'nope' not found in "));
    g_clear_error (&error);

    path = g_build_filename (dir, "numbase.json", NULL);
    message = g_strdup_printf ("%s: _base: expected the name of a preset (a string)", path);
    assert_fails_with (dinolab_hparams_load_preset (&hp, "numbase", dirs, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, message);
    g_free (message);
    g_free (path);

    path = g_build_filename (dir, "badval.json", NULL);
    message = g_strdup_printf ("%s: teacher_temp: 5 is out of range (0, 1]", path);
    assert_fails_with (dinolab_hparams_load_preset (&hp, "onbad", dirs, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, message);
    g_free (message);
    g_free (path);

    g_assert_false (dinolab_hparams_load_preset (&hp, "broken", dirs, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "broken.json: not valid JSON: "));
    g_clear_error (&error);

    g_assert_false (dinolab_hparams_load_preset (&hp, "nonexistent", dirs, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("unknown preset: %s", error->message);
    g_assert_true (g_str_has_prefix (error->message, "preset 'nonexistent' not found in "));
    g_assert_nonnull (strstr (error->message, SOURCE_PRESETS_DIR));
    g_assert_nonnull (strstr (error->message, "(available: a, ablation-no-centering, "));
    g_clear_error (&error);

    assert_fails_with (dinolab_hparams_load_preset (&hp, "../default", dirs, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT,
                       "preset name '../default' is not valid (letters, digits, '.', '_' and "
                       "'-', not starting with '.')");
    assert_hp_equal (&hp, &before);

    /* '_' keys that presets may carry are refused from a plain config file */
    path = g_build_filename (dir, "top.json", NULL);
    message = g_strdup_printf ("%s: '_base': keys starting with '_' are only allowed in preset "
                               "files", path);
    assert_fails_with (dinolab_hparams_load_file (&hp, path, &error), error,
                       DINOLAB_ERROR_INVALID_INPUT, message);
    g_free (message);
    g_free (path);
    assert_hp_equal (&hp, &before);

    /* listing: every directory, sorted, deduplicated, only *.json */
    {
        char **names = dinolab_hparams_list_presets (dirs);
        text = g_strjoinv (" ", names);
        g_test_message ("presets: %s", text);
        g_assert_true (g_strv_contains ((const char *const *) names, "top"));
        g_assert_true (g_strv_contains ((const char *const *) names, "ablation-no-momentum"));
        g_assert_false (g_strv_contains ((const char *const *) names, "README"));
        g_assert_null (strstr (text, "default default"));
        g_free (text);
        g_strfreev (names);
        names = dinolab_hparams_list_presets (NULL);
        g_assert_nonnull (names);
        g_assert_null (names[0]);
        g_strfreev (names);
    }

    /* a description; none; a missing preset */
    text = dinolab_hparams_describe_preset ("base", dirs, &error);
    g_assert_cmpstr (text, ==, "base");
    g_free (text);
    text = dinolab_hparams_describe_preset ("top", dirs, &error);
    g_assert_cmpstr (text, ==, "");
    g_free (text);
    g_assert_no_error (error);
    g_assert_null (dinolab_hparams_describe_preset ("nonexistent", dirs, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_clear_error (&error);

    dinolab_hparams_clear (&before);
    dinolab_hparams_clear (&hp);
    remove_tree (dir);
    remove_tree (dir2);
    g_free (dir);
    g_free (dir2);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/hparams/defaults", test_defaults);
    g_test_add_func ("/hparams/every-key", test_every_key);
    g_test_add_func ("/hparams/text-forms", test_text_forms);
    g_test_add_func ("/hparams/unknown-keys", test_unknown_keys);
    g_test_add_func ("/hparams/arch-rule", test_arch_rule);
    g_test_add_func ("/hparams/round-trip", test_round_trip);
    g_test_add_func ("/hparams/batch-size-alias", test_batch_size_alias);
    g_test_add_func ("/hparams/json-errors", test_json_errors);
    g_test_add_func ("/hparams/validate", test_validate);
    g_test_add_func ("/hparams/describe", test_describe);
    g_test_add_func ("/hparams/presets/shipped", test_presets_shipped);
    g_test_add_func ("/hparams/presets/chain", test_presets_chain);

    return g_test_run ();
}
