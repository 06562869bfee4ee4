/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's Pebble subset (kestra-script-tasks.md §8, docs/templating.md): renders one template
 * string against a variables map, in strict mode. Expressions, tags, Kestra's filters and
 * functions. The functions that reach outside (secret, read, kv, fileURI) go through hooks the
 * caller supplies. Pure: no I/O, no clock (the caller gives "now"). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Hooks for the functions that need the world outside the renderer. Any hook may be NULL: the
 * function then fails with "function 'NAME' is not available here". Each returns 0 and a new
 * result, or a negative errno with err set (the renderer adds where in the template it was). */
struct kwg_template_hooks {
	void *userdata;
	/* secret('NAME'): the decoded value, new in *ret. -ENOENT when there is no such secret (the
	 * renderer then fails with Kestra's "Cannot find secret for key 'NAME'."). The hook
	 * registers the value for log masking. */
	int (*secret)(void *userdata, const char *name, char **ret, struct kwg_err *err);
	/* read(path): a kestra:// URI or a namespace file path; the bytes, new in *ret (NUL added,
	 * length in *ret_len). */
	int (*read)(void *userdata, const char *path, char **ret, size_t *ret_len,
	            struct kwg_err *err);
	/* kv(key, namespace or NULL, errorOnMissing): the value, new in *ret; -ENOENT when missing,
	 * -ESTALE when expired (the renderer returns null or fails as errorOnMissing says). */
	int (*kv)(void *userdata, const char *key, const char *ns, json_t **ret,
	          struct kwg_err *err);
	/* fileSize, fileExists, isFileEmpty (fn: the function's name, for errors): the size of the
	 * file read(path) would read; -ENOENT when there is no such file. */
	int (*stat)(void *userdata, const char *fn, const char *path, int64_t *ret_size,
	            struct kwg_err *err);
	/* fileURI(path): the kestra:// URI of a namespace file, new in *ret. */
	int (*file_uri)(void *userdata, const char *path, char **ret, struct kwg_err *err);
	/* The jq filter: what kwg_template_jq does, done elsewhere (the worker runs it in a child
	 * process with a deadline). NULL: kwg_template_jq in the calling process, where a program
	 * that never ends never returns. */
	int (*jq)(void *userdata, const char *program, const char *input, char **ret,
	          struct kwg_err *err);
	/* A variable or attribute lookup gave an encrypted value (kwg_template_is_encrypted), obj
	 * (borrowed, part of opts->vars or of a value taken from it): its plaintext, UTF-8 without
	 * NUL, new in *ret, which the renderer uses in place of obj. -ENOENT: leave obj as it is.
	 * NULL hook: every encrypted value is left as it is. Called with encrypted_userdata (not
	 * userdata), so that a caller can add it to hooks it copies from its own caller. */
	int (*encrypted)(void *userdata, const json_t *obj, char **ret, struct kwg_err *err);
	void *encrypted_userdata;
};

struct kwg_template_opts {
	const json_t *vars;                     /* the variables map (borrowed, never changed) */
	const struct kwg_template_hooks *hooks; /* NULL: no hooks */
	int64_t now_us;                         /* now(), in µs since the epoch (UTC) */
	/* Seed for uuid()/id()/randomInt (any value; 0 is fine): kept pure and repeatable. */
	uint64_t seed;
};

/* Largest rendered output, and the deepest render()/renderOnce() nesting. */
#define KWG_TEMPLATE_MAX_OUTPUT (16u << 20)
#define KWG_TEMPLATE_MAX_DEPTH 16

/* Renders tmpl (NUL-terminated). A string without '{' comes back unchanged (copied). Returns 0
 * and *ret (new), or:
 *  -EINVAL: a rendering error as Kestra reports it (an undefined variable: "Unable to find
 *    `x` used in the expression `x.y` at line 1"; a missing secret; a bad filter argument);
 *  -EBADMSG: a syntax error (err names the line and what was expected);
 *  -EOPNOTSUPP: a construct kwg does not support (err names the filter, function, test or tag);
 *  -EMSGSIZE: the output would pass KWG_TEMPLATE_MAX_OUTPUT;
 *  -ENOMEM.
 * err always says which part of tmpl failed. */
int kwg_template_render(const char *tmpl, const struct kwg_template_opts *opts, char **ret,
                        struct kwg_err *err);

/* Runs a jq program (libjq; no environment, no modules) on input (JSON text): 0 and *ret (new),
 * the results as a JSON array; -EINVAL (compile or run error) or -EMSGSIZE (more than 1,000,000
 * results or 16 MiB) with err; -ENOMEM. Not bounded in time. */
int kwg_template_jq(const char *program, const char *input, char **ret, struct kwg_err *err);

/* Kestra's EncryptedString as the executor serialises it: exactly
 * {"type":"io.kestra.datatype:aes_encrypted","value":"<base64>"}. */
#define KWG_TEMPLATE_ENCRYPTED_TYPE "io.kestra.datatype:aes_encrypted"
bool kwg_template_is_encrypted(const json_t *v);

/* Kestra's EncryptionService (AES/GCM/NoPadding), what decrypt() does: key is base64 of 16, 24 or
 * 32 bytes; text (text_len bytes) is base64 of IV (12) || ciphertext || tag (16). 0 and *ret
 * (new, NUL added, *ret_len bytes, valid UTF-8); -EINVAL with err (a bad key, text not base64 or
 * too short, "Tag mismatch": a wrong key or a changed text, plaintext not UTF-8); -ENOMEM. */
int kwg_template_decrypt(const char *key, const char *text, size_t text_len, char **ret,
                         size_t *ret_len, struct kwg_err *err);

/* 0 when key is one kwg_template_decrypt accepts; else -EINVAL with err saying why. */
int kwg_template_check_key(const char *key, struct kwg_err *err);

/* True when s holds something the renderer would act on (a '{'). */
bool kwg_template_needs_render(const char *s);
