"""Peers benchmark, Python side: ably-python (PyPI `ably`) createTokenRequest and PyJWT
HS256 on the same claims. Run by benches/peers/run.sh inside its venv.

    python bench.py issue               createTokenRequest and JWT per call
    python bench.py roundtrip BASE_URL  requestToken against the loopback server

Prints "RESULT\\t<case>\\t<median ns>" lines: median of SAMPLES samples of >= 20 ms each
after a warm-up, the same loop as benches/support/mod.rs.
"""
import asyncio
import os
import sys
import time
import warnings
from urllib.parse import urlparse

import jwt
from ably import AblyRest

TTL = 3600000
CAPABILITY = '{"channel1":["publish","subscribe"],"channel2":["subscribe"]}'
CLIENT_ID = "client-1"
PARAMS = {"ttl": TTL, "capability": CAPABILITY, "client_id": CLIENT_ID}


async def measure(f, samples):
    iters = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(iters):
            await f()
        if time.perf_counter_ns() - start >= 20_000_000:
            break
        iters *= 2
    out = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        for _ in range(iters):
            await f()
        out.append((time.perf_counter_ns() - start) / iters)
    out.sort()
    return out[samples // 2]


def report(name, ns):
    print(f"RESULT\t{name}\t{ns:.1f}", flush=True)


async def issue(samples):
    # PyJWT warns on every call about the 9-byte demo secret; silence it so that the
    # warning machinery is not what gets measured.
    warnings.simplefilter("ignore")
    rest = AblyRest(key="appId.keyId:keySecret", use_binary_protocol=False)
    report("ably-python createTokenRequest",
           await measure(lambda: rest.auth.create_token_request(PARAMS), samples))

    async def pyjwt():
        iat = int(time.time())
        return jwt.encode(
            {"iat": iat, "exp": iat + TTL // 1000, "x-ably-capability": CAPABILITY,
             "x-ably-clientId": CLIENT_ID},
            "keySecret", algorithm="HS256", headers={"kid": "appId.keyId"})
    report("PyJWT HS256", await measure(pyjwt, samples))
    await rest.close()


async def roundtrip(base, samples):
    u = urlparse(base)
    rest = AblyRest(key="appId.keyId:loopbackSecret0123456789", rest_host=u.hostname,
                    port=u.port, tls=False, use_binary_protocol=False, fallback_hosts=[])
    report("ably-python requestToken round trip",
           await measure(lambda: rest.auth.request_token(), samples))
    await rest.close()


def main():
    samples = int(os.environ.get("SAMPLES") or 0)
    if len(sys.argv) == 2 and sys.argv[1] == "issue":
        asyncio.run(issue(samples or 31))
    elif len(sys.argv) == 3 and sys.argv[1] == "roundtrip":
        asyncio.run(roundtrip(sys.argv[2], samples or 15))
    else:
        sys.exit("usage: bench.py issue | bench.py roundtrip BASE_URL")


if __name__ == "__main__":
    main()
