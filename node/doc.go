// Package node is a running mutual node: its data dir (identity, Badger
// store), the replica of its groups, the libp2p host that syncs them, and
// the HTTP API with the web UI.
//
// Sub-packages: store (Badger), replica (validation, merge, group commit),
// catchup and p2p (sync), httpapi and web (the API and the page), sheet
// (spreadsheets and text digests).
package node
