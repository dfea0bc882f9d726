// An expired JWT must surface as the SDK's TokenExpiredError (the server says "jwt expired").
import { connect, describeError, emit, run } from './common.mjs'

run(async () => {
  const api = await connect()
  try {
    await api.sessions.list()
    emit({ rejected: false })
  } catch (e) {
    emit({ rejected: true, error: describeError(e) })
  }
})
