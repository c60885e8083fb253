// Command envoy-schema writes the Envoy v3 API as a gzipped, deterministic FileDescriptorSet.
//
// The descriptors come from the generated Go code of github.com/envoyproxy/go-control-plane/envoy
// (its versions match Envoy releases; every .pb.go embeds its FileDescriptorProto, custom options
// such as validate.rules and envoy.annotations.deprecated_at_minor_version included). imports.go
// blank-imports every v3 package of that module and of github.com/cncf/xds/go; this program walks
// the resulting protoregistry.GlobalFiles (each file after its imports, otherwise by name) and writes:
//
//	<out>.binpb.gz  google.protobuf.FileDescriptorSet, deterministic marshal, gzip (no name, no mtime)
//	<out>.json      {"envoy": "<Envoy version>", "goControlPlane": "<module version>", "files": N}
//
// Regenerate with `npm run schema:generate` (tools/envoy-schema/generate.sh).
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

const envoyModule = "github.com/envoyproxy/go-control-plane/envoy"

func main() {
	out := flag.String("out", "", "output path without extension (writes OUT.binpb.gz and OUT.json)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: envoy-schema -out PATH")
		os.Exit(2)
	}

	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		files = append(files, fd)
		return true
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path() < files[j].Path() })

	// Dependencies before the files that import them (readers such as @bufbuild/protobuf's
	// createFileRegistry need that order); otherwise by file name, so the output is stable.
	set := &descriptorpb.FileDescriptorSet{}
	written := map[string]bool{}
	var write func(fd protoreflect.FileDescriptor)
	write = func(fd protoreflect.FileDescriptor) {
		if written[fd.Path()] {
			return
		}
		written[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			write(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range files {
		write(fd)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	check(err)

	var gz bytes.Buffer
	w, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	check(err)
	_, err = w.Write(raw)
	check(err)
	check(w.Close())
	check(os.WriteFile(*out+".binpb.gz", gz.Bytes(), 0o644))

	version := moduleVersion(envoyModule)
	meta := map[string]any{
		"envoy":          strings.TrimPrefix(version, "v"),
		"goControlPlane": version,
		"files":          len(set.File),
	}
	js, err := json.MarshalIndent(meta, "", "  ")
	check(err)
	check(os.WriteFile(*out+".json", append(js, '\n'), 0o644))
	fmt.Fprintf(os.Stderr, "envoy-schema: %d files, %d bytes raw, %d bytes gzipped, Envoy %s\n",
		len(set.File), len(raw), gz.Len(), meta["envoy"])
}

func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(os.Stderr, "envoy-schema: no build info")
		os.Exit(1)
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			return dep.Version
		}
	}
	fmt.Fprintf(os.Stderr, "envoy-schema: %s not in build info\n", path)
	os.Exit(1)
	return ""
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "envoy-schema:", err)
		os.Exit(1)
	}
}
