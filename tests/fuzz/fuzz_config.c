/* SPDX-License-Identifier: MIT */
/*
 * The --config file reader: arbitrary bytes as the file. A file is either loaded (and dumps)
 * or refused with one line saying why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fl_config.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    struct fl_config cfg;
    struct fl_buf msg, dump;
    enum fl_err err;

    if (fd < 0) {
        fd = memfd_create("fuzz-config", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    fl_buf_init(&msg, 1024);
    fl_buf_init(&dump, 1 << 16);
    err = fl_config_load(&cfg, path, &msg);
    if (err == FL_OK) {
        fl_config_dump(&cfg, &dump);
        fl_config_free(&cfg);
    } else if (msg.len == 0 || memchr(msg.p, '\n', msg.len)) {
        abort(); /* refused without saying why, or in more than one line */
    }
    fl_buf_free(&msg);
    fl_buf_free(&dump);
    return 0;
}
