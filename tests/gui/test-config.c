/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-config.c: the hyperparameter form (DinolabConfigPage) and the
 * preferences window on a real X server (Xvfb). The form has a field for
 * every key of the engine's table; each shipped preset, loaded in the form
 * and read back, gives the JSON the engine gives for it; invalid values
 * (patch_size 5 on 28x28 crops, lr -1, a non-number) are marked at their
 * field with the engine's own message and make the form invalid until fixed;
 * arch and the sizes follow each other as in the engine; locked makes every
 * field insensitive. The preferences window shows and writes GSettings
 * (GSETTINGS_BACKEND=memory) and the run store's path.
 *
 * The expected messages and JSON come from calling the engine directly
 * (dinolab_hparams_*) on the same inputs, not from the page.
 *
 * Screenshots in $DINOLAB_SCREENSHOT_DIR: config-form-top, config-form-arch,
 * config-form-loss, config-invalid, preferences, config-form-de.
 *
 * Needs: GSETTINGS_SCHEMA_DIR=build/data, GSETTINGS_BACKEND=memory,
 * GDK_BACKEND=x11, GTK_A11Y=none, DINOLAB_LOCALEDIR=build/po (meson sets them).
 */
#define G_LOG_DOMAIN "test-config"

#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>
#include <adwaita.h>

#include <dinolab/error.h>
#include <dinolab/hparams.h>

#include "dinolab-config-page.h"
#include "dinolab-preferences-window.h"

#include "gui-test-util.h"

static const char * const preset_dirs[] = { PKGDATADIR "/presets", SOURCE_DATADIR "/presets", NULL };

// ---- finding widgets -------------------------------------------------------------

/* The row (AdwActionRow) holding the control of @key. */
static AdwActionRow *
row_of (GtkWidget *control)
{
    GtkWidget *w = control;

    while (w != NULL && !ADW_IS_ACTION_ROW (w))
        w = gtk_widget_get_parent (w);
    g_assert_nonnull (w);
    return ADW_ACTION_ROW (w);
}

// ---- screenshots and their pixels -------------------------------------------------

/* The error colour (ShotStats.n_marked of the screenshots). */
static gboolean
is_red (int r, int g, int b)
{
    return r >= 160 && r - g >= 80 && r - b >= 80;
}

// ---- the page in a window --------------------------------------------------------

typedef struct {
    GtkWindow         *window;
    GtkScrolledWindow *scrolled;
    DinolabConfigPage *page;
    guint              n_changed;
    guint              n_valid_notify;
} Form;

static void
on_changed (DinolabConfigPage *page G_GNUC_UNUSED, Form *form)
{
    form->n_changed++;
}

static void
on_valid_notify (GObject *object G_GNUC_UNUSED, GParamSpec *pspec G_GNUC_UNUSED, Form *form)
{
    form->n_valid_notify++;
}

/* A window with the page in a scrolled window, as the Train view has it. */
static void
form_open (Form *form)
{
    memset (form, 0, sizeof *form);
    form->window = GTK_WINDOW (gtk_window_new ());
    gtk_window_set_default_size (form->window, 460, 860);
    gtk_window_set_title (form->window, "Hyperparameters");
    form->scrolled = GTK_SCROLLED_WINDOW (gtk_scrolled_window_new ());
    gtk_scrolled_window_set_policy (form->scrolled, GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
    form->page = DINOLAB_CONFIG_PAGE (dinolab_config_page_new ());
    gtk_scrolled_window_set_child (form->scrolled, GTK_WIDGET (form->page));
    gtk_window_set_child (form->window, GTK_WIDGET (form->scrolled));
    g_signal_connect (form->page, "changed", G_CALLBACK (on_changed), form);
    g_signal_connect (form->page, "notify::valid", G_CALLBACK (on_valid_notify), form);
    gtk_window_present (form->window);
    WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (form->page)), 5000);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (form->page)));
    gtk_test_widget_wait_for_draw (GTK_WIDGET (form->window));
}

static void
form_close (Form *form)
{
    gtk_window_destroy (form->window);
    spin_for (50);
}

