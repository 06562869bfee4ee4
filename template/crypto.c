/* SPDX-License-Identifier: Apache-2.0 */
/* Digests, base64 and Kestra's encrypt/decrypt functions (OpenSSL EVP). */
#include "template/internal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

int kwg_tpl_f_digest(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const EVP_MD *md = e->s[0] == 'm'                ? EVP_md5()
	                   : strcmp(e->s, "sha1") == 0   ? EVP_sha1()
	                   : strcmp(e->s, "sha256") == 0 ? EVP_sha256()
	                                                 : EVP_sha512();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hn = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	json_t *s;
	int r = kwg_tpl_to_string_value(c, in, e->line, &s);

	if (r < 0)
		return r;
	if (!EVP_Digest(json_string_value(s), json_string_length(s), h, &hn, md, NULL)) {
		json_decref(s);
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s' failed", e->s);
	}
	json_decref(s);
	for (unsigned int i = 0; i < hn; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	*ret = json_string(hex);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_base64(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	bool enc = strcmp(e->s, "base64encode") == 0;
	json_t *s;
	int r = kwg_tpl_to_string_value(c, in, e->line, &s);
	if (r < 0)
		return r;
	size_t n = json_string_length(s);
	const unsigned char *p = (const unsigned char *)json_string_value(s);
	unsigned char *o = malloc(4 * (n / 3 + 1) + 1);
	int k;
	if (!o || n > INT32_MAX / 2) {
		free(o);
		json_decref(s);
		return kwg_tpl_oom();
	}
	/* KESTRA: Pebble Base64Encoder/DecoderFilter (java.util.Base64, UTF-8) */
	if (enc) {
		k = EVP_EncodeBlock(o, p, (int)n);
	} else {
		size_t pad = 0;
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '=' && i + 2 >= n && n % 4 == 0)
				pad++;
			else if (!isalnum(p[i]) && p[i] != '+' && p[i] != '/')
				n = SIZE_MAX;
			if (n == SIZE_MAX)
				break;
		}
		k = n == SIZE_MAX || n % 4 ? -1 : EVP_DecodeBlock(o, p, (int)n);
		if (k >= 0)
			k -= (int)pad;
	}
	json_decref(s);
	if (k < 0) {
		free(o);
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "filter 'base64decode': input is not base64");
	}
	*ret = json_stringn_nocheck((const char *)o, (size_t)k);
	free(o);
	return *ret ? 0 : kwg_tpl_oom();
}

/* ==== encrypt / decrypt (Kestra's EncryptionService: AES/GCM/NoPadding) ==== */

/* java.util.Base64's basic decoder: the standard alphabet, '=' padding optional. NULL when s is
 * not base64; else a new buffer and *n. */
static unsigned char *b64_decode(const char *s, size_t len, size_t *n)
{
	size_t pad = 0, full;
	unsigned char *o;
	char *t;
	int k;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len % 4 == 1 || len > INT32_MAX / 2)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return NULL;
	full = (len + 3) / 4 * 4;
	t = malloc(full + 1);
	o = malloc(full / 4 * 3 + 1);
	if (!t || !o) {
		free(t);
		free(o);
		return NULL;
	}
	memcpy(t, s, len);
	memset(t + len, '=', full - len);
	k = EVP_DecodeBlock(o, (const unsigned char *)t, (int)full);
	free(t);
	if (k < 0) {
		free(o);
		return NULL;
	}
	*n = (size_t)k - (full - len);
	return o;
}

/* Decodes a base64 AES key: 16, 24 or 32 bytes (AES-128/192/256). 0, *ret_key (new; the caller
 * cleanses and frees it), *ret_len and *ret_cipher; -EINVAL with err; -ENOMEM. */
static int aes_key(const char *key, unsigned char **ret_key, size_t *ret_len,
                   const EVP_CIPHER **ret_cipher, struct kwg_err *err)
{
	size_t klen = 0;
	unsigned char *k = b64_decode(key, strlen(key), &klen);
	const EVP_CIPHER *cipher;

	if (!k)
		return kwg_err_set(err, -EINVAL, "the key is not base64");
	cipher = klen == 16   ? EVP_aes_128_gcm()
	         : klen == 24 ? EVP_aes_192_gcm()
	         : klen == 32 ? EVP_aes_256_gcm()
	                      : NULL;
	if (!cipher) {
		OPENSSL_cleanse(k, klen);
		free(k);
		return kwg_err_set(err, -EINVAL, "Invalid AES key length: %zu bytes", klen);
	}
	*ret_key = k;
	*ret_len = klen;
	*ret_cipher = cipher;
	return 0;
}

int kwg_template_check_key(const char *key, struct kwg_err *err)
{
	unsigned char *k = NULL;
	size_t klen = 0;
	const EVP_CIPHER *cipher;
	int r = aes_key(key, &k, &klen, &cipher, err);

	if (r < 0)
		return r;
	OPENSSL_cleanse(k, klen);
	free(k);
	return 0;
}

bool kwg_template_is_encrypted(const json_t *v)
{
	const json_t *type = json_object_get(v, "type");

	return json_is_object(v) && json_object_size(v) == 2 && json_is_string(type) &&
	       strcmp(json_string_value(type), KWG_TEMPLATE_ENCRYPTED_TYPE) == 0 &&
	       json_is_string(json_object_get(v, "value"));
}

