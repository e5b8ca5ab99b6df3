// The official GitHub SDK: the token from GITHUB_TOKEN as Octokit's docs show, only baseUrl changed.
import { Octokit } from '@octokit/rest';

const octokit = new Octokit({ auth: process.env.GITHUB_TOKEN, baseUrl: process.argv[2] });
const { data } = await octokit.rest.users.getAuthenticated();
console.log(`octokit: ${data.login}`);
