#!/usr/bin/env node
// kafkajs 2.2 over SASL listeners, driven by integration-tests/test_sasl_more_clients.py.
//
// Usage: node sasl.js BOOTSTRAP SSL(yes|no) MECHANISM USER PASSWORD CA_PEM TOPIC MODE
//   MECHANISM: plain, scram-sha-256 or scram-sha-512; CA_PEM: "-" without TLS.
//   MECHANISM mtls: TLS with a client certificate and no SASL; USER is then the certificate's
//   PEM file and PASSWORD its private key's.
//   MODE ok       -> {"produced": 10, "values": [...]}  (produce 10, read them back through a group)
//   MODE badauth  -> {"error": NAME, "message": ...}    (connecting must fail)
//   MODE denied   -> {"error": NAME, "type": ...}       (the produce must fail)
// Prints ONE JSON document on stdout; kafkajs's own log goes to stderr.
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, useSsl, mechanism, username, password, ca, topic, mode] = process.argv.slice(2)

async function main () {
  const kafka = new Kafka({
    clientId: 'sluice-sasl-test',
    brokers: [bootstrap],
    ssl: useSsl !== 'yes'
      ? false
      : mechanism === 'mtls'
        ? { ca: [fs.readFileSync(ca, 'utf-8')], cert: fs.readFileSync(username, 'utf-8'), key: fs.readFileSync(password, 'utf-8') }
        : { ca: [fs.readFileSync(ca, 'utf-8')] },
    sasl: mechanism === 'mtls' ? undefined : { mechanism, username, password },
    logLevel: logLevel.ERROR,
    connectionTimeout: 10000,
    authenticationTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 200 }
  })
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  if (mode === 'badauth') {
    try {
      await producer.connect()
      await producer.send({ topic, messages: [{ value: 'v' }] })
    } catch (e) {
      return { error: e.name, message: e.message }
    } finally {
      await producer.disconnect().catch(() => {})
    }
    return { error: null }
  }
  await producer.connect()
  if (mode === 'denied') {
    try {
      await producer.send({ topic, messages: [{ value: 'v' }] })
      return { error: null }
    } catch (e) {
      // kafkajs wraps the broker's error once retries are over.
      const inner = e.cause || e.originalError || {}
      return { error: e.name, type: e.type || inner.type || null, message: e.message }
    } finally {
      await producer.disconnect()
    }
  }
  for (let i = 0; i < 10; i++) {
    await producer.send({ topic, messages: [{ key: `k${i}`, value: `v${i}`, partition: 0 }] })
  }
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: `sasl-js-${Date.now()}`, sessionTimeout: 10000, heartbeatInterval: 1000 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const values = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${values.length} records`)), 60000)
    consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value.toString())
        if (values.length >= 10) { clearTimeout(timer); resolve() }
      }
    }).catch(reject)
  })
  await consumer.disconnect()
  return { produced: 10, values }
}

main().then(
  (out) => { process.stdout.write(JSON.stringify(out) + '\n'); process.exit(0) },
  (e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1) }
)
