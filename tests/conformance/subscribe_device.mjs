// A device subscription: the SDK subscribes with the device's notification_token and sends
// sync-presence; the answer arrives as an `updated` event. Env: DEVICE_ID.
// Prints {ready, online} after the first presence sync, then {updated, online} when the test flips
// the device's presence through the sandbox's control surface.
import { connect, emit, run, waitFor } from './common.mjs'

run(async () => {
  const api = await connect()
  const device = await api.devices.get(process.env.DEVICE_ID)
  const synced = waitFor(device, 'updated', 10000)
  await device.subscribe()
  await synced
  const initial = device.online
  emit({ ready: true, id: device.id, online: initial, last_active: device.last_active })

  await waitFor(device, 'updated', 10000, d => d.online !== initial)
  emit({ updated: true, id: device.id, online: device.online, last_active: device.last_active })
  api.disconnect()
})