int kwg_template_decrypt(const char *key, const char *text, size_t text_len, char **ret,
                         size_t *ret_len, struct kwg_err *err)
{
	unsigned char *k = NULL, *in = NULL, *out = NULL;
	size_t klen = 0, inlen = 0, outlen;
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *cx = NULL;
	json_t *check;
	int r = aes_key(key, &k, &klen, &cipher, err), len;

	if (r < 0)
		return r;
	in = b64_decode(text, text_len, &inlen);
	if (!in) {
		r = kwg_err_set(err, -EINVAL, "the encrypted text is not base64");
		goto out;
	}
	if (inlen < 12 + 16) {
		r = kwg_err_set(
		    err, -EINVAL,
		    "Input data too short to contain an expected tag length of 16bytes");
		goto out;
	}
	out = malloc(inlen + 1);
	cx = EVP_CIPHER_CTX_new();
	if (!out || !cx) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DecryptInit_ex(cx, cipher, NULL, k, in) != 1 ||
	    EVP_DecryptUpdate(cx, out, &len, in + 12, (int)(inlen - 12 - 16)) != 1 ||
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, 16, in + inlen - 16) != 1) {
		r = -ENOMEM;
		goto out;
	}
	outlen = (size_t)len;
	/* A wrong key and a changed text look the same to GCM: the tag does not match. */
	if (EVP_DecryptFinal_ex(cx, out + outlen, &len) != 1) {
		r = kwg_err_set(err, -EINVAL, "Tag mismatch");
		goto out;
	}
	outlen += (size_t)len;
	out[outlen] = '\0';
	check = json_stringn((const char *)out, outlen);
	if (!check) {
		r = kwg_err_set(err, -EINVAL, "the decrypted text is not UTF-8");
		goto out;
	}
	json_decref(check);
	*ret = (char *)steal_ptr(&out);
	*ret_len = outlen;
out:
	EVP_CIPHER_CTX_free(cx);
	OPENSSL_cleanse(k, klen);
	free(k);
	free(in);
	if (out)
		OPENSSL_cleanse(out, inlen + 1);
	free(out);
	return r;
}

static int crypt_err(struct ctx *c, const struct expr *e, int r, const struct kwg_err *err)
{
	return r == -ENOMEM ? r : kwg_tpl_fail(c, r, e->line, "'%s': %s", e->s, err->msg);
}

/* KESTRA: EncryptFunction/DecryptFunction (kestra-io/kestra 58c1ca2): encrypt(key, plaintext),
 * decrypt(key, encrypted); the key is base64 (16, 24 or 32 bytes: AES-128/192/256); the output
 * is base64(IV (12 random bytes) || ciphertext || 16-byte GCM tag); a null or empty text comes
 * back as it is. */
int kwg_tpl_fn_crypt(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	bool enc = e->s[0] == 'e';
	const char *tname = enc ? "plaintext" : "encrypted";
	json_t *k = kwg_tpl_arg(a, 0, "key"), *t = kwg_tpl_arg(a, 1, tname);
	unsigned char *key = NULL, *in = NULL, *out = NULL, *b = NULL;
	size_t klen = 0, inlen, outlen = 0;
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *cx = NULL;
	struct kwg_err err = {{0}};
	int r, len;

	if (!k || !t)
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The '%s' function expects two arguments 'key' and '%s'.", e->s,
		                    tname);
	if (!json_is_string(k) || !(json_is_string(t) || json_is_null(t)))
		return kwg_tpl_fail(c, -EINVAL, e->line, "'%s': 'key' and '%s' must be strings",
		                    e->s, tname);
	if (json_is_null(t) || json_string_length(t) == 0) {
		*ret = json_incref(t);
		return 0;
	}
	if (!enc) {
		char *plain = NULL;
		size_t n = 0;
		r = kwg_template_decrypt(json_string_value(k), json_string_value(t),
		                         json_string_length(t), &plain, &n, &err);
		if (r < 0)
			return crypt_err(c, e, r, &err);
		*ret = json_stringn_nocheck(plain, n);
		free(plain);
		return *ret ? 0 : kwg_tpl_oom();
	}
	r = aes_key(json_string_value(k), &key, &klen, &cipher, &err);
	if (r < 0)
		return crypt_err(c, e, r, &err);
	inlen = json_string_length(t);
	in = malloc(inlen + 12);
	out = malloc(inlen + 12 + 16);
	cx = EVP_CIPHER_CTX_new();
	if (!in || !out || !cx || RAND_bytes(in, 12) != 1) {
		r = kwg_tpl_oom();
		goto out;
	}
	memcpy(in + 12, json_string_value(t), inlen);
	memcpy(out, in, 12);
	if (EVP_EncryptInit_ex(cx, cipher, NULL, key, in) != 1 ||
	    EVP_EncryptUpdate(cx, out + 12, &len, in + 12, (int)inlen) != 1) {
		r = kwg_tpl_oom();
		goto out;
	}
	outlen = 12 + (size_t)len;
	if (EVP_EncryptFinal_ex(cx, out + outlen, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, 16, out + outlen + len) != 1) {
		r = kwg_tpl_oom();
		goto out;
	}
	outlen += (size_t)len + 16;
	b = malloc(4 * (outlen / 3 + 1) + 1);
	if (!b) {
		r = kwg_tpl_oom();
		goto out;
	}
	len = EVP_EncodeBlock(b, out, (int)outlen);
	*ret = json_stringn_nocheck((const char *)b, (size_t)len);
	if (!*ret)
		r = kwg_tpl_oom();
out:
	EVP_CIPHER_CTX_free(cx);
	if (key)
		OPENSSL_cleanse(key, klen);
	free(key);
	free(in);
	free(out);
	free(b);
	return r;
}
