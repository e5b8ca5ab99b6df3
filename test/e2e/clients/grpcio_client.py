"""A Python grpcio client configured only by `standin sandbox env` (grpc_proxy with the proxy
credential, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH): one unary call carrying a stand-in bearer in
metadata. The message is encoded by hand (field 1, a string), so no generated stubs are needed.
Usage: grpcio_client.py TARGET. Prints JSON."""
import json
import os
import sys

import grpc


def encode(text):
    data = text.encode()
    return b"\x0a" + bytes([len(data)]) + data


def decode(buf):
    assert buf[0] == 0x0A
    n, pos, shift = 0, 1, 0
    while True:
        b = buf[pos]
        n |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if b < 0x80:
            break
    return buf[pos : pos + n].decode()


target = sys.argv[1]
channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
unary = channel.unary_unary("/echo.Echo/Unary", request_serializer=lambda x: x, response_deserializer=lambda x: x)
metadata = [("authorization", "Bearer " + os.environ["GRPC_TOKEN"]), ("x-api-key", os.environ.get("GRPC_KEY", ""))]
reply, call = unary.with_call(encode("hi"), metadata=metadata, timeout=20)
initial = dict(call.initial_metadata())
print(json.dumps({"text": decode(reply), "echo": initial.get("x-echo-auth"), "code": str(call.code())}))
channel.close()
