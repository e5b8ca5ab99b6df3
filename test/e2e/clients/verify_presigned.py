"""Test-side verifier, independent of the gateway's signer (botocore's own SigV4 query signer):
exit 0 when URL carries a valid S3 presigned signature for ACCESS_KEY:SECRET."""
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url, access, secret = sys.argv[1:4]
parts = urlsplit(url)
params = dict(parse_qsl(parts.query, keep_blank_values=True))
given = params.pop("X-Amz-Signature")
scope = params["X-Amz-Credential"].split("/")
assert scope[0] == access, "credential is not the real key id"
auth_params = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Security-Token"]
rest = {k: v for k, v in params.items() if k not in auth_params}
base = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{urlencode(rest)}" if rest else "")
req = AWSRequest(method="GET", url=base, headers={})
auth = S3SigV4QueryAuth(Credentials(access, secret), "s3", scope[2], expires=int(params["X-Amz-Expires"]))
# add_auth() would stamp the current time; the URL's own X-Amz-Date is what must be checked.
req.context["timestamp"] = params["X-Amz-Date"]
auth._modify_request_before_signing(req)
expected = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
print("valid" if expected == given else "invalid")
sys.exit(0 if expected == given else 1)