/* Scrolls so that @widget is at the top of the view. */
static void
form_scroll_to (Form *form, GtkWidget *widget)
{
    GtkAdjustment *vadj = gtk_scrolled_window_get_vadjustment (form->scrolled);
    double x = 0, y = 0;

    g_assert_true (gtk_widget_translate_coordinates (widget, GTK_WIDGET (form->page), 0, 0, &x, &y));
    gtk_adjustment_set_value (vadj, y - 12);
    spin_for (100);
}

static GtkWidget *
form_control (Form *form, const char *key)
{
    GtkWidget *control = find_named (GTK_WIDGET (form->page), key);

    g_assert_nonnull (control);
    return control;
}

/* The engine's JSON for preset @name, or NULL if it does not load. */
static char *
engine_preset_json (const char *name)
{
    g_auto(DinolabHparams) hp = { 0 };

    dinolab_hparams_init (&hp);
    if (!dinolab_hparams_load_preset (&hp, name, preset_dirs, NULL))
        return NULL;
    return dinolab_hparams_to_json (&hp, FALSE);
}

/* The engine's message for preset @preset with @key set to @value: the set's
 * refusal, else validate's. NULL if the engine accepts it. */
static char *
engine_message (const char *preset, const char *key, const char *value)
{
    g_auto(DinolabHparams) hp = { 0 };
    g_autoptr(GError) error = NULL;

    dinolab_hparams_init (&hp);
    g_assert_true (dinolab_hparams_load_preset (&hp, preset, preset_dirs, NULL));
    if (dinolab_hparams_set (&hp, key, value, &error) && dinolab_hparams_validate (&hp, &error))
        return NULL;
    return g_strdup (error->message);
}

// ---- the tests -------------------------------------------------------------------

/* Every key of the engine's table has a field, titled, with the key shown
 * and the engine's description as tooltip; the groups are there. */
static void
test_config_fields (void)
{
    Form form;
    ShotStats stats;
    guint n = dinolab_hparams_get_n_keys ();
    guint i;
    static const char * const groups[] = {
        "Preset", "Data and Crops", "Architecture", "Projection Head",
        "Loss and Temperatures", "Optimizer and Schedules", "Run", NULL
    };

    form_open (&form);
    g_assert_cmpuint (n, >=, 40);
    for (i = 0; i < n; i++) {
        const char *key = dinolab_hparams_get_key (i);
        GtkWidget *control = find_named (GTK_WIDGET (form.page), key);
        AdwActionRow *row;

        if (control == NULL)
            g_error ("no field for key %s", key);
        row = row_of (control);
        g_assert_true (gtk_widget_get_visible (GTK_WIDGET (row)));
        g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, key);  /* reference name shown */
        g_assert_cmpstr (gtk_widget_get_tooltip_text (GTK_WIDGET (row)), ==,
                         dinolab_hparams_describe (key));
        g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), !=, "");
        g_assert_null (dinolab_config_page_get_message (form.page, key));
    }
    for (i = 0; groups[i] != NULL; i++)
        g_assert_nonnull (find_label (GTK_WIDGET (form.page), groups[i]));
    /* the initial preset */
    g_assert_cmpstr (dinolab_config_page_get_preset (form.page), ==, "default");
    g_assert_true (dinolab_config_page_get_valid (form.page));
    {
        /* the drop-down's subtitle is the start of the preset's description */
        g_autofree char *description = dinolab_hparams_describe_preset ("default", preset_dirs, NULL);
        GtkWidget *preset_row = find_preferences_row (GTK_WIDGET (form.page), "Preset");
        const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (preset_row));

        g_assert_nonnull (description);
        g_assert_cmpuint (strlen (subtitle), >, 10);
        g_assert_true (g_str_has_prefix (description, subtitle));
    }

    screenshot_measure (GTK_WIDGET (form.window), "config-form-top", is_red, "red", &stats);
    assert_drawn (&stats);

    /* the preset's whole description, in its expander */
    {
        AdwExpanderRow *about = ADW_EXPANDER_ROW (find_preferences_row (GTK_WIDGET (form.page), "About This Preset"));
        g_autofree char *description = dinolab_hparams_describe_preset ("default", preset_dirs, NULL);

        g_assert_nonnull (about);
        g_assert_nonnull (find_label (GTK_WIDGET (about), description));
        adw_expander_row_set_expanded (about, TRUE);
        spin_for (400);  /* the reveal animation */
        screenshot_measure (GTK_WIDGET (form.window), "config-preset-about", is_red, "red", &stats);
        assert_drawn (&stats);
        adw_expander_row_set_expanded (about, FALSE);
        spin_for (400);
    }

    /* the dataset menu's Fashion-MNIST item sets the spec at once (the file
     * choosers of the other items are not driven here) */
    g_assert_true (dinolab_config_page_set_value (form.page, "dataset", "npy:/tmp/x/train_images.npy"));
    g_assert_null (dinolab_config_page_get_preset (form.page));
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (form.page), "config.choose-dataset",
                                               "s", "fashion-mnist"));
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (form_control (&form, "dataset"))), ==,
                     "fashion-mnist");
    g_assert_true (dinolab_config_page_load_preset (form.page, "default", NULL));
    form_scroll_to (&form, GTK_WIDGET (row_of (form_control (&form, "arch"))));
    screenshot_measure (GTK_WIDGET (form.window), "config-form-arch", is_red, "red", &stats);
    assert_drawn (&stats);
    form_scroll_to (&form, GTK_WIDGET (row_of (form_control (&form, "student_temp"))));
    screenshot_measure (GTK_WIDGET (form.window), "config-form-loss", is_red, "red", &stats);
    assert_drawn (&stats);
    form_close (&form);
}

