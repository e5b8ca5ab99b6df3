"""mitmproxy addon for the standin bench: the same job standin does, nothing more.

- pins every *.standin.test name to 127.0.0.1 (standin gets the same with --resolve), keeping SNI;
- replaces the stand-in token in Authorization with the real value (standin's bearer scheme).
Upstream certificates are verified by mitmproxy itself (--set ssl_verify_upstream_trusted_ca=...).
Values come from the environment, never from argv.
"""
import os

TOKEN_HEADER = "Bearer " + os.environ["BENCH_STANDIN_TOKEN"]
REAL_HEADER = "Bearer " + os.environ["BENCH_REAL_VALUE"]
SUFFIX = "." + os.environ.get("BENCH_RESOLVE_SUFFIX", "standin.test")


class Swap:
    def server_connect(self, data):
        host, port = data.server.address
        if host.endswith(SUFFIX):
            if data.server.sni is None:
                data.server.sni = host
            data.server.address = ("127.0.0.1", port)

    def requestheaders(self, flow):
        if flow.request.headers.get("authorization") == TOKEN_HEADER:
            flow.request.headers["authorization"] = REAL_HEADER


addons = [Swap()]
