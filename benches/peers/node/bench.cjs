// Peers benchmark, ably-js side (npm `ably`), run by benches/peers/run.sh with NODE_PATH
// pointing at the scratch install.
//   node bench.cjs issue               createTokenRequest per call
//   node bench.cjs roundtrip BASE_URL  requestToken against the loopback server (plain HTTP)
// Prints "RESULT\t<case>\t<median ns>" lines: median of SAMPLES samples of >= 20 ms each
// after a warm-up, the same loop as benches/support/mod.rs (awaited calls, one at a time).
'use strict';
const Ably = require('ably');

const SAMPLES = Number(process.env.SAMPLES) || 0;
const params = {
  ttl: 3600000,
  capability: '{"channel1":["publish","subscribe"],"channel2":["subscribe"]}',
  clientId: 'client-1',
};
let sink;

async function measure(f, samples) {
  let iters = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) sink = await f();
    if (process.hrtime.bigint() - start >= 20_000_000n) break;
    iters *= 2;
  }
  const out = [];
  for (let s = 0; s < samples; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) sink = await f();
    out.push(Number(process.hrtime.bigint() - start) / iters);
  }
  out.sort((a, b) => a - b);
  return out[samples >> 1];
}

const report = (name, ns) => console.log(`RESULT\t${name}\t${ns.toFixed(1)}`);

async function main() {
  const [mode, base] = process.argv.slice(2);
  if (mode === 'issue') {
    const rest = new Ably.Rest({ key: 'appId.keyId:keySecret', useBinaryProtocol: false });
    report('ably-js createTokenRequest',
      await measure(() => rest.auth.createTokenRequest(params), SAMPLES || 31));
  } else if (mode === 'roundtrip' && base) {
    const u = new URL(base);
    const rest = new Ably.Rest({
      key: 'appId.keyId:loopbackSecret0123456789',
      restHost: u.hostname,
      port: Number(u.port),
      tls: false,
      useBinaryProtocol: false,
      fallbackHosts: [],
      logLevel: 0,
    });
    report('ably-js requestToken round trip',
      await measure(() => rest.auth.requestToken(), SAMPLES || 15));
  } else {
    console.error('usage: node bench.cjs issue | node bench.cjs roundtrip BASE_URL');
    process.exit(2);
  }
}

main().then(() => process.exit(0), (e) => { console.error('ably-js bench:', e); process.exit(1); });
