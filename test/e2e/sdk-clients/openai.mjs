// The official OpenAI SDK as an application uses it: key from OPENAI_API_KEY, only the base URL
// changed (to the local fake). No proxy, agent or CA configuration: that is the sandbox's job.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: `${process.argv[2]}/v1` });
const r = await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hello' }] });
console.log(`openai: ${r.choices[0].message.content}`);
