// Peer of `cobrowse sessions list --all --ndjson --agent all`: every session through the official
// SDK, one JSON object per line on stdout. Env: COBROWSE_API, COBROWSE_TOKEN (administrator).
import { connect, pages } from './sdk_paging.mjs'

const api = await connect()
let count = 0
for await (const page of pages(api, { agent: 'all' })) {
  // Respect back-pressure: on a pipe, stdout is asynchronous.
  if (page.length && !process.stdout.write(page.map(s => JSON.stringify(s.toJSON())).join('\n') + '\n')) {
    await new Promise(resolve => process.stdout.once('drain', resolve))
  }
  count += page.length
}
process.stderr.write(`${count} sessions\n`)
process.stdout.write('', () => process.exit(0)) // exit once stdout is flushed
