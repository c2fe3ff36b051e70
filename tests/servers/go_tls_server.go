// A TLS server on Go's crypto/tls (no OpenSSL anywhere), set up from the command line: the suite
// judges it like any target. Go fixes its TLS 1.3 suites; the TLS 1.2-and-below suites, the curves
// and the lowest version are chosen here.
//
//	go_tls_server -cert CERT -key KEY -min 1.2 -suites IANA_NAME,... -curves X25519,P256,P384
//
// prints the port, then serves until killed; `go_tls_server -list` prints the suites Go has.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
)

var versions = map[string]uint16{
	"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13,
}

var curves = map[string]tls.CurveID{
	"X25519": tls.X25519, "P256": tls.CurveP256, "P384": tls.CurveP384, "P521": tls.CurveP521,
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

func allSuites() []*tls.CipherSuite {
	return append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
}

func suiteIDs(names string) []uint16 {
	known := map[string]uint16{}
	for _, suite := range allSuites() {
		known[suite.Name] = suite.ID
	}
	var ids []uint16
	for _, name := range strings.Split(names, ",") {
		if name == "" {
			continue
		}
		id, ok := known[name]
		if !ok {
			fail("Go's crypto/tls has no suite %s", name)
		}
		ids = append(ids, id)
	}
	return ids
}

func curveIDs(names string) []tls.CurveID {
	var ids []tls.CurveID
	for _, name := range strings.Split(names, ",") {
		id, ok := curves[name]
		if !ok {
			fail("Go's crypto/tls has no curve %s", name)
		}
		ids = append(ids, id)
	}
	return ids
}

func serve(conn net.Conn) {
	defer conn.Close()
	if err := conn.(*tls.Conn).Handshake(); err != nil {
		return
	}
	request := make([]byte, 4096)
	if _, err := conn.Read(request); err == nil {
		conn.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"))
	}
}

func main() {
	certFile := flag.String("cert", "", "PEM certificate chain")
	keyFile := flag.String("key", "", "PEM private key")
	minimum := flag.String("min", "1.2", "lowest version: 1.0, 1.1, 1.2 or 1.3")
	suites := flag.String("suites", "", "IANA names of the TLS 1.2-and-below suites, comma-separated")
	curveNames := flag.String("curves", "X25519,P256,P384", "curves in the server's order")
	list := flag.Bool("list", false, "print the IANA names of the suites Go has, then exit")
	flag.Parse()
	if *list {
		for _, suite := range allSuites() {
			fmt.Println(suite.Name)
		}
		return
	}
	pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fail("cannot load the certificate: %v", err)
	}
	lowest, ok := versions[*minimum]
	if !ok {
		fail("unknown version %s", *minimum)
	}
	config := &tls.Config{
		Certificates: []tls.Certificate{pair}, MinVersion: lowest, MaxVersion: tls.VersionTLS13,
		CipherSuites: suiteIDs(*suites), CurvePreferences: curveIDs(*curveNames),
	}
	listener, err := tls.Listen("tcp", "127.0.0.1:0", config)
	if err != nil {
		fail("cannot listen: %v", err)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	for {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		go serve(conn)
	}
}
