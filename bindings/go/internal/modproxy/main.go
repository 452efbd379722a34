// modproxy publishes one version of a module into a directory laid out as a Go module
// proxy (https://go.dev/ref/mod#goproxy-protocol), for GOPROXY=file://<dir>:
//
//	<dir>/<module path>/@v/list            the versions, one a line
//	<dir>/<module path>/@v/<version>.info  {"Version": ..., "Time": ...}
//	<dir>/<module path>/@v/<version>.mod   the module's go.mod
//	<dir>/<module path>/@v/<version>.zip   the module zip
//
// The zip is made by golang.org/x/mod/zip, the code the go command itself uses, so it holds
// exactly what a release would: no nested modules (bindings/go/internal/*), no files that
// are not tracked by the zip rules, and it fails on names a real proxy would reject.
//
//	go run . -module github.com/ably-auth/ably-auth/bindings/go -version v0.1.0 \
//	    -src ../.. -out /tmp/proxy
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

func main() {
	modPath := flag.String("module", "", "module path")
	version := flag.String("version", "", "semantic version, e.g. v0.1.0")
	src := flag.String("src", "", "the module's root directory (holding go.mod)")
	out := flag.String("out", "", "the proxy directory to write into")
	flag.Parse()
	if *modPath == "" || *version == "" || *src == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := publish(module.Version{Path: *modPath, Version: *version}, *src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func publish(mv module.Version, src, out string) error {
	escaped, err := module.EscapePath(mv.Path)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, mv.Version)

	zf, err := os.Create(base + ".zip")
	if err != nil {
		return err
	}
	if err := modzip.CreateFromDir(zf, mv, src); err != nil {
		zf.Close()
		return err
	}
	if err := zf.Close(); err != nil {
		return err
	}

	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".mod", gomod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{mv.Version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "list"), []byte(mv.Version+"\n"), 0o644)
}
