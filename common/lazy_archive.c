/* SPDX-License-Identifier: Apache-2.0 */
/* libarchive, loaded at the first Docker task that moves files in or out (runner/docker.c): each
 * function below loads it and forwards. A missing library: the constructors return NULL, the
 * others are unreachable without their objects (the frees accept NULL). */
#include "common/lazylib.h"

#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#define KWG_ARCHIVE_FUNCS(F, V)                                                                    \
	F(struct archive *, archive_read_new, (void), (), NULL)                                    \
	F(struct archive *, archive_write_new, (void), (), NULL)                                   \
	F(struct archive *, archive_write_disk_new, (void), (), NULL)                              \
	F(int, archive_read_free, (struct archive * a), (a), ARCHIVE_OK)                           \
	F(int, archive_write_free, (struct archive * a), (a), ARCHIVE_OK)                          \
	F(int, archive_read_support_format_tar, (struct archive * a), (a), ARCHIVE_FATAL)          \
	F(int, archive_read_open_memory, (struct archive * a, const void *buf, size_t size),       \
	  (a, buf, size), ARCHIVE_FATAL)                                                           \
	F(int, archive_read_next_header, (struct archive * a, struct archive_entry * *e), (a, e),  \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_read_data_block,                                                            \
	  (struct archive * a, const void **buf, size_t *size, la_int64_t *offset),                \
	  (a, buf, size, offset), ARCHIVE_FATAL)                                                   \
	F(int, archive_write_disk_set_options, (struct archive * a, int flags), (a, flags),        \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_write_set_format_pax_restricted, (struct archive * a), (a), ARCHIVE_FATAL)  \
	F(int, archive_write_open,                                                                 \
	  (struct archive * a, void *data, archive_open_callback *o, archive_write_callback *w,    \
	   archive_close_callback *c),                                                             \
	  (a, data, o, w, c), ARCHIVE_FATAL)                                                       \
	F(int, archive_write_header, (struct archive * a, struct archive_entry * e), (a, e),       \
	  ARCHIVE_FATAL)                                                                           \
	F(la_ssize_t, archive_write_data, (struct archive * a, const void *buf, size_t size),      \
	  (a, buf, size), ARCHIVE_FATAL)                                                           \
	F(la_ssize_t, archive_write_data_block,                                                    \
	  (struct archive * a, const void *buf, size_t size, la_int64_t offset),                   \
	  (a, buf, size, offset), ARCHIVE_FATAL)                                                   \
	F(int, archive_write_finish_entry, (struct archive * a), (a), ARCHIVE_FATAL)               \
	F(int, archive_write_close, (struct archive * a), (a), ARCHIVE_FATAL)                      \
	F(const char *, archive_error_string, (struct archive * a), (a), NULL)                     \
	F(struct archive_entry *, archive_entry_new, (void), (), NULL)                             \
	V(archive_entry_free, (struct archive_entry * e), (e))                                     \
	V(archive_entry_copy_stat, (struct archive_entry * e, const struct stat *st), (e, st))     \
	F(mode_t, archive_entry_filetype, (struct archive_entry * e), (e), 0)                      \
	F(const char *, archive_entry_pathname, (struct archive_entry * e), (e), NULL)             \
	V(archive_entry_set_pathname, (struct archive_entry * e, const char *p), (e, p))           \
	V(archive_entry_set_perm, (struct archive_entry * e, mode_t m), (e, m))                    \
	V(archive_entry_set_uid, (struct archive_entry * e, la_int64_t id), (e, id))               \
	V(archive_entry_set_gid, (struct archive_entry * e, la_int64_t id), (e, id))

enum { KWG_ARCHIVE_FUNCS(KWG_LAZY_IDX_F, KWG_LAZY_IDX_V) N_FUNCS };
static const char *const names[] = {KWG_ARCHIVE_FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V)};
static void *fns[N_FUNCS];

struct kwg_lazylib kwg_lazy_archive = {
    .soname = "libarchive.so.13",
    .needed_by = "the Docker runner (input and output files)",
    .names = names,
    .fns = fns,
    .n = N_FUNCS,
};

#define STUB_F(ret, name, params, args, fail)                                                      \
	KWG_LAZY_STUB(kwg_lazy_archive, ret, name, params, args, fail)
#define STUB_V(name, params, args) KWG_LAZY_VSTUB(kwg_lazy_archive, name, params, args)
KWG_ARCHIVE_FUNCS(STUB_F, STUB_V)
