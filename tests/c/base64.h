/*
 * base64.h: RFC 4648 Base64 for the C tests (header-only).
 *
 *   base64_encode(data, len, url, out, out_size)   standard alphabet with padding (url false)
 *                                                  or base64url without padding (url true)
 *   base64url_decode(text, len, out, out_size)     strict base64url without padding
 */
#ifndef ABLY_AUTH_TEST_BASE64_H
#define ABLY_AUTH_TEST_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define BASE64_UNUSED __attribute__((unused))
#else
#define BASE64_UNUSED
#endif

static const char base64_std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char base64_url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * Encode `len` bytes into `out` (NUL-terminated). Returns the length of the text, or 0
 * when `out_size` is too small.
 */
BASE64_UNUSED
static size_t base64_encode(const uint8_t *data, size_t len, bool url, char *out,
                            size_t out_size) {
    const char *alphabet = url ? base64_url_alphabet : base64_std_alphabet;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t group = (uint32_t)data[i] << 16;
        if (left > 1) {
            group |= (uint32_t)data[i + 1] << 8;
        }
        if (left > 2) {
            group |= data[i + 2];
        }
        /* 1 byte gives 2 characters, 2 bytes 3, 3 bytes 4; padding fills up to 4. */
        size_t chars = left >= 3 ? 4 : left + 1;
        size_t width = url ? chars : 4;
        if (n + width + 1 > out_size) {
            return 0;
        }
        for (size_t c = 0; c < 4; c++) {
            if (c < chars) {
                out[n++] = alphabet[(group >> (18 - 6 * c)) & 0x3f];
            } else if (!url) {
                out[n++] = '=';
            }
        }
    }
    if (n + 1 > out_size) {
        return 0;
    }
    out[n] = '\0';
    return n;
}

/* The 6-bit value of a base64url character, or -1. */
BASE64_UNUSED
static int base64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/*
 * Decode `len` characters of unpadded base64url into `out`, NUL-terminated for
 * convenience. Returns the number of bytes, or -1 for a character outside the alphabet,
 * '=' padding, an impossible length, non-zero trailing bits (a non-canonical encoding) or
 * a too small `out`.
 */
BASE64_UNUSED
static long base64url_decode(const char *text, size_t len, uint8_t *out, size_t out_size) {
    if (len % 4 == 1 || out_size == 0) {
        return -1;
    }
    size_t n = 0;
    uint32_t bits = 0;
    int bit_count = 0;
    for (size_t i = 0; i < len; i++) {
        int v = base64url_value(text[i]);
        if (v < 0) {
            return -1;
        }
        bits = (bits << 6) | (uint32_t)v;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            if (n + 1 >= out_size) {
                return -1;
            }
            out[n++] = (uint8_t)(bits >> bit_count);
            bits &= (1u << bit_count) - 1;
        }
    }
    if (bits != 0) {
        return -1;
    }
    out[n] = '\0';
    return (long)n;
}

#endif /* ABLY_AUTH_TEST_BASE64_H */
