"""Sandbox-side client: a form-body token call with requests (Slack's legacy style: token=... in the body)."""
import os
import sys

import requests

url, field, env_name = sys.argv[1:4]
resp = requests.post(url, data={"channel": "C123", field: os.environ[env_name], "text": "hello & goodbye"}, timeout=20)
sys.stdout.write(f"{resp.status_code}\n{resp.text}")
