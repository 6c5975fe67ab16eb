import type { StoreAnnounce } from '../../src/store/swarm-store.js';

/**
 * The one StoreAnnounce builder of the tests and benches: the fields a case
 * names, and the usual values for the rest (an `update` from a leecher, no
 * endpoint, no key, 50 peers of each family wanted, no peer ids). Keeping the
 * defaults here means a field added to StoreAnnounce is added once.
 */
export function storeAnnounce(
  fields: Pick<StoreAnnounce, 'infoHash' | 'peerId'> & Partial<StoreAnnounce>,
): StoreAnnounce {
  return {
    event: 'update',
    seeder: false,
    ipv4: null,
    ipv6: null,
    key: undefined,
    numWant: 50,
    want4: true,
    want6: true,
    withPeerIds: false,
    ...fields,
  };
}
