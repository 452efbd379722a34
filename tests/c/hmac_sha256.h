/*
 * hmac_sha256.h: a compact SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), header-only.
 *
 * A test oracle, written independently of the library's Rust code, so that the C tests can
 * recompute a mac or a JWT signature themselves. It favours clarity over speed and is not
 * meant for production use (no constant-time comparison, no wiping of key material).
 *
 *   sha256(data, len, digest)
 *   hmac_sha256(key, key_len, data, len, digest)
 */
#ifndef ABLY_AUTH_TEST_HMAC_SHA256_H
#define ABLY_AUTH_TEST_HMAC_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Not every test uses every function. */
#if defined(__GNUC__) || defined(__clang__)
#define SHA256_UNUSED __attribute__((unused))
#else
#define SHA256_UNUSED
#endif

#define SHA256_BLOCK_SIZE 64
#define SHA256_DIGEST_SIZE 32

typedef struct sha256_ctx {
    uint32_t state[8];        /* H0..H7 */
    uint64_t total_len;       /* message length so far, in bytes */
    uint8_t block[SHA256_BLOCK_SIZE];
    size_t block_len;         /* bytes waiting in `block` */
} sha256_ctx;

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes. */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

SHA256_UNUSED
static uint32_t sha256_rotr(uint32_t x, unsigned n) {
    return (x >> n) | (x << (32 - n));
}

/* FIPS 180-4 §6.2.2: process one 512-bit block. */
SHA256_UNUSED
static void sha256_compress(uint32_t state[8], const uint8_t block[SHA256_BLOCK_SIZE]) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++) {
        w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 |
               (uint32_t)block[4 * t + 2] << 8 | (uint32_t)block[4 * t + 3];
    }
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = sha256_rotr(w[t - 15], 7) ^ sha256_rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = sha256_rotr(w[t - 2], 17) ^ sha256_rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }

    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; t++) {
        uint32_t big_s1 = sha256_rotr(e, 6) ^ sha256_rotr(e, 11) ^ sha256_rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + big_s1 + ch + sha256_k[t] + w[t];
        uint32_t big_s0 = sha256_rotr(a, 2) ^ sha256_rotr(a, 13) ^ sha256_rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = big_s0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

SHA256_UNUSED
static void sha256_init(sha256_ctx *ctx) {
    /* FIPS 180-4 §5.3.3: the initial hash value. */
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->state, initial, sizeof initial);
    ctx->total_len = 0;
    ctx->block_len = 0;
}

SHA256_UNUSED
static void sha256_update(sha256_ctx *ctx, const void *data, size_t len) {
    const uint8_t *p = (const uint8_t *)data;
    ctx->total_len += len;
    while (len > 0) {
        size_t take = SHA256_BLOCK_SIZE - ctx->block_len;
        if (take > len) {
            take = len;
        }
        memcpy(ctx->block + ctx->block_len, p, take);
        ctx->block_len += take;
        p += take;
        len -= take;
        if (ctx->block_len == SHA256_BLOCK_SIZE) {
            sha256_compress(ctx->state, ctx->block);
            ctx->block_len = 0;
        }
    }
}

SHA256_UNUSED
static void sha256_final(sha256_ctx *ctx, uint8_t digest[SHA256_DIGEST_SIZE]) {
    /* FIPS 180-4 §5.1.1: append 0x80, zeros up to 56 mod 64, then the bit length (64-bit BE). */
    uint64_t bit_len = ctx->total_len * 8;
    static const uint8_t pad[SHA256_BLOCK_SIZE] = {0x80};
    size_t pad_len = ctx->block_len < 56 ? 56 - ctx->block_len : 120 - ctx->block_len;
    sha256_update(ctx, pad, pad_len);
    uint8_t length[8];
    for (int i = 0; i < 8; i++) {
        length[i] = (uint8_t)(bit_len >> (56 - 8 * i));
    }
    sha256_update(ctx, length, sizeof length);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(ctx->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->state[i];
    }
}

SHA256_UNUSED
static void sha256(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_SIZE]) {
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, data, len);
    sha256_final(&ctx, digest);
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)), with K hashed first when it is longer
 * than a block and zero-padded to a block. */
SHA256_UNUSED
static void hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t digest[SHA256_DIGEST_SIZE]) {
    uint8_t k[SHA256_BLOCK_SIZE] = {0};
    if (key_len > SHA256_BLOCK_SIZE) {
        sha256(key, key_len, k);
    } else if (key_len > 0) {
        memcpy(k, key, key_len);
    }

    uint8_t pad[SHA256_BLOCK_SIZE];
    uint8_t inner[SHA256_DIGEST_SIZE];
    sha256_ctx ctx;

    for (int i = 0; i < SHA256_BLOCK_SIZE; i++) {
        pad[i] = k[i] ^ 0x36;
    }
    sha256_init(&ctx);
    sha256_update(&ctx, pad, sizeof pad);
    sha256_update(&ctx, data, len);
    sha256_final(&ctx, inner);

    for (int i = 0; i < SHA256_BLOCK_SIZE; i++) {
        pad[i] = k[i] ^ 0x5c;
    }
    sha256_init(&ctx);
    sha256_update(&ctx, pad, sizeof pad);
    sha256_update(&ctx, inner, sizeof inner);
    sha256_final(&ctx, digest);
}

#endif /* ABLY_AUTH_TEST_HMAC_SHA256_H */