/* Each shipped preset, loaded in the form and read back, equals the engine's. */
static void
test_config_presets (void)
{
    g_auto(GStrv) names = dinolab_hparams_list_presets (preset_dirs);
    Form form;
    guint i;

    g_assert_cmpuint (g_strv_length (names), >=, 2);
    g_assert_true (g_strv_contains ((const char * const *) names, "default"));
    form_open (&form);
    for (i = 0; names[i] != NULL; i++) {
        g_auto(DinolabHparams) hp = { 0 };
        g_autoptr(GError) error = NULL;
        g_autofree char *want = engine_preset_json (names[i]);
        g_autofree char *got = NULL;
        guint changed_before = form.n_changed;

        g_assert_nonnull (want);
        g_assert_true (dinolab_config_page_load_preset (form.page, names[i], &error));
        g_assert_no_error (error);
        g_assert_cmpstr (dinolab_config_page_get_preset (form.page), ==, names[i]);
        g_assert_cmpuint (form.n_changed, >, changed_before);
        g_assert_true (dinolab_config_page_get_valid (form.page));
        dinolab_hparams_init (&hp);
        g_assert_true (dinolab_config_page_get_hparams (form.page, &hp));
        got = dinolab_hparams_to_json (&hp, FALSE);
        g_assert_cmpstr (got, ==, want);
        g_test_message ("preset %s: %zu bytes of JSON equal", names[i], strlen (got));
    }

    /* an unknown preset: the engine's message, the form unchanged */
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *before = NULL;
        g_autofree char *after = NULL;
        g_auto(DinolabHparams) hp = { 0 };

        dinolab_hparams_init (&hp);
        g_assert_true (dinolab_config_page_get_hparams (form.page, &hp));
        before = dinolab_hparams_to_json (&hp, FALSE);
        g_assert_false (dinolab_config_page_load_preset (form.page, "no-such-preset", &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_assert_nonnull (strstr (error->message, "no-such-preset"));
        g_assert_true (dinolab_config_page_get_hparams (form.page, &hp));
        after = dinolab_hparams_to_json (&hp, FALSE);
        g_assert_cmpstr (after, ==, before);
    }

    /* set_hparams round-trips too and shows "Custom" */
    {
        g_auto(DinolabHparams) hp = { 0 };
        g_auto(DinolabHparams) back = { 0 };
        g_autofree char *want = NULL;
        g_autofree char *got = NULL;

        dinolab_hparams_init (&hp);
        dinolab_hparams_init (&back);
        g_assert_true (dinolab_hparams_load_preset (&hp, "default", preset_dirs, NULL));
        g_assert_true (dinolab_hparams_set (&hp, "teacher_temp", "0.07", NULL));
        g_assert_true (dinolab_hparams_set (&hp, "seed", "9007199254740993", NULL));  /* > 2^53 */
        dinolab_config_page_set_hparams (form.page, &hp);
        g_assert_null (dinolab_config_page_get_preset (form.page));
        g_assert_true (dinolab_config_page_get_hparams (form.page, &back));
        want = dinolab_hparams_to_json (&hp, FALSE);
        got = dinolab_hparams_to_json (&back, FALSE);
        g_assert_cmpstr (got, ==, want);
    }
    form_close (&form);
}

/* Checks that @key's field shows @want_message (the engine's) and the error style. */
static void
assert_marked (Form *form, const char *key, const char *want_message)
{
    GtkWidget *control = form_control (form, key);
    AdwActionRow *row = row_of (control);

    g_assert_cmpstr (dinolab_config_page_get_message (form->page, key), ==, want_message);
    g_assert_true (gtk_widget_has_css_class (control, "error"));
    g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
    g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, want_message);
    g_assert_false (dinolab_config_page_get_valid (form->page));
}

