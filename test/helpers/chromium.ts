/** Debian's Chromium, driven by playwright-core (no browser download; npm test installs the package). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for headless Chromium on this machine kind: without the background
 * networking ones, Chromium tries to reach Google's hosts at every start, which
 * this closed network refuses.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
