/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * data.h: datasets, DINO's multi-crop augmentation and the batch loader.
 *
 * Data flows one way: a DinolabDataset decodes items (8-bit pixels, labels), a
 * DinolabAugment turns one item into its 2 + local_crops_number normalised views
 * (DINO.md 3), and a DinolabLoader runs the augmentation on worker threads and hands
 * the trainer whole batches in the engine's crop-major layout.
 *
 * Datasets are named by a short spec a person can type (the `dataset` hyperparameter):
 *   fashion-mnist              Debian's dataset-fashion-mnist, found where it installs
 *   mnist:/dir  kmnist:/dir  emnist:/dir  fashion-mnist:/dir
 *                              a folder with the four standard IDX files (raw or .gz)
 *   idx:/path/train-images-idx3-ubyte.gz
 *                              one IDX image file; labels and the test split are found
 *                              beside it by the standard names
 *   cifar10:/dir  cifar100:/dir  the binary batches (data_batch_N.bin, test_batch.bin /
 *                              train.bin, test.bin); cifar100 uses fine labels,
 *                              cifar100-coarse:/dir the coarse ones
 *   folder:/dir                torchvision ImageFolder (dir/<class>/<file>) or a flat
 *                              folder of images (no labels); anything gdk-pixbuf reads
 *   npy:/path/images.npy       uint8 N x H x W or N x H x W x C, labels.npy beside it
 *                              if present
 * The split (train or test) is chosen where the dataset is opened. Determinism: every
 * random choice of the augmentation is a function of (seed, epoch, item index, view).
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "dinolab/hparams.h"

G_BEGIN_DECLS

// ----------------------------------------------------------------------------
// images and datasets

/* An 8-bit image, channel-interleaved (H x W x C, C = 1 or 3). */
typedef struct {
    int     width, height, channels;
    guint8 *pixels;   /* owned: height * width * channels bytes */
} DinolabImage;

void dinolab_image_clear (DinolabImage *img);   /* frees pixels, zeroes the struct */

typedef enum {
    DINOLAB_SPLIT_TRAIN,
    DINOLAB_SPLIT_TEST,
} DinolabSplit;

typedef struct DinolabDataset DinolabDataset;

/* dinolab_dataset_open:
 * Opens the dataset named by @spec (see above) for @split. Reads what it must to
 * know its size and labels; image folders are scanned, not decoded. Errors
 * (DINOLAB_ERROR_INVALID_INPUT for a bad spec, IO for a missing path, CORRUPT for a
 * bad file) name the file or spec. Returns a new dataset; free with
 * dinolab_dataset_free(). Thread-safe for concurrent dinolab_dataset_get_image(). */
DinolabDataset *dinolab_dataset_open          (const char     *spec,
                                               DinolabSplit    split,
                                               GError        **error);
void            dinolab_dataset_free          (DinolabDataset *ds);

const char     *dinolab_dataset_get_spec      (const DinolabDataset *ds);
/* A one-line human description, e.g. "Fashion-MNIST train, 60000 images 28x28, 10 classes". */
const char     *dinolab_dataset_get_description (const DinolabDataset *ds);
gsize           dinolab_dataset_get_size      (const DinolabDataset *ds);
/* Channels of the images the dataset yields (1 for IDX and single-channel npy, else 3). */
int             dinolab_dataset_get_channels  (const DinolabDataset *ds);
/* Native image size; 0 x 0 when the images of a folder differ in size. */
int             dinolab_dataset_get_width     (const DinolabDataset *ds);
int             dinolab_dataset_get_height    (const DinolabDataset *ds);
/* Classes: 0 when there are no labels. Names are owned by the dataset. */
guint           dinolab_dataset_get_n_classes (const DinolabDataset *ds);
const char     *dinolab_dataset_get_class_name (const DinolabDataset *ds, guint c);
/* Files of an image folder left out because they could not be read (0 otherwise). */
guint           dinolab_dataset_get_n_skipped (const DinolabDataset *ds);
/* Label of item @i, or -1 when the dataset has none. */
int             dinolab_dataset_get_label     (const DinolabDataset *ds, gsize i);

/* dinolab_dataset_get_image:
 * Decodes item @i into @out (dinolab_image_clear() it afterwards). A folder image that
 * fails to decode returns FALSE with DINOLAB_ERROR_CORRUPT naming the file. (Folders
 * are checked when opened: files gdk-pixbuf cannot read are left out and counted.) */
