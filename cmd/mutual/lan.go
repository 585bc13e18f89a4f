package main

import (
	"fmt"
	"io"
	"net"
)

// printWebAddrs says where the web page is. A node listening on every
// interface (meeting mode) names the addresses a phone in the room can
// open, not http://[::]:7777.
func printWebAddrs(w io.Writer, addr string) {
	host, port, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil || !ip.IsUnspecified() {
		fmt.Fprintf(w, "web page and API: http://%s\n", addr)
		return
	}
	fmt.Fprintf(w, "web page and API: http://127.0.0.1:%s (on this machine)\n", port)
	ips := lanIPs()
	if len(ips) == 0 {
		fmt.Fprintln(w, "this machine has no network address yet: join the room's Wi-Fi, then restart `mutual serve --lan`")
		return
	}
	for _, ip := range ips {
		fmt.Fprintf(w, "on the local network: http://%s\n", net.JoinHostPort(ip.String(), port))
	}
}

// lanIPs returns this machine's addresses that others on its networks
// can reach: IPv4 ones, else global IPv6 ones (a link-local address
// needs a zone a phone's browser does not take).
func lanIPs() []net.IP {
	addrs, _ := net.InterfaceAddrs()
	var v4, v6 []net.IP
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsMulticast() {
			continue
		}
		if ip4 := ipn.IP.To4(); ip4 != nil {
			v4 = append(v4, ip4)
		} else if ipn.IP.IsGlobalUnicast() {
			v6 = append(v6, ipn.IP)
		}
	}
	if len(v4) > 0 {
		return v4
	}
	return v6
}
