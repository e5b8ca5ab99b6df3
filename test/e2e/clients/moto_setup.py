"""Test setup, talking to moto directly (not through the gateway): an IAM user with an access key
allowed everything, the real pair the gateway will hold. moto enforces SigV4 after these calls."""
import json
import sys

import boto3

endpoint, ca = sys.argv[1:3]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", verify=ca,
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="standin")
iam.put_user_policy(UserName="standin", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="standin")["AccessKey"]
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
