"""Test-side verifier for aws-chunked signed chunks, independent of the gateway's signer: botocore
derives the signing key, the chain is S3's documented string to sign (AWS4-HMAC-SHA256-PAYLOAD,
date, scope, previous signature, hash of nothing, hash of the chunk). Reads JSON on stdin:
{"secret", "amzDate", "scope", "seed", "body" (base64)}; prints "valid" and the decoded length."""
import base64
import hashlib
import json
import sys

from botocore.auth import SigV4Auth
from botocore.credentials import Credentials

doc = json.load(sys.stdin)
day, region, service, _ = doc["scope"].split("/")
auth = SigV4Auth(Credentials("unused", doc["secret"]), service, region)


class Req:  # botocore's signature() reads only the date from the request context
    context = {"timestamp": doc["amzDate"]}


body = base64.b64decode(doc["body"])
prior = doc["seed"]
empty = hashlib.sha256(b"").hexdigest()
at = 0
decoded = 0
while True:
    eol = body.index(b"\r\n", at)
    size_hex, sig = body[at:eol].decode().split(";chunk-signature=")
    size = int(size_hex, 16)
    data = body[eol + 2:eol + 2 + size]
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", doc["amzDate"], doc["scope"], prior, empty, hashlib.sha256(data).hexdigest()])
    expected = auth.signature(sts, Req)
    if expected != sig:
        print("invalid at", at)
        sys.exit(1)
    prior = sig
    decoded += size
    at = eol + 2 + size + 2
    if size == 0:
        break
print("valid", decoded)
