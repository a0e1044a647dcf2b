/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* configfs side of a FunctionFS gadget (Documentation/usb/gadget_configfs.rst). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ffs/gadget.h"
#include "util/macro.h"

struct ffs_gadget {
    char *dir;      /* <configfs>/<name> */
    char *function; /* ffs.<instance> */
    char *instance;
    char *mount_dir;
    bool mounted;
    bool bound;
};

static int write_attr(const char *dir, const char *attr, const char *value) {
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int fd = -EBADF;
    size_t n = strlen(value);

    if (asprintf(&path, "%s/%s", dir, attr) < 0)
        return -ENOMEM;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* configfs takes one write; an empty value needs the newline to be a write at all */
    if (n == 0)
        return write(fd, "\n", 1) < 0 ? -errno : 0;
    if (write(fd, value, n) != (ssize_t) n)
        return -errno ?: -EIO;
    return 0;
}

static int write_attr_hex(const char *dir, const char *attr, unsigned value) {
    char buf[16];

    snprintf(buf, sizeof buf, "0x%04x", value);
    return write_attr(dir, attr, buf);
}

static int mkdir_in(const char *dir, const char *sub) {
    _cleanup_free_ char *path = NULL;

    if (asprintf(&path, "%s/%s", dir, sub) < 0)
        return -ENOMEM;
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void rm_in(const char *dir, const char *sub, bool link) {
    _cleanup_free_ char *path = NULL;

    if (asprintf(&path, "%s/%s", dir, sub) < 0)
        return;
    if (link)
        (void) unlink(path);
    else
        (void) rmdir(path);
}

int ffs_gadget_new(const char *configfs, const char *name, const char *instance,
                   const char *mount_dir, ffs_gadget **ret) {
    _cleanup_free_ char *link = NULL, *target = NULL;
    ffs_gadget *g;
    int r;

    g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    if (asprintf(&g->dir, "%s/%s", configfs, name) < 0 ||
        asprintf(&g->function, "ffs.%s", instance) < 0 || !(g->instance = strdup(instance)) ||
        !(g->mount_dir = strdup(mount_dir))) {
        ffs_gadget_free(g);
        return -ENOMEM;
    }
    if (mkdir(g->dir, 0755) < 0) {
        r = -errno;
        ffs_gadget_free(g);
        return r;
    }
    if ((r = mkdir_in(g->dir, "strings/0x409")) < 0 || (r = mkdir_in(g->dir, "configs/c.1")) < 0 ||
        (r = mkdir_in(g->dir, "functions")) < 0) {
        ffs_gadget_free(g);
        return r;
    }
    if (asprintf(&target, "%s/functions/%s", g->dir, g->function) < 0 ||
        asprintf(&link, "%s/configs/c.1/%s", g->dir, g->function) < 0) {
        ffs_gadget_free(g);
        return -ENOMEM;
    }
    if (mkdir(target, 0755) < 0 || symlink(target, link) < 0) {
        r = -errno;
        ffs_gadget_free(g);
        return r;
    }
    /* The STM32's USB is full speed: so is the gadget, whatever dummy_hcd offers. */
    (void) write_attr(g->dir, "max_speed", "full-speed");
    if (mkdir(mount_dir, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        ffs_gadget_free(g);
        return r;
    }
    if (mount(instance, mount_dir, "functionfs", 0, NULL) < 0) {
        r = -errno;
        ffs_gadget_free(g);
        return r;
    }
    g->mounted = true;
    *ret = g;
    return 0;
}

ffs_gadget *ffs_gadget_free(ffs_gadget *g) {
    if (!g)
        return NULL;
    if (g->bound)
        (void) ffs_gadget_unbind(g);
    if (g->mounted)
        (void) umount(g->mount_dir);
    if (g->mount_dir)
        (void) rmdir(g->mount_dir);
    if (g->dir) {
        /* configfs wants the tree taken down leaves first */
        if (g->function) {
            _cleanup_free_ char *link = NULL, *fn = NULL;
            if (asprintf(&link, "configs/c.1/%s", g->function) >= 0)
                rm_in(g->dir, link, true);
            if (asprintf(&fn, "functions/%s", g->function) >= 0)
                rm_in(g->dir, fn, false);
        }
        rm_in(g->dir, "configs/c.1", false);
        rm_in(g->dir, "strings/0x409", false);
        (void) rmdir(g->dir);
    }
    free(g->dir);
    free(g->function);
    free(g->instance);
    free(g->mount_dir);
    free(g);
    return NULL;
}

const char *ffs_gadget_mount_dir(const ffs_gadget *g) {
    return g->mount_dir;
}

static unsigned le16(const uint8_t *p) {
    return (unsigned) p[0] | (unsigned) p[1] << 8;
}

int ffs_gadget_set_identity(ffs_gadget *g, const uint8_t device_descriptor[18],
                            const char *manufacturer, const char *product, const char *serial,
                            uint8_t attributes, uint8_t max_power) {
    _cleanup_free_ char *strings = NULL, *config = NULL;
    char buf[16];
    int r;

    if (g->bound)
        return -EBUSY;
    if (asprintf(&strings, "%s/strings/0x409", g->dir) < 0 ||
        asprintf(&config, "%s/configs/c.1", g->dir) < 0)
        return -ENOMEM;
    if ((r = write_attr_hex(g->dir, "bcdUSB", le16(device_descriptor + 2))) < 0 ||
        (r = write_attr_hex(g->dir, "bDeviceClass", device_descriptor[4])) < 0 ||
        (r = write_attr_hex(g->dir, "bDeviceSubClass", device_descriptor[5])) < 0 ||
        (r = write_attr_hex(g->dir, "bDeviceProtocol", device_descriptor[6])) < 0 ||
        (r = write_attr_hex(g->dir, "idVendor", le16(device_descriptor + 8))) < 0 ||
        (r = write_attr_hex(g->dir, "idProduct", le16(device_descriptor + 10))) < 0 ||
        (r = write_attr_hex(g->dir, "bcdDevice", le16(device_descriptor + 12))) < 0)
        return r;
    if ((r = write_attr(strings, "manufacturer", manufacturer ?: "")) < 0 ||
        (r = write_attr(strings, "product", product ?: "")) < 0 ||
        (r = write_attr(strings, "serialnumber", serial ?: "")) < 0)
        return r;
    snprintf(buf, sizeof buf, "0x%02x", attributes);
    if ((r = write_attr(config, "bmAttributes", buf)) < 0)
        return r;
    snprintf(buf, sizeof buf, "%u", max_power * 2u); /* configfs takes mA */
    return write_attr(config, "MaxPower", buf);
}

int ffs_gadget_bind(ffs_gadget *g, const char *udc) {
    int r;

    if (g->bound)
        return 0;
    r = write_attr(g->dir, "UDC", udc);
    if (r < 0)
        return r;
    g->bound = true;
    return 0;
}

int ffs_gadget_unbind(ffs_gadget *g) {
    int r;

    if (!g->bound)
        return 0;
    r = write_attr(g->dir, "UDC", "");
    if (r < 0 && r != -ENODEV)
        return r;
    g->bound = false;
    return 0;
}

bool ffs_gadget_bound(const ffs_gadget *g) {
    return g->bound;
}
