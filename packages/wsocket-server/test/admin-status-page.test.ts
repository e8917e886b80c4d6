/**
 * The status page in a real browser (Debian's chromium, driven by
 * playwright-core) against a running server with plain and TLS clients, a
 * refusal and a failed handshake: the figures shown are the snapshot's, a
 * disconnect asks for the token, keeps it in sessionStorage and makes the
 * client go; a host tag full of markup stays text. Takes a screenshot: with
 * UPDATE_SCREENSHOTS=1 the one docs/operating.md shows
 * (docs/images/status-page.png), else a temporary file (so a test run leaves
 * the repository as it was).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, Browser, Page } from 'playwright-core';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { AdminServer } from '../src/stats/admin-server';
import type { ServerStats } from '../src/stats/stats-types';
import { ClassA, ClassB, freePorts } from './fixtures/ics-hosts-support';
import { Peer, connectPeer, disconnects, track } from './helpers';
import { TlsPeer, connectTls } from './tls-peer';

// The callbacks handed to page.evaluate / waitForFunction run in the browser: the DOM globals they use.
interface BrowserElement {
  textContent: string | null;
  classList: { contains(name: string): boolean };
}
declare const document: { querySelector(selector: string): BrowserElement | null; getElementById(id: string): BrowserElement | null };
declare const sessionStorage: { getItem(key: string): string | null };
declare const window: { pwned?: number };

const TOKEN = 'page-token-0123456789abcdef';
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? path.resolve(__dirname, '../../../docs/images/status-page.png')
    : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'status-page-')), 'status-page.png');

jest.setTimeout(90_000);

describeWithPrograms({ chromium: 'chromium' }, 'status page in chromium', ({ chromium: executablePath }) => {
  let browser: Browser;
  const admins: AdminServer[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await Promise.all(admins.splice(0).map((a) => a.close()));
  });

  async function openPage(url: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1, colorScheme: 'light', locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    (page as Page & { problems: string[] }).problems = problems;
    await page.goto(url);
    return page;
  }

  function field(page: Page, name: string): Promise<string> {
    return page.locator(`header [data-field="${name}"], .kpis [data-field="${name}"]`).first().innerText();
  }

  async function shows(page: Page, name: string, value: string): Promise<void> {
    await page.waitForFunction(([n, v]) => document.querySelector(`[data-field="${n}"]`)?.textContent === v, [name, value] as const);
  }

  test('figures match the snapshot; disconnect with the token; screenshot', async () => {
    const [tlsPort, plainPort, apiPort] = await freePorts('127.0.0.1', 3);
    const www = await createDevCertificate({ names: ['localhost', 'www.localhost'], days: 90 });
    const api = await createDevCertificate({ names: ['api.localhost'], days: 6 });
    const server = track(
      new TWSocketServer<TWSocketClient>({
        maxClients: 7,
        icsHosts: [
          { hostTag: 'www', hostNames: ['localhost', 'www.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: tlsPort, bindNonPort: plainPort, sslCert: www.cert, sslKey: www.key, clientClass: ClassA },
          { hostTag: 'api', hostNames: ['api.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: apiPort, sslCert: api.cert, sslKey: api.key, clientClass: ClassB },
        ],
      }),
    );
    await server.listen();
    const admin = new AdminServer(server.adminTarget(), { port: 0, token: TOKEN, sampleInterval: 1000 });
    admins.push(admin);
    await admin.listen();

    // Traffic in steps, a chart sample after each (taken here rather than waited for).
    const plain: Peer[] = [];
    const secure: TlsPeer[] = [];
    for (let i = 0; i < 3; i++) {
      const { peer } = await connectPeer(server, () => Peer.connect(plainPort));
      await peer.nextLine();
      await peer.ask('x'.repeat(200 * (i + 1)));
      plain.push(peer);
      admin.sample();
    }
    for (const servername of ['www.localhost', 'api.localhost', 'api.localhost']) {
      const { peer } = await connectTls(server, servername === 'api.localhost' ? apiPort : tlsPort, { servername });
      await peer.nextLine();
      await peer.ask(`hello from ${servername}`);
      secure.push(peer);
      admin.sample();
    }
    const garbage = await Peer.connect(tlsPort);
    garbage.send('GET / HTTP/1.0\r\n\r\n'); // not TLS: a failed handshake
    await garbage.closed;
    admin.sample();
    const seventh = await connectPeer(server, () => Peer.connect(plainPort));
    await seventh.peer.nextLine();
    for (let i = 0; i < 2; i++) {
      const refused = await Peer.connect(plainPort); // over maxClients
      await refused.closed;
      admin.sample();
    }
    const leaving = disconnects(server, 1);
    await seventh.peer.destroy();
    await leaving;
    admin.sample();

    const page = await openPage(admin.url);
    const expected: ServerStats = server.stats();
    await shows(page, 'accepted', expected.totals.accepted.toLocaleString('en-US'));
    expect(await field(page, 'clientsNow')).toBe(String(expected.totals.clientsNow));
    expect(expected.totals.clientsNow).toBe(6);
    expect(await field(page, 'admitted')).toBe(String(expected.totals.admitted));
    expect(await field(page, 'refused')).toBe(String(2));
    expect(await field(page, 'handshakesFailed')).toBe(String(1));
    expect(await field(page, 'handshakesDone')).toBe(String(expected.totals.handshakesDone));
    expect(await field(page, 'state')).toBe('listening');

    // One client row per client, with the snapshot's peer, listener and host.
    const rows = page.locator('#clients tr[data-cli-id]');
    expect(await rows.count()).toBe(expected.clients.length);
    for (const c of expected.clients) {
      const row = page.locator(`#clients tr[data-cli-id="${c.cliId}"]`);
      const cells = await row.locator('td').allInnerTexts();
      expect(cells.slice(0, 4)).toEqual([String(c.cliId), `${c.peerAddr}:${c.peerPort}`, c.listener < 0 ? 'main' : `#${c.listener}`, c.hostTag]);
    }
    // Listeners with their state; hosts with the certificate expiry, the close one highlighted.
    expect(await page.locator('#listeners tr[data-listener]').count()).toBe(expected.listeners.length);
    for (const l of expected.listeners) {
      const cells = await page.locator(`#listeners tr[data-listener="${l.index}"] td`).allInnerTexts();
      expect(cells[1]).toBe(l.url);
      expect(cells[2]).toBe(l.state);
      expect(cells[4]).toBe(String(l.clientsNow));
    }
    const apiDays = expected.hosts.find((h) => h.hostTag === 'api')!.certDaysLeft!;
    expect(apiDays).toBeLessThanOrEqual(6);
    const apiBadge = page.locator('#hosts tr[data-host="api"] .pill').first();
    expect(await apiBadge.innerText()).toBe(`${apiDays} days`);
    expect(await apiBadge.getAttribute('class')).toBe('pill bad');
    expect(await page.locator('#hosts tr[data-host="www"] .pill').first().getAttribute('class')).toBe('pill ok');
    expect(await page.locator('#reasons tr[data-reason="refused:maxClients"] td').nth(2).innerText()).toBe('2');
    // The charts drew a line from the samples.
    expect(await page.locator('#chart-clients path.c-line').getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){9,}$/);
    expect(await page.locator('#chart-refusals rect').count()).toBeGreaterThanOrEqual(3);

    await page.locator('#message').evaluate((e) => (e.textContent = ''));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(fs.readFileSync(SCREENSHOT).subarray(0, 8).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');

    // A disconnect without the token: the page asks for it.
    const victim = expected.clients.find((c) => c.hostTag === 'api')!;
    const victimButton = page.locator(`#clients tr[data-cli-id="${victim.cliId}"] button`);
    await victimButton.click();
    await page.waitForFunction(() => document.getElementById('token-box')!.classList.contains('wanted'));
    expect(await page.locator('#message').innerText()).toMatch(/Enter the admin token/);
    expect(server.clientCount).toBe(6);
    // With the token: kept in sessionStorage, the client goes, the row goes.
    await page.locator('#token-input').fill(TOKEN);
    await page.locator('#token-save').click();
    expect(await page.evaluate(() => sessionStorage.getItem('ics-ts-admin-token'))).toBe(TOKEN);
    const gone = disconnects(server, 1);
    await victimButton.click();
    await gone;
    await page.locator(`#clients tr[data-cli-id="${victim.cliId}"]`).waitFor({ state: 'detached' });
    expect(server.clients.map((c) => c.cliId)).not.toContain(victim.cliId);
    await shows(page, 'clientsNow', '5');
    expect(await page.locator('#message').innerText()).toBe(`/clients/${victim.cliId}/disconnect: done`);
    expect((page as Page & { problems: string[] }).problems).toEqual([]);
    await page.context().close();
  });

  test('a host tag full of markup is shown as text, never run', async () => {
    const [plainPort] = await freePorts('127.0.0.1', 1);
    const tag = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
    const server = track(new TWSocketServer({ icsHosts: [{ hostTag: tag, hostNames: ['localhost'], bindIpAddr: '127.0.0.1', bindNonPort: plainPort }] }));
    await server.listen();
    const admin = new AdminServer(server.adminTarget(), { port: 0 });
    admins.push(admin);
    await admin.listen();
    await connectPeer(server, () => Peer.connect(plainPort));
    const page = await openPage(admin.url);
    await page.locator('#hosts tr[data-host] td').first().waitFor();
    expect(await page.locator('#hosts tr[data-host] td').first().innerText()).toBe(tag);
    expect(await page.locator('#clients tr[data-cli-id] td').nth(3).innerText()).toBe(tag);
    expect(await page.evaluate(() => window.pwned)).toBeUndefined();
    expect(await page.locator('#hosts img, #clients img, #hosts script').count()).toBe(0);
    // Without a token the actions say so rather than fail silently.
    await page.locator('#token-input').fill('not-the-token-but-long');
    await page.locator('#token-save').click();
    await page.locator('#clients tr[data-cli-id] button').click();
    await page.waitForFunction(() => /disabled: no admin.token/.test(document.getElementById('message')!.textContent ?? ''));
    expect(server.clientCount).toBe(1);
    await page.context().close();
  });
});

afterAll(() => {
  if (process.env.UPDATE_SCREENSHOTS !== '1') fs.rmSync(path.dirname(SCREENSHOT), { recursive: true, force: true });
});
