"""Test setup, talking to moto directly (not through the gateway): an IAM user with an access key
allowed everything (the real pair the gateway will hold) and a role it may assume. moto enforces
SigV4 after the first five calls; the role's temporary credentials (ASIA key, secret and session
token, checked by moto with X-Amz-Security-Token) come from an authenticated AssumeRole."""
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
role = iam.create_role(RoleName="standin-temp", AssumeRolePolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))["Role"]
iam.put_role_policy(RoleName="standin-temp", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", verify=ca,
                   aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
temp = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="standin")["Credentials"]
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"],
                  "temp": {"id": temp["AccessKeyId"], "secret": temp["SecretAccessKey"], "token": temp["SessionToken"]}}))
