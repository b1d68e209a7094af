// End-to-end test of the web console in Debian's Chromium, driven by playwright-core.
// Run by integration-tests/test_console.py, which starts the broker and answers each
// `STEP <name>` line this script prints with a `GO` line on stdin once it has done its
// part with a real Kafka client (confluent-kafka). Exits 0 when every check passed.
//
//   node console_e2e.js CONSOLE_URL SCREENSHOT_DIR TOPIC GROUP
//
// The share group is GROUP-share on topic TOPIC-share; the schema subject TOPIC-value.
'use strict';

const path = require('path');
const fs = require('fs');
const os = require('os');
const readline = require('readline');
const { chromium } = require('playwright-core');

const [url, shots, topic, group] = process.argv.slice(2);
const shareGroup = group + '-share', shareTopic = topic + '-share', subject = topic + '-value';
const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', l => { const w = waiting.shift(); if (w) w(l); });
function step(name) {
  console.log('STEP ' + name);
  return new Promise(resolve => waiting.push(resolve));
}
function log(...a) { console.log('#', ...a); }

(async () => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const failures = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', e => failures.push('page error: ' + e.message));
    page.on('console', m => { if (m.type() === 'error') log('browser console:', m.text()); });
    page.setDefaultTimeout(30000);
    // The pictures for docs/console/: without the last toast over them.
    const shot = async name => {
      await page.evaluate(() => { document.getElementById('toast').style.display = 'none'; });
      await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
    };

    // The overview answers at / and links to the topic and group lists.
    await page.goto(url);
    await page.waitForSelector('text=Uptime');
    await page.locator('h2 a[href="#/topics"]').waitFor();
    await page.locator('h2 a[href="#/groups"]').waitFor();

    // Create a topic from the form.
    await page.click('a[data-nav="topics"]');
    await page.fill('#new-topic-name', topic);
    await page.fill('#new-topic-partitions', '3');
    await page.fill('#new-topic-configs', 'retention.ms=3600000');
    await page.click('#create-topic button[type=submit]');
    await page.waitForFunction(t => document.getElementById('topic-name')?.textContent === t, topic);
    await page.locator('#partitions-table tbody tr').nth(2).waitFor();
    await page.locator('#configs-table tr', { hasText: 'retention.ms' }).filter({ hasText: '3600000' }).waitFor();
    log('topic created');

    // Produce one record from the form, with a repeated header name, to partition 1.
    await page.selectOption('#produce-partition', '1');
    await page.fill('#produce-key', 'user-42');
    await page.fill('#produce-value', '{"product": "p-7", "qty": 2}');
    await page.fill('#produce-headers', 'trace=a\ntrace=b');
    await page.click('#produce-button');
    await page.waitForFunction(() => /partition 1, offset 0/.test(document.getElementById('produce-result').textContent));
    log('produced from the form');

    // Find it in the message browser: key search on partition 1, rendered as JSON.
    await page.selectOption('#browse-partition', '1');
    await page.fill('#browse-key', 'user-42');
    await page.selectOption('#browse-render', 'json');
    await page.click('#browse-button');
    const row = page.locator('#messages-table tr[data-offset="0"]');
    await row.waitFor();
    const text = await row.innerText();
    for (const want of ['user-42', '"product": "p-7"', 'trace: a', 'trace: b']) {
      if (!text.includes(want)) failures.push(`browser row lacks ${want}: ${text}`);
    }
    log('found in the browser');

    // Live tail: start it, let the Python side produce keyed records, see them and the
    // top key arrive.
    await page.click('#tail-start');
    await page.waitForFunction(() => document.getElementById('tail-status').textContent.startsWith('live'));
    await page.waitForSelector('#top-keys-table'); // the first top_keys event: the tail is reading
    await step('produce_for_tail');
    await page.waitForFunction(() => /live: (\d+) records/.test(document.getElementById('tail-status').textContent)
      && Number(document.getElementById('tail-status').textContent.match(/(\d+) records/)[1]) >= 30);
    await page.waitForFunction(() => document.querySelector('#top-keys-table tbody tr')?.dataset.key === 'product-7');
    log('tail saw the records, product-7 on top');
    await page.selectOption('#browse-partition', '0');
    await page.fill('#browse-key', '');
    await page.selectOption('#browse-render', 'auto');
    await page.click('#browse-button');
    await page.locator('#messages-table tbody tr').first().waitFor();
    await shot('topic');

    // A group with lag: the Python side consumed part of the topic and committed.
    await step('group_partly_consumed');
    await page.goto(url + '#/groups');
    await page.locator('#groups-table a', { hasText: group }).click();
    await page.waitForFunction(g => document.getElementById('group-name')?.textContent === g, group);
    await page.waitForFunction(() => Number(document.getElementById('group-lag')?.textContent) > 0);
    const lagBefore = Number(await page.locator('#group-lag').innerText());
    log('lag before', lagBefore);
    await step('group_consume_rest');
    await page.waitForFunction(() => document.getElementById('group-lag')?.textContent === '0', null, { timeout: 60000 });
    log('lag fell to 0');
    await shot('group');

    // Offset reset of the (now empty) group back to earliest: the lag comes back.
    await step('group_empty');
    await page.selectOption('#reset-to', 'earliest');
    await page.click('#reset-form button[type=submit]');
    await page.waitForFunction(b => Number(document.getElementById('group-lag')?.textContent) >= b, lagBefore);
    log('reset to earliest');

    await page.goto(url + '#/groups');
    await page.locator('#groups-table a', { hasText: group }).waitFor();
    await shot('groups');

    // A transaction left open holds the last stable offset back.
    await step('open_transaction');
    await page.goto(url + '#/transactions');
    await page.waitForSelector('#transactions-table');
    await page.waitForFunction(t => document.body.innerText.includes('Partitions held back') && [...document.querySelectorAll('td')].some(td => td.textContent === t), topic);
    await shot('transactions');
    await step('close_transaction');

    await page.goto(url + '#/topics');
    await page.locator('#topics-table tr[data-topic="' + topic + '"]').waitFor();
    await shot('topics');

    // A share group (KIP-932): listed with its type, and its page with the lag
    // DescribeShareGroupOffsets v1 computes. The Python side's ShareConsumer got records
    // 0-9 of a one-partition topic, accepted 0-5 and still holds 6-9: start offset 6,
    // end offset 10, lag 4.
    await step('share_group');
    await page.goto(url + '#/groups');
    const shareRow = page.locator(`#groups-table tr[data-group="${shareGroup}"]`);
    await shareRow.waitFor();
    await shot('groups'); // again, now with a share group beside the classic one
    const shareText = await shareRow.innerText();
    if (!/\bshare\b/.test(shareText)) failures.push('the share group row lacks its type: ' + shareText);
    await shareRow.locator('a').click();
    await page.waitForFunction(g => document.getElementById('share-group-name')?.textContent === g, shareGroup);
    const shareCells = `#share-lag-table tr[data-partition="${shareTopic}-0"] td`;
    await page.waitForFunction(sel => [...document.querySelectorAll(sel)].map(td => td.textContent).slice(2).join(' ') === '6 10 4', shareCells);
    await page.waitForFunction(() => document.getElementById('share-group-members')?.textContent === '1');
    const memberText = await page.locator('#share-members-table').innerText();
    if (!memberText.includes(shareTopic + ': 0')) failures.push('the share member lacks its assignment: ' + memberText);
    // What is in flight: 6-9 acquired by the member, first delivery.
    const acquiredCells = `#share-in-flight-table tr[data-partition="${shareTopic}-0"][data-state="acquired"] td`;
    await page.waitForFunction(sel => [...document.querySelectorAll(sel)].map(td => td.textContent).slice(2, 5).join(' ') === '6…9 acquired 1', acquiredCells);
    log('share group lag 4');
    await shot('share-group');
    await step('share_group_done');

    // A schema registered over the registry's REST API, on the schema pages.
    await step('schema_registered');
    await page.goto(url + '#/schemas');
    const subjectRow = page.locator(`#schemas-table tr[data-subject="${subject}"]`);
    await subjectRow.waitFor();
    const subjectText = await subjectRow.innerText();
    for (const want of ['AVRO', 'BACKWARD']) if (!subjectText.includes(want)) failures.push(`subject row lacks ${want}: ${subjectText}`);
    await shot('schemas');
    await subjectRow.locator('a.version', { hasText: /^2$/ }).click();
    await page.waitForFunction(s => document.getElementById('schema-subject')?.textContent === s, subject);
    await page.waitForFunction(() => document.getElementById('schema-version')?.textContent === '2');
    const schemaText = await page.locator('#schema-text').innerText();
    // Stored compact, shown pretty-printed.
    if (!schemaText.includes('\n  "name": "Product"')) failures.push('schema not pretty-printed: ' + schemaText);
    if (await page.locator('#schema-type').innerText() !== 'AVRO') failures.push('schema type');
    await page.locator('a.version', { hasText: /^1$/ }).click();
    await page.waitForFunction(() => document.getElementById('schema-version')?.textContent === '1');
    await page.locator('a.version', { hasText: /^2$/ }).click();
    await page.waitForFunction(() => document.getElementById('schema-version')?.textContent === '2');
    log('schema seen');
    await shot('schema');

    // The overview with traffic: its chart samples once a second while the page is open.
    await page.goto(url + '#/');
    await step('load_for_overview');
    await page.waitForFunction(() => /now: /.test(document.getElementById('rates')?.textContent || ''));
    await page.waitForTimeout(4000); // a few more samples for the picture only
    await shot('overview');

    // Delete a topic from the list.
    await page.goto(url + '#/topics');
    await page.fill('#new-topic-name', topic + '-gone');
    await page.click('#create-topic button[type=submit]');
    await page.waitForFunction(t => document.getElementById('topic-name')?.textContent === t, topic + '-gone');
    await page.goto(url + '#/topics');
    page.once('dialog', d => d.accept());
    await page.click(`button[data-delete="${topic}-gone"]`);
    await page.locator(`#topics-table tr[data-topic="${topic}-gone"]`).waitFor({ state: 'detached' });
    log('deleted a topic');
  } catch (e) {
    failures.push(String(e && e.stack || e));
    log('failed on page', context.pages()[0]?.url());
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  if (failures.length) {
    console.log('FAILED\n' + failures.join('\n'));
    process.exit(1);
  }
  console.log('PASSED');
  process.exit(0);
})();
