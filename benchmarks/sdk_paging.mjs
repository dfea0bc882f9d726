// The peer: the official JS agent SDK, unmodified, paging the sessions list the way the vendor's
// examples do (limit=1000, next page with activated_before). Shared by sdk_count_active.mjs and
// sdk_page_all.mjs. The SDK is loaded from tests/conformance/node_modules (npm ci --prefix
// tests/conformance) unless COBROWSE_SDK points at another cobrowse-agent-sdk directory.
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const sdkDir = process.env.COBROWSE_SDK || join(here, '..', 'tests', 'conformance', 'node_modules', 'cobrowse-agent-sdk')

export async function connect () {
  const api = process.env.COBROWSE_API
  const token = process.env.COBROWSE_TOKEN
  if (!api || !token) {
    console.error('COBROWSE_API and COBROWSE_TOKEN must be set')
    process.exit(2)
  }
  const { default: CobrowseAPI } = await import(pathToFileURL(join(sdkDir, 'dist', 'esm', 'index.js')).href)
  return new CobrowseAPI(token, { api })
}

// Yield pages of Session objects, newest first. activated_before is a strict '<' on milliseconds,
// so the next page asks for <oldest activated (or created, for pending sessions)> + 1 ms and the
// sessions sharing that boundary millisecond come back again: they are dropped by id.
export async function * pages (api, query) {
  let before = null
  let boundaryMs = null
  let boundaryIds = new Set()
  for (;;) {
    const q = { ...query, limit: 1000 }
    if (before) q.activated_before = before
    const page = await api.sessions.list(q)
    const fresh = page.filter(s => !boundaryIds.has(s.id))
    yield fresh
    if (page.length < 1000) return
    if (fresh.length === 0) throw new Error('a full page shares one millisecond: cannot page past it')
    const at = s => (s.activated || s.created).getTime()
    const oldest = at(page[page.length - 1])
    if (oldest !== boundaryMs) {
      boundaryMs = oldest
      boundaryIds = new Set()
    }
    for (const s of page) if (at(s) === oldest) boundaryIds.add(s.id)
    before = new Date(oldest + 1).toISOString()
  }
}
