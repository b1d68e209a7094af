// The console's login form in Chromium (driven by test_console_login.py): the page of a
// broker with a SASL listener shows the form, a wrong password shows an error, the right
// one shows the overview with the user's principal, and logging out shows the form again.
// Usage: node console_login.js URL USER PASSWORD. Prints LOGGED IN on success.
'use strict';

const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require('playwright-core');

const [url, user, password] = process.argv.slice(2);

(async () => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let failed = false;
  try {
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(20000);
    await page.goto(url);
    await page.locator('#login-form').waitFor();
    await page.fill('#login-user', user);
    await page.fill('#login-password', password + '-wrong');
    await page.click('#login-submit');
    await page.waitForFunction(() => document.getElementById('login-error')?.textContent.length > 0);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForSelector('text=Uptime');
    await page.waitForFunction(u => document.getElementById('who')?.textContent.includes('User:' + u), user);
    await page.click('#logout');
    await page.locator('#login-form').waitFor();
    console.log('LOGGED IN');
  } catch (e) {
    console.log('FAILED: ' + e.message);
    failed = true;
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
})();
