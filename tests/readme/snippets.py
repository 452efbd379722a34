#!/usr/bin/env python3
"""Compile, and where they run offline run under valgrind, the code snippets of the READMEs.

Run by tests/readme-snippets.sh, which documents the options. Every fenced code block of
README.md, bindings/cpp/README.md and bindings/go/README.md is accounted for:

* ```c, ```cpp, ```go and ```rust blocks need a marker, an HTML comment on the line(s) just
  before the fence (invisible on GitHub):

      <!-- snippet: program, run -->
      <!-- snippet: fragment of tests/readme/NAME.c, run against the loopback server -->

  `program`: the block is a whole program. `fragment of HARNESS`: the block goes into that
  harness file, its #include lines and function definitions (lines from one starting at
  column 0 up to the next `}` at column 0) at the harness's line that is only the comment
  `@SNIPPET_TOP@` and every other line at its `@SNIPPET_BODY@` comment line; #line
  directives make the compiler's messages name the README's lines. Then, in any order:
    `run`                        run it (C and C++ under valgrind: no error, no leak)
    `run against the loopback server [with TLS]`
                                 run it (natively: under valgrind a debug build's TLS
                                 handshake outlasts the open timeout) with a loopback server
                                 started for it: ABLY_README_LOOPBACK_PORT, and with TLS
                                 ABLY_README_LOOPBACK_CA (a PEM file)
    `compile only` (+ a reason)  compile it, do not run it
    `printing "TEXT"`            its standard output must contain TEXT
    `also run with "OLD" replaced by "NEW", expecting exit status N`
                                 also build and run a copy with OLD replaced by NEW (a failure
                                 path), which must exit with N, also without leaks
  A run must exit with status 0 unless stated otherwise.
* ```sh blocks are commands: checked with `bash -n` (syntax only).
* ```cmake blocks are checked by nothing here (tests/consumer builds such projects).
Any other language, or a compiled-language block without a marker, fails the run.

C is compiled with -std=c11 -Wall -Wextra -Wpedantic -Werror, C++ with -std=c++17 -Wall
-Wextra -Wpedantic -Werror, both against the installed package (pkg-config ably_auth), Go
with `go vet` and `go build` in a module that replaces the binding by this checkout's, Rust
with rustc -D warnings (unused variables allowed: examples bind results to show their types)
against the crate's rlib from `cargo test --no-run`. The Swift README is not read here.
C snippets are compiled with tests/readme/builder_ledger.h force-included: builders live in
the library's registry, so one a snippet forgets is no valgrind leak; the ledger counts them.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

READMES = ["README.md", "bindings/cpp/README.md", "bindings/go/README.md"]
FENCE = re.compile(r"^(\s*)(`{3,})\s*([\w+-]*)\s*$")
MARKER = re.compile(r"<!--\s*snippet:\s*(.*?)\s*-->", re.S)
COMPILED = {"c", "cpp", "go", "rust"}
# A harness line that is only the placeholder comment: /* @SNIPPET_BODY@ */ or // @SNIPPET_TOP@
PLACEHOLDER = re.compile(r"^\s*(?:/\*|//)\s*@SNIPPET_(TOP|BODY)@\s*(?:\*/)?\s*$")
RUN_TIMEOUT_S = 300  # a hang guard, not a time limit on the snippets


class Failure(Exception):
    pass


def parse_blocks(root, rel):
    """Yield (line, lang, code, marker text or None) for each fenced block of a file."""
    lines = open(os.path.join(root, rel), encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, lang = m.group(1), m.group(2), m.group(3).lower()
        # The marker: the nearest non-blank lines before the fence, ending with "-->".
        marker = None
        j = i - 1
        while j >= 0 and lines[j].strip() == "":
            j -= 1
        if j >= 0 and lines[j].rstrip().endswith("-->"):
            k = j
            while k >= 0 and "<!--" not in lines[k]:
                k -= 1
            mm = MARKER.search("\n".join(lines[k:j + 1])) if k >= 0 else None
            if mm:
                marker = " ".join(mm.group(1).split())
        body = []
        start = i + 2  # 1-based line number of the first code line
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(ticks) and lines[i].strip().strip("`") == ""
        ):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        yield start, lang, "\n".join(body) + "\n", marker


def parse_marker(text):
    spec = {"kind": None, "harness": None, "run": False, "loopback": None, "printing": [],
            "variants": []}
    rest = text
    m = re.match(r"program\b", rest)
    if m:
        spec["kind"] = "program"
    m2 = re.match(r"fragment of (\S+?),?(\s|$)", rest)
    if m2:
        spec["kind"] = "fragment"
        spec["harness"] = m2.group(1)
    if spec["kind"] is None:
        raise Failure(f"marker '{text}': starts with neither 'program' nor 'fragment of PATH'")
    for m in re.finditer(r'printing "((?:[^"\\]|\\.)*)"', rest):
        spec["printing"].append(m.group(1).replace('\\"', '"'))
    for m in re.finditer(
        r'also run with "((?:[^"\\]|\\.)*)" replaced by "((?:[^"\\]|\\.)*)", expecting exit status (\d+)',
        rest,
    ):
        spec["variants"].append((m.group(1), m.group(2), int(m.group(3))))
    if re.search(r"\brun against the loopback server with TLS\b", rest):
        spec["run"], spec["loopback"] = True, "tls"
    elif re.search(r"\brun against the loopback server\b", rest):
        spec["run"], spec["loopback"] = True, "http"
    elif re.search(r"\brun\b", rest.replace("also run with", "")):
        spec["run"] = True
    elif not re.search(r"\bcompile only\b", rest):
        raise Failure(f"marker '{text}': say 'run', 'run against the loopback server' or "
                      "'compile only'")
    return spec


def split_fragment(code, lang):
    """(top, body): #include/#define lines and function/type definitions, and the rest, each
    as a list of (line offset, text) runs."""
    top, body = [], []
    lines = code.rstrip("\n").split("\n")
    i = 0
    starts_def = re.compile(
        r"^(static |struct |typedef |enum |extern |func |type |template|namespace )"
        r"|^(?!(?:if|for|while|switch|else|do|return)\b)[A-Za-z_][\w\s\*:<>,&]*\([^;]*\)\s*(const\s*)?\{\s*$"
    )
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            top.append((i, [line]))
            i += 1
        elif starts_def.match(line):
            j = i
            while j < len(lines) and not re.match(r"^\}\s*;?\s*$", lines[j]):
                j += 1
            top.append((i, lines[i:j + 1]))
            i = j + 1
        else:
            j = i
            run = []
            while j < len(lines) and not lines[j].startswith("#") and not starts_def.match(lines[j]):
                run.append(lines[j])
                j += 1
            body.append((i, run))
            i = j
    return top, body


def line_directive(lang, line, path):
    if lang in ("c", "cpp"):
        return f'#line {line} "{path}"'
    if lang == "go":
        return f"//line {path}:{line}"
    return ""  # Rust has none


def assemble(root, rel, start, lang, code, spec):
    """The source to compile: the program itself, or the harness with the fragment in."""
    if spec["kind"] == "program":
        d = line_directive(lang, start, rel)
        return (d + "\n" if d else "") + code
    harness_path = os.path.join(root, spec["harness"])
    if not os.path.isfile(harness_path):
        raise Failure(f"harness {spec['harness']} does not exist")
    harness = open(harness_path, encoding="utf-8").read().split("\n")
    top, body = split_fragment(code, lang)
    out = []
    for n, hline in enumerate(harness, start=1):
        slot = PLACEHOLDER.match(hline)
        if slot:
            runs = top if slot.group(1) == "TOP" else body
            for offset, text in runs:
                d = line_directive(lang, start + offset, rel)
                if d:
                    out.append(d)
                out.extend(text)
            d = line_directive(lang, n + 1, spec["harness"])
            if d:
                out.append(d)
        else:
            out.append(hline)
    if body and not any(PLACEHOLDER.match(h) and "BODY" in h for h in harness):
        raise Failure(f"harness {spec['harness']} has no @SNIPPET_BODY@ line")
    return "\n".join(out) + "\n"


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              **kw)
    except FileNotFoundError:
        raise Failure(f"{cmd[0]} is not installed")


class Checker:
    def __init__(self, args):
        self.args = args
        self.root = args.root
        self.work = tempfile.mkdtemp(prefix="readme-snippets-")
        self.counts = {"compiled": 0, "ran": 0, "shell": 0, "cmake": 0}
        self.failures = []
        self.pc_env = dict(os.environ, PKG_CONFIG_PATH=args.pkg_config_path,
                           PKG_CONFIG_LIBDIR=args.pkg_config_path)
        self._pc = None
        self._rust = None
        self._servers = {}

    # --- tools ---------------------------------------------------------------------------
    def pkg_config(self):
        if self._pc is None:
            r = run(["pkg-config", "--cflags", "--libs", "ably_auth"], env=self.pc_env)
            if r.returncode != 0:
                raise Failure("pkg-config ably_auth: " + r.stdout.strip())
            libdir = run(["pkg-config", "--variable=libdir", "ably_auth"], env=self.pc_env)
            self._pc = shlex.split(r.stdout) + [f"-Wl,-rpath,{libdir.stdout.strip()}"]
        return self._pc

    def valgrind(self, exe, env, expect_status, printing, label, native=False):
        cmd = [exe]
        if not self.args.no_valgrind and not native:
            cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                   "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
                   f"--suppressions={os.path.join(self.root, 'tests/valgrind.supp')}"] + cmd
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise Failure(f"{label}: still running after {RUN_TIMEOUT_S} s (hang guard)")
        if r.returncode != expect_status:
            why = {99: "(valgrind found errors or leaks)",
                   98: "(it leaked a builder: tests/readme/builder_ledger.h)"}.get(r.returncode, "")
            raise Failure(f"{label}: exit status {r.returncode}, expected {expect_status} {why}\n"
                          f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        for text in printing:
            if text not in r.stdout:
                raise Failure(f"{label}: its output lacks \"{text}\"\nstdout:\n{r.stdout}\n"
                              f"stderr:\n{r.stderr}")
        self.counts["ran"] += 1

    def loopback(self, mode):
        """(port, ca path or None) of a loopback server started once per mode."""
        if mode in self._servers:
            return self._servers[mode][1:]
        server = self.args.loopback_server
        if not server or not os.access(server, os.X_OK):
            raise Failure("no loopback server (ABLY_LOOPBACK_SERVER or --loopback-server)")
        cmd = [server, "--port", "0", "--exit-on-stdin-eof"]
        ca = None
        if mode == "tls":
            ca = os.path.join(self.work, "loopback-ca.pem")
            cmd += ["--tls", "--ca-out", ca]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        line = proc.stdout.readline()  # blocks until the server prints or exits
        m = re.match(r"LISTENING \S+:(\d+)", line)
        if not m:
            raise Failure(f"loopback server: expected a LISTENING line, got {line!r}")
        self._servers[mode] = (proc, int(m.group(1)), ca)
        return int(m.group(1)), ca

    def stop_servers(self):
        for proc, _, _ in self._servers.values():
            proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # --- languages -------------------------------------------------------------------------
    def build_c_like(self, lang, src_text, name):
        ext = "c" if lang == "c" else "cpp"
        src = os.path.join(self.work, f"{name}.{ext}")
        exe = os.path.join(self.work, name)
        open(src, "w", encoding="utf-8").write(src_text)
        if lang == "c":
            cmd = [os.environ.get("CC", "cc"), "-std=c11"]
        else:
            cmd = [os.environ.get("CXX", "c++"), "-std=c++17"]
        cmd += ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-g", "-pthread", "-o", exe, src]
        if lang == "c":
            # Counts the builders the program owns: one it forgets is no valgrind leak.
            cmd += ["-include", os.path.join(self.root, "tests/readme/builder_ledger.h")]
        cmd += self.pkg_config()
        r = run(cmd)
        if r.returncode != 0:
            raise Failure(f"does not compile ({' '.join(cmd[:2])} -Wall -Wextra -Wpedantic "
                          f"-Werror):\n{r.stdout}")
        return exe

    def check_c_like(self, lang, rel, start, code, spec, label, name):
        exe = self.build_c_like(lang, assemble(self.root, rel, start, lang, code, spec), name)
        self.counts["compiled"] += 1
        if not spec["run"]:
            return "compiled"
        env = dict(os.environ)
        if spec["loopback"]:
            port, ca = self.loopback(spec["loopback"])
            env["ABLY_README_LOOPBACK_PORT"] = str(port)
            if ca:
                env["ABLY_README_LOOPBACK_CA"] = ca
        # Offline runs are under valgrind. Runs against the loopback server are not: under
        # valgrind a TLS handshake of a debug build outlasts the default open timeout (4 s).
        native = spec["loopback"] is not None
        self.valgrind(exe, env, 0, spec["printing"], label, native)
        for n, (old, new, status) in enumerate(spec["variants"]):
            if old not in code:
                raise Failure(f"{label}: the variant's text \"{old}\" is not in the snippet")
            variant = self.build_c_like(
                lang, assemble(self.root, rel, start, lang, code.replace(old, new), spec),
                f"{name}_variant{n}")
            self.valgrind(variant, env, status, [], f"{label} with \"{new}\"", native)
        how = "ran under valgrind" if not (self.args.no_valgrind or native) else "ran"
        if native:
            how += f" against the loopback server ({spec['loopback']})"
        return f"compiled, {how}" + (f" (+{len(spec['variants'])} failure path)"
                                       if spec["variants"] else "")

    def check_go(self, rel, start, code, spec, label, name):
        mod = os.path.join(self.work, f"go-{name}")
        os.makedirs(mod)
        open(os.path.join(mod, "main.go"), "w", encoding="utf-8").write(
            assemble(self.root, rel, start, "go", code, spec))
        binding = os.path.join(self.root, "bindings/go")
        open(os.path.join(mod, "go.mod"), "w", encoding="utf-8").write(
            "module readmesnippet\n\ngo 1.22\n\n"
            "require github.com/ably-auth/ably-auth/bindings/go v0.1.0\n\n"
            f"replace github.com/ably-auth/ably-auth/bindings/go => {binding}\n")
        env = dict(self.pc_env, GOFLAGS="-mod=mod", GOPROXY="off", GOSUMDB="off",
                   CGO_ENABLED="1")
        for cmd in (["go", "vet", "."], ["go", "build", "-o", "snippet", "."]):
            r = run(cmd, cwd=mod, env=env)
            if r.returncode != 0:
                raise Failure(f"{' '.join(cmd)} fails:\n{r.stdout}")
        self.counts["compiled"] += 1
        if not spec["run"]:
            return "vetted and built"
        r = subprocess.run([os.path.join(mod, "snippet")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT_S, env=env)
        if r.returncode != 0:
            raise Failure(f"{label}: exit status {r.returncode}\n{r.stdout}\n{r.stderr}")
        for text in spec["printing"]:
            if text not in r.stdout:
                raise Failure(f"{label}: its output lacks \"{text}\"")
        self.counts["ran"] += 1
        return "vetted, built and ran"

    def rust_crate(self):
        """(rlib, deps dir) of the ably-auth library as `cargo test --workspace` builds it."""
        if self._rust is None:
            r = subprocess.run(
                ["cargo", "test", "--locked", "--workspace", "--no-run",
                 "--message-format=json-render-diagnostics"],
                cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise Failure("cargo test --no-run failed:\n" + r.stderr[-4000:])
            rlib = None
            for line in r.stdout.splitlines():
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                target = msg.get("target") or {}
                if (msg.get("reason") == "compiler-artifact" and target.get("name") == "ably_auth"
                        and "rlib" in target.get("crate_types", [])
                        and not msg.get("profile", {}).get("test")):
                    for f in msg.get("filenames", []):
                        if f.endswith(".rlib"):
                            rlib = f
            if rlib is None:
                raise Failure("cargo did not report the ably_auth rlib")
            self._rust = (rlib, os.path.dirname(rlib))
        return self._rust

    def check_rust(self, rel, start, code, spec, label, name):
        rlib, deps = self.rust_crate()
        src = os.path.join(self.work, f"{name}.rs")
        open(src, "w", encoding="utf-8").write(assemble(self.root, rel, start, "rust", code, spec))
        exe = os.path.join(self.work, name)
        cmd = ["rustc", "--edition", "2024", "--crate-type", "bin", "-D", "warnings",
               "-A", "unused-variables",
               "-o", exe, src, "-L", f"dependency={deps}", "--extern", f"ably_auth={rlib}"]
        r = run(cmd)
        if r.returncode != 0:
            raise Failure(f"does not compile (rustc -D warnings):\n{r.stdout}")
        self.counts["compiled"] += 1
        if not spec["run"]:
            return "compiled"
        self.valgrind(exe, dict(os.environ), 0, spec["printing"], label)
        return "compiled, ran under valgrind" if not self.args.no_valgrind else "compiled, ran"

    # --- driver ----------------------------------------------------------------------------
    def check(self, rel, start, lang, code, marker):
        label = f"{rel}:{start - 1} ({lang})"
        if lang in ("sh", "bash", "shell", "console"):
            r = run(["bash", "-n"], input=code)
            if r.returncode != 0:
                raise Failure(f"{label}: bash -n: {r.stdout}")
            self.counts["shell"] += 1
            return None
        if lang == "cmake":
            self.counts["cmake"] += 1
            return None
        if lang not in COMPILED:
            raise Failure(f"{label}: a ```{lang or '(no language)'} block: give it a language "
                          "this test knows (c, cpp, go, rust, sh, cmake)")
        if marker is None:
            raise Failure(f"{label}: no <!-- snippet: ... --> marker before the block")
        spec = parse_marker(marker)
        name = re.sub(r"\W", "_", f"{rel}_{start}")
        if lang == "go":
            if self.args.no_go:
                self.counts.setdefault("go_skipped", 0)
                self.counts["go_skipped"] += 1
                return "not compiled: no go here (SKIPPED line printed by the script)"
            return self.check_go(rel, start, code, spec, label, name)
        if lang == "rust":
            return self.check_rust(rel, start, code, spec, label, name)
        return self.check_c_like(lang, rel, start, code, spec, label, name)

    def main(self):
        started = time.monotonic()
        try:
            for rel in READMES:
                for start, lang, code, marker in parse_blocks(self.root, rel):
                    label = f"{rel}:{start - 1} ({lang})"
                    if self.args.only and self.args.only not in label:
                        continue
                    try:
                        what = self.check(rel, start, lang, code, marker)
                        if what:
                            print(f"ok   {label}: {what}", flush=True)
                    except Failure as e:
                        msg = str(e)
                        if not msg.startswith(label):
                            msg = f"{label}: {msg}"
                        print(f"FAIL {msg}", flush=True)
                        self.failures.append(label)
        finally:
            self.stop_servers()
            if self.failures or self.args.keep:
                print(f"(sources kept in {self.work})")
            else:
                shutil.rmtree(self.work, ignore_errors=True)
        c = self.counts
        print(f"readme snippets: {c['compiled']} compiled, {c['ran']} runs passed, "
              f"{c['shell']} shell blocks syntax-checked, {c['cmake']} CMake blocks not checked "
              f"here, {c.get('go_skipped', 0)} Go blocks skipped, {len(self.failures)} failed "
              f"({time.monotonic() - started:.0f} s)")
        return 1 if self.failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--pkg-config-path", required=True)
    ap.add_argument("--loopback-server", default=os.environ.get("ABLY_LOOPBACK_SERVER", ""))
    ap.add_argument("--no-go", action="store_true")
    ap.add_argument("--no-valgrind", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the generated sources")
    ap.add_argument("--only", default="", help="check only the blocks whose label contains this")
    args = ap.parse_args()
    return Checker(args).main()


if __name__ == "__main__":
    sys.exit(main())
