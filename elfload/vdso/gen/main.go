// Command gen writes kernel/vdso_image.go: the vDSO image of package
// vdso as a Go array the kernel links in (see kernel/vdso.go).
//
//	go run ./elfload/vdso/gen -o kernel/vdso_image.go
package main

import (
	"flag"
	"log"
	"os"

	"gosv/elfload/vdso"
)

func main() {
	out := flag.String("o", "kernel/vdso_image.go", "output `file`")
	flag.Parse()
	if err := os.WriteFile(*out, vdso.GoSource(vdso.Build(), "kernel"), 0o644); err != nil {
		log.Fatal(err)
	}
}
