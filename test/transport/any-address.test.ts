import assert from 'node:assert/strict';
import { it } from 'node:test';
import { listenAnyAddress } from '../../src/transport/any-address.js';

function failing(code: string): (host: string) => Promise<string> {
  return async (host) => {
    if (host === '::') throw Object.assign(new Error(code), { code });
    return host;
  };
}

it('falls back from :: to 0.0.0.0 only where IPv6 is unavailable', async () => {
  assert.equal(await listenAnyAddress('::', async (h) => h), '::');
  assert.equal(await listenAnyAddress('::', failing('EAFNOSUPPORT')), '0.0.0.0');
  assert.equal(await listenAnyAddress('::', failing('EADDRNOTAVAIL')), '0.0.0.0');
  await assert.rejects(listenAnyAddress('::', failing('EADDRINUSE')), /EADDRINUSE/);
  const refuse = async (): Promise<string> => {
    throw Object.assign(new Error('EAFNOSUPPORT'), { code: 'EAFNOSUPPORT' });
  };
  await assert.rejects(listenAnyAddress('::1', refuse), /EAFNOSUPPORT/, 'another host is not retried');
});
