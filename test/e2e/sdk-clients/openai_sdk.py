# The official OpenAI Python SDK: key from OPENAI_API_KEY, only the base URL changed.
import sys
from openai import OpenAI

client = OpenAI(base_url=sys.argv[1] + "/v1")
r = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hello"}])
print("openai-python: " + r.choices[0].message.content)
