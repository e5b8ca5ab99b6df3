// The official Anthropic SDK: key from ANTHROPIC_API_KEY, only the base URL changed.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.argv[2] });
const r = await client.messages.create({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] });
console.log(`anthropic: ${r.content[0].text}`);
