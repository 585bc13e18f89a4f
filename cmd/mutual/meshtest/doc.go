// Package meshtest runs `mutual serve` processes on a network made of
// Linux network namespaces: hosts with their own interfaces, addresses
// and routes, joined by bridges, routers and links that the tests take
// down and bring back. It holds only tests; docs/operations.md ("Testing
// on a mesh") says how to run them.
//
// The tests need root and iproute2's `ip`. Without them they skip,
// saying why, unless the CI environment variable is set: then they fail.
package meshtest