static void
assert_clean (Form *form, const char *key)
{
    GtkWidget *control = form_control (form, key);
    AdwActionRow *row = row_of (control);

    g_assert_null (dinolab_config_page_get_message (form->page, key));
    g_assert_false (gtk_widget_has_css_class (control, "error"));
    g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
    g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, key);
}

static void
test_config_invalid (void)
{
    Form form;
    ShotStats stats;
    guint n;

    form_open (&form);
    g_assert_true (dinolab_config_page_get_valid (form.page));

    /* patch_size 5 on 28x28 crops: a cross-key rule, shown at patch_size */
    {
        g_autofree char *want = engine_message ("default", "patch_size", "5");
        g_auto(DinolabHparams) hp = { 0 };

        g_assert_nonnull (want);
        g_assert_nonnull (strstr (want, "patch_size 5"));
        n = form.n_changed;
        g_assert_false (dinolab_config_page_set_value (form.page, "patch_size", "5"));
        g_assert_cmpuint (form.n_changed, ==, n + 1);
        g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (form_control (&form, "patch_size"))), ==, "5");
        assert_marked (&form, "patch_size", want);
        g_assert_cmpuint (form.n_valid_notify, ==, 1);
        g_assert_null (dinolab_config_page_get_preset (form.page));  /* now custom */
        dinolab_hparams_init (&hp);
        g_assert_false (dinolab_config_page_get_hparams (form.page, &hp));

        form_scroll_to (&form, GTK_WIDGET (row_of (form_control (&form, "arch"))));
        screenshot_measure (GTK_WIDGET (form.window), "config-invalid", is_red, "red", &stats);
        assert_drawn (&stats);
        g_assert_cmpuint (stats.n_marked, >, 100);  /* red: the message and the entry's outline */

        /* an unrelated edit does not move the mark */
        g_assert_true (dinolab_config_page_set_value (form.page, "epochs", "4"));
        assert_marked (&form, "patch_size", want);

        /* fixing it */
        g_assert_true (dinolab_config_page_set_value (form.page, "patch_size", "7"));
        assert_clean (&form, "patch_size");
        g_assert_true (dinolab_config_page_get_valid (form.page));
        g_assert_cmpuint (form.n_valid_notify, ==, 2);
    }

    /* lr -1: the key's own range */
    {
        g_autofree char *want = engine_message ("default", "lr", "-1");

        g_assert_nonnull (want);
        g_assert_false (dinolab_config_page_set_value (form.page, "lr", "-1"));
        assert_marked (&form, "lr", want);
        g_assert_true (dinolab_config_page_set_value (form.page, "lr", "0.001"));
        assert_clean (&form, "lr");
        g_assert_true (dinolab_config_page_get_valid (form.page));
    }

    /* a non-number, in a text field and in a spin button */
    {
        g_autofree char *want_lr = engine_message ("default", "lr", "fast");
        g_autofree char *want_depth = engine_message ("default", "depth", "deep");

        g_assert_nonnull (want_lr);
        g_assert_nonnull (want_depth);
        g_assert_false (dinolab_config_page_set_value (form.page, "lr", "fast"));
        assert_marked (&form, "lr", want_lr);
        g_assert_false (dinolab_config_page_set_value (form.page, "depth", "deep"));
        assert_marked (&form, "depth", want_depth);
        assert_marked (&form, "lr", want_lr);  /* both stay marked */
        g_assert_true (dinolab_config_page_set_value (form.page, "lr", "5e-4"));
        assert_clean (&form, "lr");
        g_assert_false (dinolab_config_page_get_valid (form.page));  /* depth still bad */
        g_assert_true (dinolab_config_page_set_value (form.page, "depth", "4"));
        assert_clean (&form, "depth");
        g_assert_true (dinolab_config_page_get_valid (form.page));
    }

    /* a switch the engine refuses in one position, and typed booleans */
    {
        g_autofree char *want = engine_message ("default", "use_bn_in_head", "true");

        g_assert_nonnull (want);
        g_assert_false (dinolab_config_page_set_value (form.page, "use_bn_in_head", "true"));
        assert_marked (&form, "use_bn_in_head", want);
        g_assert_true (gtk_switch_get_active (GTK_SWITCH (form_control (&form, "use_bn_in_head"))));
        gtk_switch_set_active (GTK_SWITCH (form_control (&form, "use_bn_in_head")), FALSE);  /* the user */
        assert_clean (&form, "use_bn_in_head");
        g_assert_true (dinolab_config_page_set_value (form.page, "use_centering", "no"));
        g_assert_false (gtk_switch_get_active (GTK_SWITCH (form_control (&form, "use_centering"))));
        g_assert_true (dinolab_config_page_get_valid (form.page));
    }

    /* a name the drop-down does not have: marked at the row, which then
     * selects nothing */
    {
        g_autofree char *want = engine_message ("default", "arch", "vit_huge");
        AdwComboRow *arch = ADW_COMBO_ROW (form_control (&form, "arch"));

        g_assert_nonnull (want);
        g_assert_false (dinolab_config_page_set_value (form.page, "arch", "vit_huge"));
        assert_marked (&form, "arch", want);
        g_assert_null (adw_combo_row_get_selected_item (arch));
        adw_combo_row_set_selected (arch, 3);  /* the user picks vit_custom again */
        assert_clean (&form, "arch");
        g_assert_true (dinolab_config_page_get_valid (form.page));
    }

    /* unknown keys are refused; the alias batch_size works */
    g_assert_false (dinolab_config_page_set_value (form.page, "no_such_key", "1"));
    g_assert_null (dinolab_config_page_get_message (form.page, "no_such_key"));
    g_assert_true (dinolab_config_page_set_value (form.page, "batch_size", "32"));
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (form_control (&form, "batch_size_per_gpu"))), ==, "32");

    /* arch and the sizes follow each other, as in the engine */
    {
        g_auto(DinolabHparams) hp = { 0 };
        AdwComboRow *arch = ADW_COMBO_ROW (form_control (&form, "arch"));
        GtkStringObject *item;

        g_assert_true (dinolab_config_page_set_value (form.page, "patch_size", "7"));
        g_assert_true (dinolab_config_page_set_value (form.page, "arch", "vit_tiny"));
        g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (form_control (&form, "embed_dim"))), ==, "192");
        g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (form_control (&form, "depth"))), ==, "12");
        g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (form_control (&form, "num_heads"))), ==, "3");
        g_assert_true (dinolab_config_page_get_valid (form.page));
        dinolab_hparams_init (&hp);
        g_assert_true (dinolab_config_page_get_hparams (form.page, &hp));
        g_assert_cmpstr (hp.arch, ==, "vit_tiny");
        g_assert_cmpint (hp.embed_dim, ==, 192);

        g_assert_true (dinolab_config_page_set_value (form.page, "embed_dim", "96"));
        item = adw_combo_row_get_selected_item (arch);
        g_assert_cmpstr (gtk_string_object_get_string (item), ==, "vit_custom");
        g_assert_true (dinolab_config_page_get_valid (form.page));

        /* embed_dim not divisible by num_heads: marked at the field edited */
        g_assert_false (dinolab_config_page_set_value (form.page, "num_heads", "5"));
        g_assert_nonnull (dinolab_config_page_get_message (form.page, "num_heads"));
        g_assert_nonnull (strstr (dinolab_config_page_get_message (form.page, "num_heads"),
                                  "not divisible by num_heads 5"));
        g_assert_true (dinolab_config_page_set_value (form.page, "num_heads", "4"));
        g_assert_true (dinolab_config_page_get_valid (form.page));
    }

    /* the preset drop-down loads a preset when chosen */
    {
        AdwComboRow *preset_row = ADW_COMBO_ROW (find_preferences_row (GTK_WIDGET (form.page), "Preset"));
        GListModel *model = adw_combo_row_get_model (preset_row);
        guint i;

        g_assert_nonnull (model);
        for (i = 0; i < g_list_model_get_n_items (model); i++) {
            g_autoptr(GtkStringObject) item = g_list_model_get_item (model, i);
            if (strcmp (gtk_string_object_get_string (item), "cifar10-small") == 0)
                break;
        }
        g_assert_cmpuint (i, <, g_list_model_get_n_items (model));
        adw_combo_row_set_selected (preset_row, i);
        g_assert_cmpstr (dinolab_config_page_get_preset (form.page), ==, "cifar10-small");
        g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (form_control (&form, "img_size"))), ==, "32");
        g_assert_true (dinolab_config_page_get_valid (form.page));
    }
    form_close (&form);
}

