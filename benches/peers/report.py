"""Turns the RESULT/SIZE/META lines benches/peers/run.sh collects into benches/RESULTS.md."""
import os
import sys

results, sizes, meta, failed = {}, {}, {}, []
for line in open(sys.argv[1], encoding="utf-8"):
    parts = line.rstrip("\n").split("\t")
    if parts[0] == "RESULT" and len(parts) == 3:
        results[parts[1]] = float(parts[2])
    elif parts[0] == "SIZE":
        sizes[parts[1]] = int(parts[2])
    elif parts[0] == "META":
        meta[parts[1]] = parts[2]
    elif parts[0] == "FAILED":
        failed.append(parts[1])


def ns(value):
    if value is None:
        return "n/a"
    if value >= 100_000:
        return f"{value / 1000:,.0f} µs"
    if value >= 10_000:
        return f"{value / 1000:.1f} µs"
    return f"{value:,.0f} ns"


def ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.3g}"


def table(title, ours, peers, floor=None, note=""):
    """Rows: ours then peers, each with its median; columns: ours ÷ each peer (and floor)."""
    print(f"### {title}\n")
    if note:
        print(note + "\n")
    head = ["case", "median"]
    if floor:
        head.append(f"÷ {floor}")
    head += [f"÷ {p}" for p in peers]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for name in ours:
        v = results.get(name)
        row = [name, ns(v)]
        if floor:
            row.append(ratio(v, results.get(floor)))
        row += [ratio(v, results.get(p)) for p in peers]
        print("| " + " | ".join(row) + " |")
    for name in ([floor] if floor else []) + list(peers):
        print(f"| {name} | {ns(results.get(name))} |" + " |" * (len(head) - 2))
    print()


HMAC = "bare HMAC-SHA256 (key set up per call, base64 mac)"
CTR_PEERS = ["ably-js createTokenRequest", "ably-go createTokenRequest",
             "ably-python createTokenRequest"]
CTR_OURS = ["Rust createTokenRequest (explicit params)", "Rust createTokenRequest + to_json",
            "C ABI create_token_request + to_json (default params)",
            "C ABI params built per call + create + to_json", "go-binding createTokenRequest"]
JWT_PEERS = ["golang-jwt HS256", "PyJWT HS256"]
JWT_OURS = ["Rust create_jwt", "C ABI create_jwt (default params)", "go-binding createJWT"]
RT_PEERS = ["ably-go requestToken round trip", "ably-js requestToken round trip",
            "ably-python requestToken round trip"]
RT_OURS = ["Rust requestToken round trip (reused connection)", "go-binding requestToken round trip",
           "Rust requestToken round trip (new Auth and connection per call)"]

print("# Benchmarks against the peers\n")
print("Written by `benches/peers/run.sh`; every figure below comes from the same run. Medians "
      "of 31 samples (15 for round trips) of at least 20 ms each, warm; ratios are ours ÷ "
      "peer, so below 1 means ours is faster. Same params everywhere: ttl 3600000, capability "
      '`{"channel1":["publish","subscribe"],"channel2":["subscribe"]}`, clientId `client-1`.\n')
print(f"- CPU: {meta.get('cpu', '?')} ({meta.get('cores', '?')} cores); load average at the end "
      f"of the run: {meta.get('load', '?')}")
print(f"- Date: {meta.get('date', '?')}")
print(f"- Tools: {meta.get('rustc', '?')}; Go {meta.get('go', '?')}; Node {meta.get('node', '?')}; "
      f"Python {meta.get('python', '?')}; {meta.get('cc', '?')}")
print(f"- Scheduler: this run's autogroup `{meta.get('autogroup', '?')}`; other busy processes at "
      f"the end of the run: {meta.get('others') or 'none'}")
print(f"- Peers: ably-js {meta.get('ably-js', '?')}, ably-go {meta.get('ably-go', '?')}, "
      f"ably-python {meta.get('ably-python', '?')}, golang-jwt {meta.get('golang-jwt', '?')}, "
      f"PyJWT {meta.get('PyJWT', '?')}\n")

table("createTokenRequest per call", CTR_OURS, CTR_PEERS, floor=HMAC,
      note="ably-js and ably-python are awaited one call at a time (their API is async); the "
           "Go binding's figure includes its one cgo call and building the Go TokenRequest "
           "(see \"Go binding: where the time goes\" below).")
table("JWT creation per call", JWT_OURS, JWT_PEERS,
      note="Same claims everywhere: HS256, header `kid`, `iat`, `exp`, `x-ably-capability`, "
           "`x-ably-clientId`. Ours also validates and canonicalises the capability.")
table("requestToken round trip (loopback server, plain HTTP, 127.0.0.1)", RT_OURS, RT_PEERS,
      note="One `ably-loopback-server` process for all clients; each client keeps its "
           "connection alive between calls unless stated.")
if failed:
    print("Could not be measured: " + ", ".join(failed) + " (see the run's output).\n")