gboolean        dinolab_dataset_get_image     (DinolabDataset *ds,
                                               gsize           i,
                                               DinolabImage   *out,
                                               GError        **error);

/* dinolab_dataset_get_normalization:
 * Per-channel mean and std in [0, 1] units, for @channels entries: ImageNet's
 * constants for RGB image folders, otherwise computed over the train split once and
 * cached beside the run store (keyed by the spec and file sizes). */
gboolean        dinolab_dataset_get_normalization (DinolabDataset *ds,
                                                   float          *mean,
                                                   float          *std,
                                                   GError        **error);

/* dinolab_dataset_get_eval_view:
 * The evaluation view of item @i: no augmentation, resized (bicubic, antialiased when
 * shrinking) so the shorter side is @size and centre-cropped to @size x @size, then
 * normalised: @out receives channels * size * size floats (C x H x W). */
gboolean        dinolab_dataset_get_eval_view (DinolabDataset *ds,
                                               gsize           i,
                                               int             size,
                                               float          *out,
                                               GError        **error);

// ----------------------------------------------------------------------------
// multi-crop augmentation (DINO.md 3)

typedef struct DinolabAugment DinolabAugment;

/* Views from @hp: global_crop_size, local_crop_size, global_crops_scale,
 * local_crops_scale, local_crops_number, seed; @channels and the normalisation
 * @mean / @std (channels entries each) from the dataset. */
DinolabAugment *dinolab_augment_new   (const DinolabHparams *hp,
                                       int                   channels,
                                       const float          *mean,
                                       const float          *std);
void            dinolab_augment_free  (DinolabAugment       *aug);
int             dinolab_augment_get_n_views (const DinolabAugment *aug);  /* 2 + local_crops_number */

/* dinolab_augment_views:
 * Writes the views of @img, normalised, C x S x S each: views[0], views[1] the global
 * crops (S = global_crop_size), views[2 ..] the local crops (S = local_crop_size).
 * Every random choice depends only on (seed, @epoch, @index, view). Thread-safe. */
void            dinolab_augment_views (const DinolabAugment *aug,
                                       const DinolabImage   *img,
                                       guint64               epoch,
                                       guint64               index,
                                       float *const         *views);

// ----------------------------------------------------------------------------
// loader

/* One batch, in the engine's crop-major layout. Owned by the loader. */
typedef struct {
    int          epoch;
    int          iteration;     /* within the epoch */
    int          batch;         /* B */
    const float *globals;       /* [2, B, C, G, G]: g1 batch, then g2 batch */
    const float *locals;        /* [n_local, B, C, L, L], NULL when n_local is 0 */
    const gsize *indices;       /* [B] dataset items of the batch */
} DinolabBatch;

typedef struct DinolabLoader DinolabLoader;

/* dinolab_loader_new:
 * Batches of batch_size_per_gpu items of @ds (borrowed), shuffled per epoch from
 * hp->seed, drop_last as the reference. @n_threads workers (>= 1) prepare at most two
 * batches ahead. Fails (INVALID_INPUT) if the dataset has fewer items than a batch or
 * the crops do not fit its images. */
DinolabLoader  *dinolab_loader_new    (DinolabDataset       *ds,
                                       const DinolabHparams *hp,
                                       const float          *mean,
                                       const float          *std,
                                       int                   n_threads,
                                       GError              **error);
/* Stops the workers (also mid-epoch) and frees everything. */
void            dinolab_loader_free   (DinolabLoader        *loader);
int             dinolab_loader_get_steps_per_epoch (const DinolabLoader *loader);
/* Positions the loader so the next batch is (@epoch, @iteration) (start or resume). */
void            dinolab_loader_seek   (DinolabLoader        *loader,
                                       int                   epoch,
                                       int                   iteration);
/* dinolab_loader_next:
 * Waits for the next batch and returns it (valid until the next call or
 * dinolab_loader_free()), moving on to the next epoch after the last batch of one.
 * Returns NULL with @error when @cancellable fires or an item cannot be read. */
const DinolabBatch *dinolab_loader_next (DinolabLoader      *loader,
                                         GCancellable       *cancellable,
                                         GError            **error);
/* Seconds the last dinolab_loader_next() waited for a batch (loader-bound time). */
double          dinolab_loader_get_last_wait (const DinolabLoader *loader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabDataset, dinolab_dataset_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabAugment, dinolab_augment_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabLoader, dinolab_loader_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DinolabImage, dinolab_image_clear)

G_END_DECLS
