/*
 * token_vectors.h: the TokenRequest test vectors of checklist §2.4 (minimal: key, timestamp
 * and nonce; full: also ttl, capability and clientId), shared by the C tests that sign them.
 */
#ifndef ABLY_AUTH_TOKEN_VECTORS_H
#define ABLY_AUTH_TOKEN_VECTORS_H

#include <stdint.h>

#define KEY "appId.keyId:keySecret"
#define KEY_NAME "appId.keyId"
#define KEY_SECRET "keySecret"
#define TIMESTAMP INT64_C(1234567890000)
#define NONCE "abcdefghijklmnop"
#define TTL INT64_C(3600000)
#define CLIENT_ID "client-1"
#define CAPABILITY "{\"channel2\":[\"subscribe\"],\"channel1\":[\"subscribe\",\"publish\"]}"
#define CAPABILITY_CANONICAL \
    "{\"channel1\":[\"publish\",\"subscribe\"],\"channel2\":[\"subscribe\"]}"
#define MAC_MINIMAL "foz/hUYxHedNgRFel0jQFxXq5fHsrIU9ZUZiqONgXow="
#define MAC_FULL "YyyQoBgJPiNWX5hgG6lCGuEfKybZMePUYxdV5mnCawY="

#endif
