// A session subscription over the realtime socket. Env: SESSION_ID (an existing session).
// Prints {ready} once the socket is open (the subscribe frame is sent before 'open' is emitted),
// then {updated: ...} for the first `updated` whose custom_data.step is set (the test changes it
// through REST), then, if the test ends the session, {ended: ...} from the SDK's `ended` event.
import { connect, emit, run, waitFor } from './common.mjs'

run(async () => {
  const api = await connect()
  const session = await api.sessions.get(process.env.SESSION_ID)
  const opened = waitFor(api, 'socket:open', 10000)
  await session.subscribe()
  await opened
  emit({ ready: true, id: session.id, state: session.state })

  const [updated] = await waitFor(session, 'updated', 10000, s => !!s.custom_data?.step)
  emit({ updated: { id: updated.id, state: updated.state, custom_data: updated.custom_data } })

  if (process.env.WAIT_ENDED) {
    const [ended] = await waitFor(session, 'ended', 10000)
    emit({ ended: { id: ended.id, state: ended.state, ended_reason: ended.ended_reason } })
  }
  api.disconnect()
})
