/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-step-alloc.c: a training step allocates nothing (issue #7). The test program
 * defines malloc and friends itself, which the dynamic linker lets override libc's
 * for every library in the process, and counts the calls made while whole steps
 * run on every lane. Not under AddressSanitizer, which owns malloc there.
 */
#include <stdlib.h>
#include <string.h>

#include "dinolab/model.h"
#include "dinolab/step.h"
#include "test-util.h"

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING_MALLOC 0
#else
#define COUNTING_MALLOC 1
#endif

#if COUNTING_MALLOC
extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t size);
extern void *__libc_memalign (size_t alignment, size_t size);
extern void __libc_free (void *p);

static volatile gint counting;
static volatile gint n_allocs;

static void
count_ (void)
{
    if (g_atomic_int_get (&counting))
        g_atomic_int_inc (&n_allocs);
}

void *memalign (size_t alignment, size_t size);   /* <malloc.h>'s, not in <stdlib.h> */

void *
malloc (size_t size)
{
    count_ ();
    return __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
    count_ ();
    return __libc_calloc (n, size);
}

void *
realloc (void *p, size_t size)
{
    count_ ();
    return __libc_realloc (p, size);
}

void *
memalign (size_t alignment, size_t size)
{
    count_ ();
    return __libc_memalign (alignment, size);
}

int
posix_memalign (void **p, size_t alignment, size_t size)
{
    count_ ();
    *p = __libc_memalign (alignment, size);
    return *p != NULL ? 0 : 12; /* ENOMEM */
}

void
free (void *p)
{
    __libc_free (p);
}
#endif

#if COUNTING_MALLOC
static void
set_ (DinolabHparams *hp, const char *key, const char *value)
{
    g_autoptr (GError) error = NULL;
    g_assert_true (dinolab_hparams_set (hp, key, value, &error));
}
#endif

static void
test_step_allocates_nothing (void)
{
#if COUNTING_MALLOC
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) student = NULL;
    g_autoptr (DinolabModel) teacher = NULL;
    g_autoptr (DinolabStepper) stepper = NULL;
    int B = 6, n_local = 2, C = 1;
    g_autofree float *globals = g_new (float, 2 * B * C * 12 * 12);
    g_autofree float *locals = g_new (float, n_local * B * C * 8 * 8);
    DinolabStepMetrics m;

    dinolab_hparams_init (&hp);
    set_ (&hp, "patch_size", "4");
    set_ (&hp, "img_size", "12");
    set_ (&hp, "global_crop_size", "12");
    set_ (&hp, "local_crop_size", "8");
    set_ (&hp, "in_chans", "1");
    set_ (&hp, "embed_dim", "32");
    set_ (&hp, "depth", "2");
    set_ (&hp, "num_heads", "2");
    set_ (&hp, "out_dim", "64");
    set_ (&hp, "head_hidden_dim", "48");
    set_ (&hp, "bottleneck_dim", "16");
    set_ (&hp, "drop_path_rate", "0.1");
    set_ (&hp, "threads", "2");
    student = dinolab_model_new (&hp, TRUE, &error);
    teacher = dinolab_model_new (&hp, TRUE, &error);
    g_assert_no_error (error);
    dinolab_model_init_random (student, 1);
    dinolab_model_copy_params (teacher, student);
    fill_uniform (globals, 2 * B * C * 12 * 12, 1, 1.0f);
    fill_uniform (locals, n_local * B * C * 8 * 8, 2, 1.0f);
    stepper = dinolab_stepper_new (&hp, student, teacher, B, n_local, 12, 8, &error);
    g_assert_no_error (error);
    g_assert_cmpint (dinolab_stepper_get_n_threads (stepper), ==, 2);

    /* one step first: lazily initialised library state (BLAS buffers) is not the step's */
    g_assert_true (dinolab_stepper_run (stepper, globals, locals, 0, 10, &m, &error));
    g_atomic_int_set (&n_allocs, 0);
    g_atomic_int_set (&counting, 1);
    for (int it = 1; it < 4; it++)
        g_assert_true (dinolab_stepper_run (stepper, globals, locals, it, 10, &m, NULL));
    g_atomic_int_set (&counting, 0);
    g_test_message ("allocations during 3 steps on 2 lanes: %d", g_atomic_int_get (&n_allocs));
    g_assert_cmpint (g_atomic_int_get (&n_allocs), ==, 0);
#else
    g_test_skip ("AddressSanitizer owns malloc");
#endif
}

/* The counter itself works: the same program sees an allocation when one is made. */
static void
test_counter_counts (void)
{
#if COUNTING_MALLOC
    void *p;
    g_atomic_int_set (&n_allocs, 0);
    g_atomic_int_set (&counting, 1);
    p = g_malloc (64);
    g_atomic_int_set (&counting, 0);
    g_free (p);
    g_assert_cmpint (g_atomic_int_get (&n_allocs), >=, 1);
#else
    g_test_skip ("AddressSanitizer owns malloc");
#endif
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/step/alloc/counter", test_counter_counts);
    g_test_add_func ("/step/alloc/none-in-a-step", test_step_allocates_nothing);
    return g_test_run ();
}
