"""Sandbox-side client: boto3 against S3 with nothing but the environment (stand-in pair, proxy,
CA bundle, AWS_ENDPOINT_URL as the base URL, path-style addressing in AWS_CONFIG_FILE).
List, put with a body (the SDK's default aws-chunked upload with a checksum trailer), get, and a
presigned GET fetched with requests from ECHO_ENDPOINT (moto answers presigned URLs with a 500
once authentication is on, so the test checks what arrives there with botocore instead).
Prints one JSON line."""
import json
import os
import sys

import boto3
import requests

bucket, key = sys.argv[1:3]
body = b"hello through standin\n" * 2000
s3 = boto3.client("s3")
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key=key, Body=body)
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
out = {"buckets": names, "keys": listed, "same": got == body, "key_id": os.environ["AWS_ACCESS_KEY_ID"]}
echo = boto3.client("s3", endpoint_url=os.environ["ECHO_ENDPOINT"])
url = echo.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
out["echo"] = requests.get(url, timeout=20).status_code
print(json.dumps(out))
