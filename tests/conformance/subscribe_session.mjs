// A session subscription over the realtime socket. Env: SESSION_ID (an existing session),
// STEPS (comma-separated, default "rest"), WAIT_ENDED (any value: also wait for `ended`).
// Prints {ready} once the socket is open (the SDK sends its subscribe frame before emitting 'open'),
// then, for each step in STEPS, {updated: ...} for the first `updated` whose custom_data.step is that
// step (the test changes the session through REST, possibly after dropping the socket, which the SDK
// must survive by reconnecting and re-subscribing), then {ended: ...} from the SDK's `ended` event.
import { connect, emit, run, waitFor } from './common.mjs'

run(async () => {
  const api = await connect()
  const session = await api.sessions.get(process.env.SESSION_ID)
  const opened = waitFor(api, 'socket:open', 10000)
  await session.subscribe()
  await opened
  emit({ ready: true, id: session.id, state: session.state })

  for (const step of (process.env.STEPS || 'rest').split(',')) {
    const [updated] = await waitFor(session, 'updated', 15000, s => s.custom_data?.step === step)
    emit({ updated: { id: updated.id, state: updated.state, custom_data: updated.custom_data } })
  }

  if (process.env.WAIT_ENDED) {
    const [ended] = await waitFor(session, 'ended', 10000)
    emit({ ended: { id: ended.id, state: ended.state, ended_reason: ended.ended_reason } })
  }
  api.disconnect()
})
