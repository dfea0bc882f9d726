// The SDK's REST calls against the sandbox: users.current, sessions create / get by id / get by
// code / list (filter_* and state as an array) / update custom_data / end (with its `ended` event),
// devices.list. Prints one JSON object with what the SDK saw.
import { connect, demoId, emit, run, waitFor } from './common.mjs'

run(async () => {
  const api = await connect()
  const out = {}

  const me = await api.users.current()
  out.user = { id: me.id }

  const created = await api.sessions.create({ custom_data: { demo_id: demoId, ticket: 'T-1' } })
  out.created = created.toJSON()
  out.created.code = created.code

  const byId = await api.sessions.get(created.id)
  out.by_id = { id: byId.id, state: byId.state, custom_data: byId.custom_data }

  const byCode = await api.sessions.get(created.code)
  out.by_code = { id: byCode.id, code: byCode.code }

  const filtered = await api.sessions.list({ filter_demo_id: demoId, state: ['pending', 'active'], limit: 50 })
  out.listed = filtered.map(s => ({ id: s.id, state: s.state, custom_data: s.custom_data }))

  const endedOnly = await api.sessions.list({ filter_demo_id: demoId, state: ['ended'] })
  out.listed_ended_before = endedOnly.map(s => s.id)

  await created.update({ custom_data: { ticket: 'T-2', note: 'updated by the SDK' } })
  out.updated = { id: created.id, custom_data: created.custom_data }

  const toEnd = await api.sessions.create({ custom_data: { demo_id: demoId, ticket: 'T-3' } })
  const ended = waitFor(toEnd, 'ended', 5000)
  await toEnd.end()
  const [endedSession] = await ended
  out.ended = { id: endedSession.id, state: endedSession.state, ended_reason: endedSession.ended_reason, ended_event: true }

  const endedAfter = await api.sessions.list({ filter_demo_id: demoId, state: ['ended'] })
  out.listed_ended_after = endedAfter.map(s => s.id)

  const devices = await api.devices.list()
  out.devices = devices.map(d => d.toJSON())

  emit(out)
})
