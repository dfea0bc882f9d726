// Shared helpers for the conformance scripts. The SDK itself is imported unmodified.
//
// Env: COBROWSE_API (sandbox base URL, required), COBROWSE_TOKEN (agent JWT; when unset the token
// comes from GET /api/1/demo/token?demo_id=$DEMO_ID, as the SDK's own test suite gets it).
// Output: one JSON object per line on stdout; the pytest side reads them.
import CobrowseAPI, { APIError, TokenExpiredError } from 'cobrowse-agent-sdk'

export { CobrowseAPI, APIError, TokenExpiredError }

export const apiUrl = process.env.COBROWSE_API
export const demoId = process.env.DEMO_ID || 'conformance'

if (!apiUrl) {
  console.error('COBROWSE_API is not set')
  process.exit(2)
}

if (typeof WebSocket === 'undefined') {
  console.error('no global WebSocket: run node with --experimental-websocket (node 20) or node >= 22')
  process.exit(2)
}

export async function agentToken () {
  if (process.env.COBROWSE_TOKEN) return process.env.COBROWSE_TOKEN
  const res = await fetch(`${apiUrl}/api/1/demo/token?demo_id=${encodeURIComponent(demoId)}`)
  if (!res.ok) throw new Error(`demo token: HTTP ${res.status}`)
  return (await res.json()).token
}

export async function connect () {
  return new CobrowseAPI(await agentToken(), { api: apiUrl })
}

export function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// Resolve with the first `event` emitted by `emitter` that satisfies `accept`, or reject after `ms`.
export function waitFor (emitter, event, ms, accept = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler)
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`))
    }, ms)
    function handler (...args) {
      if (!accept(...args)) return
      clearTimeout(timer)
      emitter.off(event, handler)
      resolve(args)
    }
    emitter.on(event, handler)
  })
}

export function describeError (e) {
  return {
    name: e?.name,
    is_api_error: e instanceof APIError,
    is_token_expired: e instanceof TokenExpiredError,
    id: e?.id,
    status: e?.status,
    message: e?.message
  }
}

// Run a scenario: print its result, or a {failed} line; always exit (the SDK keeps timers alive).
export async function run (scenario) {
  let code = 0
  try {
    await scenario()
  } catch (e) {
    emit({ failed: describeError(e), stack: String(e?.stack || e) })
    code = 1
  }
  process.exit(code)
}
