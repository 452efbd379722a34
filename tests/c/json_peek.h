/*
 * json_peek.h: just enough JSON reading for the C tests to inspect the library's output
 * (header-only). It looks up members of a top-level object; it is not a validating parser.
 *
 *   json_has(json, key)                       the object has a member `key`
 *   json_raw(json, key, buf, size)            the member's value as raw JSON text
 *   json_int(json, key, &value)               the member is a JSON integer (not a string)
 *   json_string(json, key, buf, size)         the member is a JSON string; unescaped
 *
 * Keys are compared byte for byte with the text between the quotes, so they must not
 * need escaping (every key the library writes is plain ASCII).
 */
#ifndef ABLY_AUTH_TEST_JSON_PEEK_H
#define ABLY_AUTH_TEST_JSON_PEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define JSON_PEEK_UNUSED __attribute__((unused))
#else
#define JSON_PEEK_UNUSED
#endif

JSON_PEEK_UNUSED
static const char *jp_skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }
    return p;
}

/* `p` points at an opening quote; return the position after the closing one, or NULL. */
JSON_PEEK_UNUSED
static const char *jp_skip_string(const char *p) {
    for (p++; *p != '\0'; p++) {
        if (*p == '\\') {
            if (p[1] == '\0') {
                return NULL;
            }
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Return the position after the value starting at `p`, or NULL when it is cut short. */
JSON_PEEK_UNUSED
static const char *jp_skip_value(const char *p) {
    if (*p == '"') {
        return jp_skip_string(p);
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p != '\0') {
            if (*p == '"') {
                p = jp_skip_string(p);
                if (p == NULL) {
                    return NULL;
                }
                continue;
            }
            if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) {
                    return p + 1;
                }
            }
            p++;
        }
        return NULL;
    }
    /* A number, true, false or null. */
    const char *start = p;
    while (*p != '\0' && strchr(",}] \t\r\n", *p) == NULL) {
        p++;
    }
    return p == start ? NULL : p;
}

/*
 * Find member `key` of the top-level object `json`: on success `*value` points at its
 * value and `*value_len` is the value's length.
 */
JSON_PEEK_UNUSED
static bool jp_find(const char *json, const char *key, const char **value, size_t *value_len) {
    size_t key_len = strlen(key);
    const char *p = jp_skip_ws(json);
    if (*p != '{') {
        return false;
    }
    p = jp_skip_ws(p + 1);
    while (*p == '"') {
        const char *name = p + 1;
        const char *after_name = jp_skip_string(p);
        if (after_name == NULL) {
            return false;
        }
        size_t name_len = (size_t)(after_name - 1 - name);
        p = jp_skip_ws(after_name);
        if (*p != ':') {
            return false;
        }
        p = jp_skip_ws(p + 1);
        const char *end = jp_skip_value(p);
        if (end == NULL) {
            return false;
        }
        if (name_len == key_len && memcmp(name, key, key_len) == 0) {
            *value = p;
            *value_len = (size_t)(end - p);
            return true;
        }
        p = jp_skip_ws(end);
        if (*p != ',') {
            return false;
        }
        p = jp_skip_ws(p + 1);
    }
    return false;
}

JSON_PEEK_UNUSED
static bool json_has(const char *json, const char *key) {
    const char *value;
    size_t len;
    return jp_find(json, key, &value, &len);
}

/* Copy the raw JSON text of member `key` into `buf`. */
JSON_PEEK_UNUSED
static bool json_raw(const char *json, const char *key, char *buf, size_t size) {
    const char *value;
    size_t len;
    if (!jp_find(json, key, &value, &len) || len + 1 > size) {
        return false;
    }
    memcpy(buf, value, len);
    buf[len] = '\0';
    return true;
}

/* Member `key` is a JSON number written as an integer; store it in `*out`. */
JSON_PEEK_UNUSED
static bool json_int(const char *json, const char *key, int64_t *out) {
    const char *value;
    size_t len;
    if (!jp_find(json, key, &value, &len) || len == 0 || len > 19) {
        return false;
    }
    size_t i = 0;
    bool negative = value[0] == '-';
    if (negative) {
        i++;
    }
    if (i == len || len - i > 18) { /* 18 digits always fit in an int64_t */
        return false;
    }
    int64_t n = 0;
    for (; i < len; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return false;
        }
        n = n * 10 + (value[i] - '0');
    }
    *out = negative ? -n : n;
    return true;
}

/* Append code point `cp` to `buf` as UTF-8; false when it does not fit. */
JSON_PEEK_UNUSED
static bool jp_put_utf8(char *buf, size_t size, size_t *n, uint32_t cp) {
    unsigned char bytes[4];
    size_t count;
    if (cp < 0x80) {
        bytes[0] = (unsigned char)cp;
        count = 1;
    } else if (cp < 0x800) {
        bytes[0] = (unsigned char)(0xc0 | cp >> 6);
        bytes[1] = (unsigned char)(0x80 | (cp & 0x3f));
        count = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (unsigned char)(0xe0 | cp >> 12);
        bytes[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        bytes[2] = (unsigned char)(0x80 | (cp & 0x3f));
        count = 3;
    } else {
        bytes[0] = (unsigned char)(0xf0 | cp >> 18);
        bytes[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        bytes[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        bytes[3] = (unsigned char)(0x80 | (cp & 0x3f));
        count = 4;
    }
    if (*n + count + 1 > size) {
        return false;
    }
    memcpy(buf + *n, bytes, count);
    *n += count;
    return true;
}

/* Read four hex digits. */
JSON_PEEK_UNUSED
static bool jp_hex4(const char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return false;
    }
    *out = v;
    return true;
}

/* Member `key` is a JSON string; copy its unescaped UTF-8 text into `buf`. */
JSON_PEEK_UNUSED
static bool json_string(const char *json, const char *key, char *buf, size_t size) {
    const char *value;
    size_t len;
    if (!jp_find(json, key, &value, &len) || len < 2 || value[0] != '"' || size == 0) {
        return false;
    }
    const char *p = value + 1;
    const char *end = value + len - 1; /* the closing quote */
    size_t n = 0;
    while (p < end) {
        uint32_t cp;
        if (*p != '\\') {
            cp = (unsigned char)*p++;
            if (n + 2 > size) {
                return false;
            }
            buf[n++] = (char)cp;
            continue;
        }
        char esc = p[1];
        p += 2;
        switch (esc) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (end - p < 4 || !jp_hex4(p, &cp)) {
                return false;
            }
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
                uint32_t low;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !jp_hex4(p + 2, &low) ||
                    low < 0xdc00 || low >= 0xe000) {
                    return false;
                }
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }
            break;
        default:
            return false;
        }
        if (!jp_put_utf8(buf, size, &n, cp)) {
            return false;
        }
    }
    buf[n] = '\0';
    return true;
}

#endif /* ABLY_AUTH_TEST_JSON_PEEK_H */
