// A stock js-libp2p circuit relay v2 server, for p2psocial's interop tests.
//
//   node relay.mjs /ip4/10.1.0.10/tcp/4001 [hex-seed-32-bytes]
//
// Listens on the given address with TCP + Noise + yamux, runs identify and
// circuitRelayServer() with js-libp2p's stock settings (limited circuits:
// 2 minutes / 128 KiB each; 15 reservations, 2 h each), and prints one line
// per listening address ("listening <multiaddr>/p2p/<peer id>"), then "ready".
// A seed gives a fixed peer id; without one a new key is made. The one
// setting a test may change: RESERVATION_TTL_MS (environment) shortens the
// reservation lifetime so that renewals can be watched. Stops on SIGTERM/SIGINT.
import './node20.mjs'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'

const [listen, seedHex] = process.argv.slice(2)
if (listen === undefined) {
  console.error('usage: node relay.mjs <listen multiaddr> [32-byte hex seed]')
  process.exit(2)
}
const privateKey = seedHex === undefined
  ? await generateKeyPair('Ed25519')
  : await generateKeyPairFromSeed('Ed25519', Buffer.from(seedHex, 'hex'))

const ttl = process.env.RESERVATION_TTL_MS === undefined
  ? undefined
  : Number(process.env.RESERVATION_TTL_MS)

const node = await createLibp2p({
  privateKey,
  addresses: { listen: [listen] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    relay: circuitRelayServer(ttl === undefined ? {} : { reservations: { reservationTtl: ttl } })
  }
})

const log = (...words) => console.log(new Date().toISOString(), ...words)
node.addEventListener('peer:connect', (evt) => log('connect', evt.detail.toString()))
node.addEventListener('peer:disconnect', (evt) => log('disconnect', evt.detail.toString()))

for (const addr of node.getMultiaddrs()) {
  console.log('listening', addr.toString())
}
console.log('ready')

const stop = async () => {
  await node.stop()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
