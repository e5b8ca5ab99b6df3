# The official Anthropic Python SDK: key from ANTHROPIC_API_KEY, only the base URL changed.
import sys
from anthropic import Anthropic

client = Anthropic(base_url=sys.argv[1])
r = client.messages.create(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": "hello"}])
print("anthropic-python: " + r.content[0].text)
