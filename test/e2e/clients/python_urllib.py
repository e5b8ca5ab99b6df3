"""Sandbox-side client: Python's standard library, configured only by `standin sandbox env`."""
import os
import sys
import urllib.request

url, header, prefix, env_name = sys.argv[1:5]
req = urllib.request.Request(url, headers={header: prefix + os.environ[env_name]})
with urllib.request.urlopen(req, timeout=20) as resp:
    sys.stdout.write(f"{resp.status}\n{resp.read().decode()}")
