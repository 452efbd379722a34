/*
 * hmac_oracle.h: SHA-256 and HMAC-SHA256 for the C tests, computed by libgcrypt (GnuPG's
 * cryptographic library; Debian libgcrypt20-dev), so that a mac or a JWT signature is
 * recomputed by code that shares nothing with the library's (Rust, ring). Header-only; the
 * tests link libgcrypt (cmake/AblyAuthTestOracles.cmake). Include "test_util.h" first.
 *
 *   oracle_sha256(data, len, digest)                      false when libgcrypt fails
 *   oracle_hmac_sha256(key, key_len, data, len, digest)   false when libgcrypt fails
 *   oracle_self_check()   checks the oracle against the published FIPS 180-4 and RFC 4231
 *                         vectors (CHECKs): call it first in main(), so that the oracle is
 *                         proven before it judges the library, and libgcrypt is initialised
 *                         before any thread could use it
 */
#ifndef ABLY_AUTH_TEST_HMAC_ORACLE_H
#define ABLY_AUTH_TEST_HMAC_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <gcrypt.h>

#include "test_util.h"

#define ORACLE_SHA256_SIZE 32

/* libgcrypt wants to be initialised once, before any other call (its manual, "Initializing
 * the library"): the version check (against the header's version) sets it up; a test oracle
 * holds no secrets, so no secure memory; then initialisation is declared finished. */
TU_UNUSED
static bool oracle_ready(void) {
    static int state; /* 0 not yet, 1 ready, -1 failed */
    if (state == 0) {
        state = -1;
        if (gcry_check_version(GCRYPT_VERSION) == NULL) {
            fprintf(stderr, "hmac_oracle: libgcrypt %s is older than its header (%s)\n",
                    gcry_check_version(NULL), GCRYPT_VERSION);
        } else if (gcry_control(GCRYCTL_DISABLE_SECMEM, 0) != 0 ||
                   gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0) != 0) {
            fprintf(stderr, "hmac_oracle: libgcrypt initialisation failed\n");
        } else if (gcry_md_test_algo(GCRY_MD_SHA256) != 0 ||
                   gcry_md_get_algo_dlen(GCRY_MD_SHA256) != ORACLE_SHA256_SIZE) {
            fprintf(stderr, "hmac_oracle: libgcrypt has no usable SHA-256\n");
        } else {
            state = 1;
        }
    }
    return state == 1;
}

TU_UNUSED
static bool oracle_sha256(const void *data, size_t len, uint8_t digest[ORACLE_SHA256_SIZE]) {
    memset(digest, 0, ORACLE_SHA256_SIZE);
    if (!oracle_ready()) {
        return false;
    }
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest, data, len);
    return true;
}

TU_UNUSED
static bool oracle_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                               uint8_t digest[ORACLE_SHA256_SIZE]) {
    memset(digest, 0, ORACLE_SHA256_SIZE);
    gcry_md_hd_t md = NULL;
    if (!oracle_ready() || gcry_md_open(&md, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC) != 0) {
        return false;
    }
    bool ok = gcry_md_setkey(md, key, key_len) == 0;
    if (ok) {
        gcry_md_write(md, data, len);
        const unsigned char *mac = gcry_md_read(md, GCRY_MD_SHA256);
        ok = mac != NULL;
        if (ok) {
            memcpy(digest, mac, ORACLE_SHA256_SIZE);
        }
    }
    gcry_md_close(md);
    return ok;
}

/* Lower-case hex of `len` bytes into `out` (2 * len + 1 bytes). */
TU_UNUSED
static void oracle_hex(const uint8_t *bytes, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

TU_UNUSED
static void oracle_check_sha256(const char *label, const void *data, size_t len,
                                const char *hex) {
    uint8_t digest[ORACLE_SHA256_SIZE];
    char got[2 * ORACLE_SHA256_SIZE + 1];
    bool ok = oracle_sha256(data, len, digest);
    oracle_hex(digest, sizeof digest, got);
    CHECK(ok && str_eq(got, hex), "oracle: SHA-256(%s) = %s", label, got);
}

TU_UNUSED
static void oracle_check_hmac(const char *label, const void *key, size_t key_len,
                              const void *data, size_t len, const char *hex) {
    uint8_t digest[ORACLE_SHA256_SIZE];
    char got[2 * ORACLE_SHA256_SIZE + 1];
    bool ok = oracle_hmac_sha256(key, key_len, data, len, digest);
    oracle_hex(digest, sizeof digest, got);
    CHECK(ok && str_eq(got, hex), "oracle: HMAC-SHA256 %s = %s", label, got);
}

TU_UNUSED
static void oracle_self_check(void) {
    bool ready = oracle_ready();
    CHECK(ready, "oracle: libgcrypt %s initialised", gcry_check_version(NULL));

    /* FIPS 180-4 examples (NIST CSRC "SHA256.pdf"). */
    oracle_check_sha256("\"abc\"", "abc", 3,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    oracle_check_sha256("\"\"", "", 0,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    static const char two_blocks[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    oracle_check_sha256("448-bit message", two_blocks, strlen(two_blocks),
                        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    /* RFC 4231 test case 1: a 20-byte key of 0x0b. */
    uint8_t key1[20];
    memset(key1, 0x0b, sizeof key1);
    oracle_check_hmac("RFC 4231 case 1", key1, sizeof key1, "Hi There", 8,
                      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* RFC 4231 test case 2: a key shorter than the block. */
    oracle_check_hmac("RFC 4231 case 2", "Jefe", 4, "what do ya want for nothing?", 28,
                      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 6: a 131-byte key, hashed first. */
    uint8_t key6[131];
    memset(key6, 0xaa, sizeof key6);
    static const char data6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    oracle_check_hmac("RFC 4231 case 6", key6, sizeof key6, data6, strlen(data6),
                      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

#endif /* ABLY_AUTH_TEST_HMAC_ORACLE_H */