print("### Go binding: where the time goes\n")
print("""Profiled with `go test -bench . -cpuprofile` on `bindings/go/bench_test.go` plus
`go tool pprof -top`, and `perf record -g` on the same test binary (the Go profiler shows the
time inside C only as `runtime.cgocall`); the round trip with `strace -f`.

- **createTokenRequest.** It used to cost about 17 cgo calls (a params builder, three
  setters, two `C.CString` + `C.free`, the create call, seven getters, the free), seven C
  string copies and five `C.GoString` copies: cgo entry and exit were about 65% of the Go
  profile. Now it is one call, `ably_auth_create_token_request_into`. The params go by value
  as `ably_token_params_values`, whose `ably_str` fields borrow the Go strings. The
  TokenRequest comes back in one Go buffer, and its strings are slices of that buffer, with no
  copy: three Go allocations in all. What is left is the library's own work (perf):
  SHA-256 about 9%, capability parsing and canonical JSON about 14%, malloc/free about 9%,
  cgo entry and exit about 3%.
- **createJWT.** Same change: about 11 calls become one, `ably_auth_create_jwt_into`. The
  capability is now canonicalised once instead of twice.
- **requestToken round trip.** ureq resolves the host before it looks in its connection pool,
  and its `DefaultResolver` spawns a thread per lookup to enforce the timeout. So every request
  paid for a thread spawn and join, even for `127.0.0.1` on a reused connection (`strace`:
  `clone3`, `futex`, `exit` per call). `src/http` now resolves IP literals in place. The cgo
  part is one blocking call plus six for the TokenDetails getters, well under 1 µs. Host
  names, such as Ably's, still get the thread and a `getaddrinfo` on every request.
- **Before** (this benchmark, 2026-11-25, issue 14): createTokenRequest 2,349 ns vs ably-go
  1,246 ns; requestToken round trip 1,136 µs vs ably-go 175 µs; createJWT 2,529 ns vs
  golang-jwt 3,198 ns.
""")

print("### Cached-token `Authorization` header\n")
one, two = results.get("header calls/s 1 thread (M)"), results.get("header calls/s 2 threads (M)")
print("| case | figure |\n|---|---:|")
print(f"| one call, cached token (median) | {ns(results.get('Rust authorization_header, cached token'))} |")
if one and two:
    print(f"| calls/s, 1 thread | {one:.2f} M |")
    print(f"| calls/s, 2 threads together | {two:.2f} M |")
    print(f"| scaling, 2 threads ÷ 1 thread | {two / one:.2f}× |")
print()

print("### Footprint\n")
print("Measured by `benches/peers/footprint.sh`; \"alone\" is each crate type built without "
      "the rlib, as CMake builds them (`cargo rustc --release --lib --crate-type cdylib "
      "--crate-type staticlib`; one at a time or together, the files are the same), \"no HTTP "
      "client\" is "
      "`--no-default-features` (CMake `-DABLY_AUTH_HTTP_CLIENT=OFF`), min-size-rel is the "
      "profile CMake's MinSizeRel uses (every crate at opt-level \"z\").\n")
print("| artifact | bytes | MB |\n|---|---:|---:|")
for key, label in [("so_no_http_stripped", "libably_auth.so stripped, no HTTP client, cdylib alone"),
                   ("so_no_http_min_size_stripped", "the same, min-size-rel profile"),
                   ("so_full_stripped", "libably_auth.so stripped, full build, cdylib alone"),
                   ("so_full_min_size_stripped", "the same, min-size-rel profile"),
                   ("so_unstripped", "libably_auth.so as `cargo build` makes it (with the rlib)"),
                   ("so_stripped", "the same, stripped"),
                   ("static_no_http", "libably_auth.a, no HTTP client, staticlib alone"),
                   ("static_full", "libably_auth.a, full build, staticlib alone"),
                   ("static_archive", "libably_auth.a as `cargo build` makes it"),
                   ("c_without", "minimal C program, stripped, without the library"),
                   ("c_with", "same program linking the full libably_auth.a (alone) statically, stripped")]:
    if key in sizes:
        print(f"| {label} | {sizes[key]:,} | {sizes[key] / 1e6:.2f} |")
if "c_with" in sizes and "c_without" in sizes:
    added = sizes["c_with"] - sizes["c_without"]
    print(f"| **size added to the C program** | {added:,} | {added / 1e6:.2f} |")
print()


def bytes_by_crate(path):
    import collections
    import re
    by = collections.Counter()
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.split(None, 3)
        if len(parts) < 4:
            continue
        size, name = int(parts[1], 16), parts[3].strip()
        match = re.match(r"^<*([A-Za-z_][A-Za-z0-9_]*)", name)
        crate = match.group(1) if match else name
        if crate.startswith(("ring_core", "fe_", "ge_", "x25519", "ecp_nistz", "p256", "p384",
                             "nistz", "sc_", "table_select", "bn_", "LIMBS", "limbs")):
            crate = "ring (C and assembly)"
        elif crate.startswith("ably_") and crate != "ably_auth":
            crate = "ably_auth's C entry points (ably_*)"
        elif crate in ("gimli", "addr2line", "rustc_demangle", "miniz_oxide"):
            crate = "std's backtrace printer (" + crate + ")"
        by[crate] += size
    return by


