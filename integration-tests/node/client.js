#!/usr/bin/env node
// kafkajs 2.2 driven by integration-tests/test_kafkajs.py.
//
// Usage: node client.js BOOTSTRAP COMMAND ARGS...   Prints ONE JSON document on stdout; kafkajs's own
// log (level from SLUICE_KAFKAJS_LOG: error|warn|info|debug, default info) goes to stderr as JSON lines.
//
//   create-topic TOPIC PARTITIONS          -> {"created": true|false}
//   metadata TOPIC                         -> {"brokers": [...], "controller": id, "partitions": [...]}
//   produce TOPIC PARTITION CODEC ACKS N TAG [TS0 STEP]
//                                          -> {"results": [RecordMetadata...]} (sends of 50 records each)
//   consume TOPIC PARTS START              -> {"records": [...]} from START (earliest | latest | OFFSET | ts:MILLIS)
//                                             to the high watermark of each partition ("0,1" = PARTS)
//   latest TOPIC PARTITION N               -> {"position": p, "records": [...]}: resolve latest, produce N, read them
//   offsets-by-ts TOPIC TS                 -> {"offsets": admin.fetchTopicOffsetsByTimestamp(...)}
//   offsets TOPIC                          -> {"offsets": admin.fetchTopicOffsets(...)}
//
// Records produced here: value `${TAG}-${i:06}-` + 'abcdefgh' x 16, key `k${i}`, header seq=i, the
// scheme of value_of() in the Python test.
//
// Consumers: kafkajs's Consumer always joins a consumer group, which Sluice does not implement yet, so
// reads go through kafkajs's own cluster/broker layer (its real Fetch encoder, decoder and codecs):
// metadata -> partition leader -> Fetch requests, offsets from ListOffsets through the admin client.
//
// Codecs: gzip is built into kafkajs; snappy comes from kafkajs-snappy (pure-JS snappyjs); LZ4 from a
// small adapter over lz4js (pure JS, LZ4 frame format, as Kafka uses). zstd is NOT covered: its only
// kafkajs codec (@kafkajs/zstd) needs a native build (cppzst).
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4js = require('lz4js')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress(encoder) {
    return Buffer.from(lz4js.compress(encoder.buffer))
  },
  async decompress(buffer) {
    return Buffer.from(lz4js.decompress(buffer))
  },
})

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
}

const LEVELS = { error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG }
const stderrLogger = () => ({ namespace, level, label, log }) => {
  const { message, ...extra } = log
  process.stderr.write(`${new Date().toISOString()} ${label} [${namespace}] ${message} ${JSON.stringify(extra)}\n`)
}

const [bootstrap, command, ...args] = process.argv.slice(2)
const kafka = new Kafka({
  clientId: 'sluice-it-kafkajs',
  brokers: [bootstrap],
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  logLevel: LEVELS[process.env.SLUICE_KAFKAJS_LOG || 'info'],
  logCreator: stderrLogger,
})

const valueOf = (tag, i) => `${tag}-${String(i).padStart(6, '0')}-` + 'abcdefgh'.repeat(16)

function createCluster() {
  const sym = Object.getOwnPropertySymbols(kafka).find(s => s.toString() === 'Symbol(private:Kafka:createCluster)')
  if (!sym) throw new Error('kafkajs internals changed: no createCluster')
  return kafka[sym]({ allowAutoTopicCreation: false })
}

async function withAdmin(fn) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.disconnect()
  }
}

async function produce(topic, partition, codec, acks, n, tag, ts0, step) {
  const producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: true })
  await producer.connect()
  const results = []
  try {
    for (let start = 0; start < n; start += 50) {
      const messages = []
      for (let i = start; i < Math.min(n, start + 50); i++) {
        const m = { partition, key: `k${i}`, value: valueOf(tag, i), headers: { seq: String(i) } }
        if (ts0 !== undefined) m.timestamp = String(Number(ts0) + i * Number(step))
        messages.push(m)
      }
      const r = await producer.send({ topic, messages, acks, compression: CODECS[codec] })
      results.push(...r)
    }
  } finally {
    await producer.disconnect()
  }
  return results
}