/* While locked, every field (and the preset drop-down) is insensitive. */
static void
test_config_locked (void)
{
    Form form;
    guint n = dinolab_hparams_get_n_keys ();
    guint i;

    form_open (&form);
    dinolab_config_page_set_locked (form.page, TRUE);
    for (i = 0; i < n; i++)
        g_assert_false (gtk_widget_is_sensitive (form_control (&form, dinolab_hparams_get_key (i))));
    g_assert_false (gtk_widget_is_sensitive (find_preferences_row (GTK_WIDGET (form.page), "Preset")));
    g_assert_false (gtk_widget_is_sensitive (find_named (GTK_WIDGET (form.page), "dataset-menu-button")));
    dinolab_config_page_set_locked (form.page, FALSE);
    for (i = 0; i < n; i++)
        g_assert_true (gtk_widget_is_sensitive (form_control (&form, dinolab_hparams_get_key (i))));
    form_close (&form);
}

/* The preferences window shows the settings, writes them, follows them, and
 * shows the store's path. */
static void
test_preferences (void)
{
    g_autoptr(GSettings) settings = g_settings_new ("org.dinolab.Dinolab");
    GtkWindow *window;
    AdwComboRow *preset_row;
    AdwComboRow *axis_row;
    AdwActionRow *store_row;
    GtkRange *scale;
    GtkStringObject *item;
    g_autofree char *axis = NULL;
    g_autofree char *preset = NULL;
    ShotStats stats;

    g_settings_reset (settings, "default-preset");
    g_settings_reset (settings, "plot-smoothing");
    g_settings_reset (settings, "plot-x-axis");
    window = dinolab_preferences_window_new (NULL, settings);
    g_assert_true (DINOLAB_IS_PREFERENCES_WINDOW (window));
    g_object_set (window, "store-path", "/tmp/dinolab-test/runs.db", NULL);
    gtk_window_present (window);
    WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)), 5000);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));

    preset_row = ADW_COMBO_ROW (find_preferences_row (GTK_WIDGET (window), "Default preset"));
    axis_row = ADW_COMBO_ROW (find_preferences_row (GTK_WIDGET (window), "Horizontal axis"));
    store_row = ADW_ACTION_ROW (find_preferences_row (GTK_WIDGET (window), "Database in use"));
    scale = GTK_RANGE (find_named (GTK_WIDGET (window), "GtkScale"));  /* the class name */
    g_assert_nonnull (preset_row);
    g_assert_nonnull (axis_row);
    g_assert_nonnull (store_row);
    g_assert_true (GTK_IS_SCALE (scale));

    /* the defaults are shown */
    item = adw_combo_row_get_selected_item (preset_row);
    g_assert_cmpstr (gtk_string_object_get_string (item), ==, "default");
    g_assert_cmpuint (adw_combo_row_get_selected (axis_row), ==, 0);
    g_assert_cmpfloat_with_epsilon (gtk_range_get_value (scale), 0.6, 1e-9);
    g_assert_cmpstr (adw_action_row_get_subtitle (store_row), ==, "/tmp/dinolab-test/runs.db");

    screenshot_measure (GTK_WIDGET (window), "preferences", is_red, "red", &stats);
    assert_drawn (&stats);

    /* the widgets write the settings */
    adw_combo_row_set_selected (axis_row, 2);
    axis = g_settings_get_string (settings, "plot-x-axis");
    g_assert_cmpstr (axis, ==, "wall");
    gtk_range_set_value (scale, 0.25);
    g_assert_cmpfloat_with_epsilon (g_settings_get_double (settings, "plot-smoothing"), 0.25, 1e-9);
    gtk_range_set_value (scale, 5.0);  /* clamped to the schema's range by the adjustment */
    g_assert_cmpfloat_with_epsilon (g_settings_get_double (settings, "plot-smoothing"), 0.999, 1e-9);
    {
        GListModel *model = adw_combo_row_get_model (preset_row);
        guint i;
        for (i = 0; i < g_list_model_get_n_items (model); i++) {
            g_autoptr(GtkStringObject) it = g_list_model_get_item (model, i);
            if (strcmp (gtk_string_object_get_string (it), "ablation-no-centering") == 0)
                break;
        }
        g_assert_cmpuint (i, <, g_list_model_get_n_items (model));
        adw_combo_row_set_selected (preset_row, i);
    }
    preset = g_settings_get_string (settings, "default-preset");
    g_assert_cmpstr (preset, ==, "ablation-no-centering");

    /* and follow them */
    g_settings_set_string (settings, "plot-x-axis", "epoch");
    g_assert_cmpuint (adw_combo_row_get_selected (axis_row), ==, 1);
    g_settings_set_double (settings, "plot-smoothing", 0.9);
    g_assert_cmpfloat_with_epsilon (gtk_range_get_value (scale), 0.9, 1e-9);
    g_settings_set_string (settings, "default-preset", "cifar10-small");
    item = adw_combo_row_get_selected_item (preset_row);
    g_assert_cmpstr (gtk_string_object_get_string (item), ==, "cifar10-small");

    dinolab_preferences_window_set_store_path (DINOLAB_PREFERENCES_WINDOW (window), NULL);
    g_assert_null (dinolab_preferences_window_get_store_path (DINOLAB_PREFERENCES_WINDOW (window)));
    g_assert_cmpstr (adw_action_row_get_subtitle (store_row), ==, "None");

    gtk_window_destroy (window);
    spin_for (50);
    /* a setting changed after the window is gone reaches nothing */
    g_settings_set_string (settings, "plot-x-axis", "step");
}

