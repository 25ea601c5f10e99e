// Command consolebuild builds the web console: it reads the source
// directory (web/src) and replaces the output directory
// (internal/console/dist) with the files the binary embeds, as package
// bundle describes. web/build.sh runs it from the repository root.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wardenhq/warden/internal/console/bundle"
)

func main() {
	src := flag.String("src", "web/src", "the console's source directory")
	out := flag.String("out", "internal/console/dist", "the output directory (replaced)")
	flag.Parse()
	files, err := bundle.Build(os.DirFS(*src))
	if err == nil {
		err = bundle.Write(*out, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "consolebuild:", err)
		os.Exit(1)
	}
	fmt.Printf("consolebuild: %d files in %s\n", len(files), *out)
}
