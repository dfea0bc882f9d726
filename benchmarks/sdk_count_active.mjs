// Peer of `cobrowse count-active`: count active sessions across all agents through the official SDK.
// Env: COBROWSE_API, COBROWSE_TOKEN (administrator). Prints one integer.
import { connect, pages } from './sdk_paging.mjs'

const api = await connect()
let count = 0
for await (const page of pages(api, { state: ['active'], agent: 'all' })) count += page.length
console.log(count)
process.exit(0) // the SDK may keep timers alive
