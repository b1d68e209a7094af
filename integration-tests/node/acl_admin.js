#!/usr/bin/env node
// kafkajs 2.2's admin client managing ACLs, driven by integration-tests/test_sasl_more_clients.py.
//
// Usage: node acl_admin.js ADMIN_BOOTSTRAP SASL_BOOTSTRAP USER PASSWORD TOPIC
//   ADMIN_BOOTSTRAP: a PLAINTEXT listener whose principal (User:ANONYMOUS) is a super user;
//   SASL_BOOTSTRAP: a SASL_PLAINTEXT (PLAIN) listener USER authenticates on, USER without ACLs.
// Creates ALLOW WRITE on TOPIC for USER with createAcls, finds it with describeAcls, produces as
// USER, deletes it with deleteAcls and produces again. Prints ONE JSON document on stdout:
// {"before": ERR, "described": N, "produced": ERR, "deleted": N, "after": ERR}, ERR being the
// produce's error type (null on success).
'use strict'

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = require('kafkajs')

const [adminBootstrap, saslBootstrap, username, password, topic] = process.argv.slice(2)

async function produce () {
  const kafka = new Kafka({
    clientId: 'sluice-acl-admin-test',
    brokers: [saslBootstrap],
    sasl: { mechanism: 'plain', username, password },
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 200 }
  })
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic, messages: [{ value: 'v', partition: 0 }] })
    return null
  } catch (e) {
    const inner = e.cause || e.originalError || {}
    return e.type || inner.type || e.name
  } finally {
    await producer.disconnect().catch(() => {})
  }
}

async function main () {
  const kafka = new Kafka({ clientId: 'sluice-acl-admin', brokers: [adminBootstrap], logLevel: logLevel.ERROR })
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    const out = { before: await produce() }
    const acl = {
      resourceType: AclResourceTypes.TOPIC,
      resourceName: topic,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: `User:${username}`,
      host: '*',
      operation: AclOperationTypes.WRITE,
      permissionType: AclPermissionTypes.ALLOW
    }
    await admin.createAcls({ acl: [acl] })
    const filter = {
      resourceType: AclResourceTypes.TOPIC,
      resourceName: topic,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY
    }
    const described = await admin.describeAcls(filter)
    out.described = described.resources.reduce((n, r) => n + r.acls.length, 0)
    out.produced = await produce()
    const deleted = await admin.deleteAcls({ filters: [filter] })
    out.deleted = deleted.filterResponses.reduce((n, r) => n + r.matchingAcls.length, 0)
    out.after = await produce()
    return out
  } finally {
    await admin.disconnect()
  }
}

main().then(
  (out) => { process.stdout.write(JSON.stringify(out) + '\n'); process.exit(0) },
  (e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1) }
)