for nm_path, sections_path, build in ((sys.argv[i], sys.argv[i + 1], name) for i, name in
                                      ((2, "full build"), (4, "no HTTP client")) if len(sys.argv) > i + 1):
    by = bytes_by_crate(nm_path)
    sections = {}
    for line in open(sections_path, encoding="utf-8", errors="replace"):
        fields = line.replace("[ ", "[").split()
        if len(fields) > 6 and fields[0].startswith("[") and fields[1].startswith("."):
            sections[fields[1]] = int(fields[5], 16)
    if sections:
        print(f"Sections of the stripped .so ({build}, cdylib alone): " + ", ".join(
            f"`{k}` {v / 1e3:,.0f} kB" for k, v in sorted(sections.items(), key=lambda kv: -kv[1])
            if v >= 10_000) + ".\n")
    if by:
        print(f"Where the bytes of named symbols go ({build}; `nm --size-sort`, by crate; "
              f"{sum(by.values()) / 1e6:.2f} MB in all; the root certificates and other "
              "unnamed constants are in `.rodata` but not here):\n")
        print("| crate | kB |\n|---|---:|")
        for crate, size in by.most_common(14):
            print(f"| {crate} | {size / 1e3:,.0f} |")
        print()

notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "footprint-notes.md")
if os.path.exists(notes):  # hand-written: what was tried, kept across runs
    print(open(notes, encoding="utf-8").read())

print("### Targets\n")


def verdict(ok):
    return "**met**" if ok else "**missed**"


best_ours = min(results.get(n, float("inf")) for n in CTR_OURS[:4])
for peer in CTR_PEERS:
    if peer in results:
        speedup = results[peer] / best_ours
        floor = results[peer] / results[HMAC] if HMAC in results else None
        print(f"- createTokenRequest ≥10× faster than {peer.split()[0]}: "
              f"{verdict(speedup >= 10)} ({speedup:.1f}×, best of Rust API / C ABI"
              + (f"; the bare HMAC itself is {floor:.1f}× faster than {peer.split()[0]})"
                 if floor is not None else ")"))
if HMAC in results:
    r = best_ours / results[HMAC]
    print(f"- createTokenRequest within 3× of the bare HMAC: {verdict(r <= 3)} ({r:.2f}×)")
peer_rt = [results[p] for p in RT_PEERS if p in results]
ours_rt = [results[n] for n in RT_OURS[:2] if n in results]
if peer_rt and ours_rt:
    print(f"- requestToken round trip no slower than the fastest peer: "
          f"{verdict(min(ours_rt) <= min(peer_rt))} (ours {ns(min(ours_rt))} vs {ns(min(peer_rt))})")
for ours, peer, strict in [("go-binding createTokenRequest", "ably-go createTokenRequest", False),
                           ("go-binding requestToken round trip", "ably-go requestToken round trip",
                            False),
                           ("go-binding createJWT", "golang-jwt HS256", True)]:
    if ours in results and peer in results:
        ok = results[ours] < results[peer] if strict else results[ours] <= results[peer]
        print(f"- {ours} {'faster than' if strict else 'at least as fast as'} {peer}: "
              f"{verdict(ok)} ({ns(results[ours])} vs {ns(results[peer])})")
hdr = results.get("Rust authorization_header, cached token")
if hdr is not None:
    print(f"- cached header under 1 µs: {verdict(hdr < 1000)} ({ns(hdr)})")
if one and two:
    print(f"- 2 threads ≥ 1.6× one thread: {verdict(two / one >= 1.6)} ({two / one:.2f}×)")
if "so_no_http_stripped" in sizes:
    v, small = sizes["so_no_http_stripped"], sizes.get("so_no_http_min_size_stripped")
    print(f"- no HTTP client, stripped .so ≤ 700 KB (CMake, release): {verdict(v <= 700_000)} "
          f"({v / 1e3:,.0f} KB" + (f"; min-size-rel {small / 1e3:,.0f} KB, "
                                   f"{verdict(small <= 700_000)})" if small else ")"))
if "so_full_stripped" in sizes:
    v, small = sizes["so_full_stripped"], sizes.get("so_full_min_size_stripped")
    print(f"- full build, stripped .so ≤ 2.1 MB (CMake, release): {verdict(v <= 2_100_000)} "
          f"({v / 1e6:.2f} MB" + (f"; min-size-rel {small / 1e6:.2f} MB, "
                                  f"{verdict(small <= 2_100_000)})" if small else ")"))
if "so_stripped" in sizes:
    v = sizes["so_stripped"]
    print(f"- full build, stripped .so ≤ 2.1 MB as `cargo build` makes it: "
          f"{verdict(v <= 2_100_000)} ({v / 1e6:.2f} MB)")
if "static_full" in sizes and "static_archive" in sizes:
    print(f"- CMake's static archive not 42 MB (staticlib built alone): "
          f"{verdict(sizes['static_full'] < 20_000_000)} ({sizes['static_full'] / 1e6:.1f} MB; "
          f"`cargo build`'s {sizes['static_archive'] / 1e6:.1f} MB)")