/* Under LANGUAGE=de the form is in German once po/de.po has its strings. */
static void
test_config_translation (void)
{
    Form form;
    ShotStats stats;

    g_setenv ("LANGUAGE", "de", TRUE);
    setlocale (LC_MESSAGES, "");  /* makes gettext drop its cached lookups */
    if (strcmp (_("Data and Crops"), "Data and Crops") == 0) {
        g_unsetenv ("LANGUAGE");
        setlocale (LC_MESSAGES, "");
        g_test_skip ("the German catalog lacks the form's strings (merge de-config.po into po/de.po)");
        return;
    }
    form_open (&form);
    g_assert_nonnull (find_label (GTK_WIDGET (form.page), _("Data and Crops")));
    g_assert_nonnull (find_preferences_row (GTK_WIDGET (form.page), _("Patch size")));
    g_assert_cmpstr (_("Patch size"), !=, "Patch size");
    screenshot_measure (GTK_WIDGET (form.window), "config-form-de", is_red, "red", &stats);
    assert_drawn (&stats);
    form_scroll_to (&form, GTK_WIDGET (row_of (form_control (&form, "student_temp"))));
    screenshot_measure (GTK_WIDGET (form.window), "config-form-de-loss", is_red, "red", &stats);
    assert_drawn (&stats);
    form_close (&form);
    g_unsetenv ("LANGUAGE");
    setlocale (LC_MESSAGES, "");
}

int
main (int argc, char **argv)
{
    init_locale ();
    init_translations ();

    gtk_test_init (&argc, &argv, NULL);  /* makes warnings and criticals fatal */
    adw_init ();

    screenshot_dir_init (NULL);

    g_test_add_func ("/gui/config/fields", test_config_fields);
    g_test_add_func ("/gui/config/presets", test_config_presets);
    g_test_add_func ("/gui/config/invalid", test_config_invalid);
    g_test_add_func ("/gui/config/locked", test_config_locked);
    g_test_add_func ("/gui/config/preferences", test_preferences);
    g_test_add_func ("/gui/config/translation", test_config_translation);

    {
        int ret = g_test_run ();
        g_free (shot_dir);
        return ret;
    }
}
