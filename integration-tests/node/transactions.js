#!/usr/bin/env node
// kafkajs 2.2 transactions, driven by integration-tests/test_transactions_kafkajs.py.
//
// Usage: node transactions.js BOOTSTRAP COMMAND ARGS...   Prints ONE JSON document on stdout.
//   commit-abort TOPIC TXN_ID   -> {"committed": [...], "aborted": [...]}: one committed, one aborted,
//                                  one committed transaction of 10 records each to partition 0
//   fence TOPIC TXN_ID          -> {"zombieError": "<error type>"}: a second producer with the same
//                                  transactional id fences the first one's open transaction
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, command, topic, txnId] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'sluice-it-kafkajs-txn', brokers: [bootstrap], logLevel: logLevel.ERROR,
  retry: { retries: 5 } })

const producer = () => kafka.producer({ transactionalId: txnId, idempotent: true, maxInFlightRequests: 1 })
const values = (tag) => Array.from({ length: 10 }, (_, i) => ({ value: `${tag}-${i}`, partition: 0 }))

async function commitAbort() {
  const p = producer()
  await p.connect()
  const committed = []
  const aborted = []
  for (const [tag, commit] of [['c1', true], ['a1', false], ['c2', true]]) {
    const txn = await p.transaction()
    const messages = values(tag)
    await txn.send({ topic, messages })
    if (commit) {
      await txn.commit()
      committed.push(...messages.map((m) => m.value))
    } else {
      await txn.abort()
      aborted.push(...messages.map((m) => m.value))
    }
  }
  await p.disconnect()
  return { committed, aborted }
}

async function fence() {
  const zombie = producer()
  await zombie.connect()
  const ztxn = await zombie.transaction()
  await ztxn.send({ topic, messages: [{ value: 'zombie', partition: 0 }] })
  const fresh = producer()
  await fresh.connect()
  const ftxn = await fresh.transaction()
  await ftxn.send({ topic, messages: [{ value: 'fresh', partition: 0 }] })
  await ftxn.commit()
  let zombieError = null
  try {
    await ztxn.commit()
  } catch (e) {
    zombieError = e.type || e.name
  }
  await fresh.disconnect()
  await zombie.disconnect().catch(() => {})
  return { zombieError }
}

const commands = { 'commit-abort': commitAbort, fence }
commands[command]()
  .then((r) => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0) })
  .catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1) })
