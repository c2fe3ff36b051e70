// A TLS server on Node's own OpenSSL, set up from the command line: the suite judges it like any target.
// node node_tls_server.js CERT KEY MIN_VERSION CIPHERS CURVES  -> prints the port, serves until killed.
const tls = require("tls");
const fs = require("fs");
const [cert, key, minVersion, ciphers, curves] = process.argv.slice(2);
const server = tls.createServer({
  cert: fs.readFileSync(cert), key: fs.readFileSync(key), minVersion, maxVersion: "TLSv1.3",
  ciphers, ecdhCurve: curves, honorCipherOrder: true,
}, (socket) => {
  socket.on("error", () => {});
  socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"));
});
server.on("tlsClientError", () => {});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