// Read [start, high watermark) of each partition with raw Fetch requests to the partition leader.
async function fetchRange(topic, starts) {
  const cluster = createCluster()
  await cluster.connect()
  try {
    await cluster.addTargetTopic(topic)
    await cluster.refreshMetadata()
    const parts = Object.keys(starts).map(Number)
    const leaders = cluster.findLeaderForPartitions(topic, parts)
    const records = []
    const next = { ...starts }
    const high = {}
    const deadline = Date.now() + 30000
    for (;;) {
      let pending = false
      for (const [nodeId, leaderParts] of Object.entries(leaders)) {
        const want = leaderParts.filter(p => high[p] === undefined || BigInt(next[p]) < BigInt(high[p]))
        if (want.length === 0) continue
        pending = true
        const broker = await cluster.findBroker({ nodeId })
        const resp = await broker.fetch({
          replicaId: -1,
          isolationLevel: 0,
          maxWaitTime: 200,
          minBytes: 1,
          maxBytes: 10485760,
          topics: [{ topic, partitions: want.map(p => ({ partition: p, fetchOffset: String(next[p]), maxBytes: 1048576 })) }],
        })
        for (const t of resp.responses) {
          for (const pd of t.partitions) {
            if (pd.errorCode !== 0) throw new Error(`fetch ${topic}/${pd.partition}: error code ${pd.errorCode}`)
            high[pd.partition] = pd.highWatermark
            for (const m of pd.messages) {
              if (BigInt(m.offset) < BigInt(next[pd.partition])) continue // batch starts before the fetch offset
              records.push({
                partition: pd.partition,
                offset: Number(m.offset),
                timestamp: Number(m.timestamp),
                key: m.key === null ? null : m.key.toString(),
                value: m.value === null ? null : m.value.toString(),
                headers: Object.fromEntries(Object.entries(m.headers || {}).map(([k, v]) => [k, v.toString()])),
              })
              next[pd.partition] = (BigInt(m.offset) + 1n).toString()
            }
          }
        }
      }
      if (!pending) break
      if (Date.now() > deadline) throw new Error(`timed out reading ${topic}: next ${JSON.stringify(next)} high ${JSON.stringify(high)}`)
    }
    return records
  } finally {
    await cluster.disconnect()
  }
}

async function startOffsets(topic, parts, start) {
  if (start === 'earliest' || start === 'latest') {
    const offs = await withAdmin(a => a.fetchTopicOffsets(topic))
    const out = {}
    for (const o of offs) if (parts.includes(o.partition)) out[o.partition] = start === 'earliest' ? o.low : o.high
    return out
  }
  if (start.startsWith('ts:')) {
    const offs = await withAdmin(a => a.fetchTopicOffsetsByTimestamp(topic, Number(start.slice(3))))
    const out = {}
    for (const o of offs) if (parts.includes(o.partition)) out[o.partition] = o.offset
    return out
  }
  return Object.fromEntries(parts.map(p => [p, start]))
}

async function main() {
  switch (command) {
    case 'create-topic': {
      const [topic, partitions] = args
      const created = await withAdmin(a =>
        a.createTopics({ topics: [{ topic, numPartitions: Number(partitions), replicationFactor: 1 }], waitForLeaders: true, timeout: 15000 }))
      return { created }
    }
    case 'metadata': {
      const [topic] = args
      return withAdmin(async a => {
        const cluster = await a.describeCluster()
        const md = await a.fetchTopicMetadata({ topics: [topic] })
        return { brokers: cluster.brokers, controller: cluster.controller, partitions: md.topics[0].partitions }
      })
    }
    case 'produce': {
      const [topic, partition, codec, acks, n, tag, ts0, step] = args
      return { results: await produce(topic, Number(partition), codec, Number(acks), Number(n), tag, ts0, step) }
    }
    case 'consume': {
      const [topic, partsArg, start] = args
      const parts = partsArg.split(',').map(Number)
      return { records: await fetchRange(topic, await startOffsets(topic, parts, start)) }
    }
    case 'latest': {
      const [topic, partition, n] = args
      const p = Number(partition)
      const starts = await startOffsets(topic, [p], 'latest')
      await produce(topic, p, 'none', -1, Number(n), 'new')
      return { position: Number(starts[p]), records: await fetchRange(topic, starts) }
    }
    case 'offsets-by-ts': {
      const [topic, ts] = args
      return { offsets: await withAdmin(a => a.fetchTopicOffsetsByTimestamp(topic, Number(ts))) }
    }
    case 'offsets': {
      const [topic] = args
      return { offsets: await withAdmin(a => a.fetchTopicOffsets(topic)) }
    }
    default:
      throw new Error(`unknown command ${command}`)
  }
}

const timer = setTimeout(() => {
  process.stderr.write('client.js: overall timeout (90s)\n')
  process.exit(3)
}, 90000)

main().then(
  result => {
    clearTimeout(timer)
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0))
  },
  err => {
    clearTimeout(timer)
    process.stderr.write(`client.js ${command} failed: ${err && err.stack ? err.stack : err}\n`)
    if (err && err.cause) process.stderr.write(`cause: ${err.cause.stack || err.cause}\n`)
    process.exit(1)
  }
)
