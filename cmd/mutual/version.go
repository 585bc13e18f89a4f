package main

// version is this build's version, stamped by scripts/release.sh with
// -ldflags "-X main.version=…" (a git tag or commit); "dev" otherwise.
// `mutual --version` prints it.
var version = "dev"
