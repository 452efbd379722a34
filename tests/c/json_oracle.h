/*
 * json_oracle.h: the C tests' JSON reader, over cJSON (Debian libcjson-dev), a validating
 * parser that shares nothing with the library's own (Rust, serde_json). Header-only; the tests
 * link cJSON (cmake/AblyAuthTestOracles.cmake). It reads members of a top-level object:
 *
 *   json_is_object(json)                      the text is one JSON object (see below)
 *   json_has(json, key)                       the object has a member `key`
 *   json_raw(json, key, buf, size)            the member's value as compact JSON text
 *   json_int(json, key, &value)               the member is a JSON number with an integer
 *                                             value (not a string)
 *   json_string(json, key, buf, size)         the member is a JSON string; unescaped UTF-8
 *
 * Every call parses the whole text: it must be exactly one JSON object, with nothing but white
 * space after it and no key twice at the top level, or every lookup fails (json_has too, so a
 * check that a member is absent pairs !json_has with json_is_object or another lookup in the
 * same text). Keys are compared with the unescaped member names. A buffer that is too small
 * makes json_raw and json_string fail.
 *
 * json_raw's text is cJSON's compact printing of the value, not the input's bytes: a string
 * comes back quoted and escaped as JSON requires, an object or array without white space.
 * json_int reads cJSON's number, a double: the value must be a whole number of at most
 * 2^53 in magnitude, where every integer is exact.
 *
 * json_oracle_parse and json_oracle_member are the pieces for callers that need more (the C++
 * tests' tests/cpp/json_oracle.hpp).
 */
#ifndef ABLY_AUTH_TEST_JSON_ORACLE_H
#define ABLY_AUTH_TEST_JSON_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#if defined(__GNUC__) || defined(__clang__)
#define JSON_ORACLE_UNUSED __attribute__((unused))
#else
#define JSON_ORACLE_UNUSED
#endif

/* The top-level object of `json`, to free with cJSON_Delete; NULL when `json` is NULL, not
 * JSON, not an object, followed by more than white space, or has a top-level key twice. */
JSON_ORACLE_UNUSED
static cJSON *json_oracle_parse(const char *json) {
    if (json == NULL) {
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1 /* nothing may follow */);
    if (root == NULL) {
        return NULL;
    }
    bool ok = cJSON_IsObject(root);
    for (const cJSON *a = ok ? root->child : NULL; ok && a != NULL; a = a->next) {
        for (const cJSON *b = a->next; ok && b != NULL; b = b->next) {
            ok = strcmp(a->string, b->string) != 0;
        }
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Member `key` of `object` (from json_oracle_parse), or NULL. */
JSON_ORACLE_UNUSED
static const cJSON *json_oracle_member(const cJSON *object, const char *key) {
    return object != NULL ? cJSON_GetObjectItemCaseSensitive(object, key) : NULL;
}

/* `item` is a number with an integer value that a double holds exactly. */
JSON_ORACLE_UNUSED
static bool json_oracle_integer(const cJSON *item, int64_t *out) {
    const double limit = 9007199254740992.0; /* 2^53 */
    if (!cJSON_IsNumber(item)) {
        return false;
    }
    double value = item->valuedouble;
    if (!(value >= -limit && value <= limit) || value != (double)(int64_t)value) {
        return false; /* a fraction, too large, or not a number at all */
    }
    *out = (int64_t)value;
    return true;
}

JSON_ORACLE_UNUSED
static bool json_is_object(const char *json) {
    cJSON *root = json_oracle_parse(json);
    cJSON_Delete(root);
    return root != NULL;
}

JSON_ORACLE_UNUSED
static bool json_has(const char *json, const char *key) {
    cJSON *root = json_oracle_parse(json);
    bool found = json_oracle_member(root, key) != NULL;
    cJSON_Delete(root);
    return found;
}

/* Copy `text` into `buf` when it fits. */
JSON_ORACLE_UNUSED
static bool json_oracle_copy(const char *text, char *buf, size_t size) {
    size_t len = text != NULL ? strlen(text) : 0;
    if (text == NULL || len + 1 > size) {
        return false;
    }
    memcpy(buf, text, len + 1);
    return true;
}

/* The JSON text of member `key`'s value, printed compactly by cJSON, into `buf`. */
JSON_ORACLE_UNUSED
static bool json_raw(const char *json, const char *key, char *buf, size_t size) {
    cJSON *root = json_oracle_parse(json);
    const cJSON *value = json_oracle_member(root, key);
    char *text = value != NULL ? cJSON_PrintUnformatted(value) : NULL;
    bool ok = json_oracle_copy(text, buf, size);
    cJSON_free(text);
    cJSON_Delete(root);
    return ok;
}

/* Member `key` is a JSON number with an integer value; store it in `*out`. */
JSON_ORACLE_UNUSED
static bool json_int(const char *json, const char *key, int64_t *out) {
    cJSON *root = json_oracle_parse(json);
    bool ok = json_oracle_integer(json_oracle_member(root, key), out);
    cJSON_Delete(root);
    return ok;
}

/* Member `key` is a JSON string; copy its unescaped UTF-8 text into `buf`. */
JSON_ORACLE_UNUSED
static bool json_string(const char *json, const char *key, char *buf, size_t size) {
    cJSON *root = json_oracle_parse(json);
    const cJSON *value = json_oracle_member(root, key);
    bool ok = cJSON_IsString(value) && json_oracle_copy(value->valuestring, buf, size);
    cJSON_Delete(root);
    return ok;
}

#endif /* ABLY_AUTH_TEST_JSON_ORACLE_H */
