"""Sandbox-side client: requests, configured only by `standin sandbox env` (HTTPS_PROXY, REQUESTS_CA_BUNDLE)."""
import os
import sys

import requests

url, header, prefix, env_name = sys.argv[1:5]
resp = requests.get(url, headers={header: prefix + os.environ[env_name]}, timeout=20)
sys.stdout.write(f"{resp.status_code}\n{resp.text}")
