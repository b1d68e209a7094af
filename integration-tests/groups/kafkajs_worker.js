#!/usr/bin/env node
// kafkajs 2.2 consumer-group member and admin calls for integration-tests/test_groups_kafkajs.py.
// Run with NODE_PATH=integration-tests/node/node_modules (kafkajs is installed there).
//
//   node kafkajs_worker.js BOOTSTRAP member GROUP TOPIC
//       a group member speaking the stdin/stdout protocol of groups_common.Worker: it commits each
//       record (commitOffsets, autoCommit off) before printing `REC partition offset`.
//   node kafkajs_worker.js BOOTSTRAP admin GROUP TOPIC
//       prints one JSON document: {groups, describe, offsets, topicOffsets}
//   node kafkajs_worker.js BOOTSTRAP delete GROUP   -> {"deleted": [...]} or {"error": type}
'use strict'

const readline = require('readline')
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, mode, group, topic] = process.argv.slice(2)
const kafka = new Kafka({
  clientId: 'sluice-it-kafkajs-group',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
})
const out = (...a) => process.stdout.write(a.join(' ') + '\n')

async function member() {
  const consumer = kafka.consumer({
    groupId: group, sessionTimeout: 3000, heartbeatInterval: 300, rebalanceTimeout: 30000, maxWaitTimeInMs: 200,
  })
  let idle = false
  let inFlight = false
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await consumer.disconnect()
    out('CLOSED')
    process.exit(0)
  }
  readline.createInterface({ input: process.stdin })
    .on('line', line => {
      const cmd = line.trim()
      if (cmd === 'stop') stop()
      if (cmd === 'idle') {
        idle = true
        const check = setInterval(() => { if (!inFlight) { clearInterval(check); out('IDLE') } }, 20)
      }
    })
    .on('close', stop)
  consumer.on(consumer.events.GROUP_JOIN, e => out('ASSIGN', (e.payload.memberAssignment[topic] || []).sort((a, b) => a - b).join(',')))
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (idle) await new Promise(() => {}) // crashed member: never returns
      inFlight = true
      try {
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }])
      } catch (e) {
        out('COMMITFAIL', partition, message.offset, e.type || e.name)
        throw e // kafkajs delivers the record again (or to its next owner)
      } finally {
        inFlight = false
      }
      out('REC', partition, message.offset)
    },
  })
}

async function admin() {
  const a = kafka.admin()
  await a.connect()
  try {
    if (mode === 'delete') {
      try {
        out(JSON.stringify({ deleted: await a.deleteGroups([group]) }))
      } catch (e) {
        out(JSON.stringify({ error: e.type || e.name, groups: e.groups }))
      }
      return
    }
    const groups = await a.listGroups()
    const describe = await a.describeGroups([group])
    const offsets = await a.fetchOffsets({ groupId: group, topics: [topic] })
    const topicOffsets = await a.fetchTopicOffsets(topic)
    out(JSON.stringify({ groups, describe, offsets, topicOffsets }))
  } finally {
    await a.disconnect()
  }
}

;(mode === 'member' ? member() : admin()).catch(e => {
  process.stderr.write(`${e.stack || e}\n`)
  process.exit(1)
})
