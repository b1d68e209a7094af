// The console's ACLs and users page in Chromium (driven by test_console_login.py): log in
// as a super user, create an ACL from the form, see it in the list, delete it from the
// list; add a SCRAM user from the form and see it listed with its mechanism; leave a
// screenshot of the page. The Python side then logs in as the new user with a real
// SASL/SCRAM client.
// Usage: node console_access.js URL USER PASSWORD SCREENSHOT_DIR NEW_USER NEW_PASSWORD
// Prints ACCESS OK on success.
'use strict';

const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require('playwright-core');

const [url, user, password, shots, newUser, newPassword] = process.argv.slice(2);

(async () => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let failed = false;
  try {
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(20000);
    const errors = [];
    page.on('pageerror', e => errors.push(e.message));
    await page.goto(url + '#/access');
    await page.locator('#login-form').waitFor();
    await page.fill('#login-user', user);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForFunction(u => document.getElementById('who')?.textContent.includes('User:' + u), user);
    await page.locator('#acl-form').waitFor();

    // An ACL from the form: in the list (DescribeAcls), then deleted from it.
    const resource = 'orders-' + newUser, principal = 'User:' + newUser;
    await page.selectOption('#acl-resource-type', 'TOPIC');
    await page.fill('#acl-resource-name', resource);
    await page.selectOption('#acl-pattern-type', 'PREFIXED');
    await page.fill('#acl-principal', principal);
    await page.selectOption('#acl-operation', 'READ');
    await page.selectOption('#acl-permission', 'ALLOW');
    await page.click('#acl-create');
    const row = page.locator(`#acls-table tr[data-acl="TOPIC|${resource}|${principal}|READ"]`);
    await row.waitFor();
    const text = await row.innerText();
    if (!text.includes('PREFIXED') || !text.includes('ALLOW')) throw new Error('ACL row: ' + text);
    page.once('dialog', d => d.accept());
    await row.locator('button').click();
    await row.waitFor({ state: 'detached' });
    console.log('# ACL created and deleted');

    // A SCRAM user from the form.
    await page.fill('#user-name', newUser);
    await page.fill('#user-password', newPassword);
    await page.selectOption('#user-mechanism', 'SCRAM-SHA-512');
    await page.click('#user-save');
    const userRow = page.locator(`#users-table tr[data-user="${newUser}"]`);
    await userRow.waitFor();
    if (!(await userRow.innerText()).includes('SCRAM-SHA-512 (4096)')) throw new Error('user row: ' + await userRow.innerText());
    if (await page.inputValue('#user-password') !== '') throw new Error('the password field was not cleared');
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.evaluate(() => { document.getElementById('toast').style.display = 'none'; });
    await page.screenshot({ path: path.join(shots, 'access.png'), fullPage: true });
    console.log('ACCESS OK');
  } catch (e) {
    console.log('FAILED: ' + e.message);
    failed = true;
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
})();
