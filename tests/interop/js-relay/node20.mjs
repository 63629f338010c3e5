// Node 20 lacks Promise.withResolvers (Node >= 22), which some of js-libp2p's
// transitive dependencies use; imported first by relay.mjs. No other change.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
