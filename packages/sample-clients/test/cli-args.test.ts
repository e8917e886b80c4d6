import { HELP_TEXT, UsageError, parseCliArgs } from '../src/cli-args';

test('no arguments: the demo, nothing overridden', () => {
  expect(parseCliArgs([])).toEqual({
    help: false,
    config: undefined,
    require: [],
    port: undefined,
    addr: undefined,
    client: undefined,
    quiet: false,
    check: false,
    status: false,
  });
});

test('every option, --require repeated in order, --opt=value and -h forms', () => {
  expect(
    parseCliArgs(['--config', 'a.json', '--require', './one.js', '--require=two', '--port=0', '--addr', '::1', '--client', 'echo', '--quiet', '--check', '-h']),
  ).toEqual({
    help: true,
    config: 'a.json',
    require: ['./one.js', 'two'],
    port: '0',
    addr: '::1',
    client: 'echo',
    quiet: true,
    check: true,
    status: false,
  });
});

test('a leading -- (pnpm start -- --port 0 passes it on) is skipped', () => {
  expect(parseCliArgs(['--', '--port', '0', '--quiet'])).toMatchObject({ port: '0', quiet: true });
  expect(() => parseCliArgs(['--port', '0', '--', '--quiet'])).toThrow(UsageError);
});

test.each([
  [['--frobnicate'], "Unknown option '--frobnicate'"],
  [['--port'], "Option '--port <value>' argument missing"],
  [['serve'], "Unexpected argument 'serve'"],
  [['--config', ' '], 'option --config needs a value'],
  [['--require='], 'option --require needs a module name or path'],
])('%j is a UsageError: %s', (argv, message) => {
  expect(() => parseCliArgs(argv)).toThrow(UsageError);
  expect(() => parseCliArgs(argv)).toThrow(message);
});

test('the help text names every option and config key and has an example config', () => {
  for (const option of ['--config', '--require', '--port', '--addr', '--client', '--quiet', '--help']) {
    expect(HELP_TEXT).toContain(option);
  }
  for (const key of ['addr', 'port', 'socketFamily', 'ipv6Only', 'listenBacklog', 'clientClass', 'banner', 'bannerTooBusy', 'lineEnd', 'maxClients', 'tooBusyCloseTimeout']) {
    expect(HELP_TEXT).toMatch(new RegExp(`^  ${key} `, 'm'));
  }
  const example = HELP_TEXT.slice(HELP_TEXT.indexOf('Example config:') + 'Example config:'.length, HELP_TEXT.indexOf('\n\n', HELP_TEXT.indexOf('Example config:')));
  expect(JSON.parse(example)).toMatchObject({ clientClass: 'echo' });
});
