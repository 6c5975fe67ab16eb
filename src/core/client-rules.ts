/**
 * Which BitTorrent clients may announce, by peer-id prefix (`-qB`, `-TR4`,
 * `-WW`: Azureus-style ids start with a dash and the client's code):
 * `--client-allow` admits only ids starting with one of its prefixes,
 * `--client-deny` refuses ids starting with one of its. Off (no prefixes), it
 * costs one comparison per announce. A peer id is client-chosen, so this keeps
 * out well-behaved clients an operator does not want, not an attacker.
 */
export class ClientRules {
  private readonly allow: Buffer[];
  private readonly deny: Buffer[];

  constructor(allow: readonly string[], deny: readonly string[]) {
    this.allow = allow.map((p) => Buffer.from(p, 'latin1'));
    this.deny = deny.map((p) => Buffer.from(p, 'latin1'));
  }

  allows(peerId: Buffer): boolean {
    if (this.allow.length > 0 && !this.allow.some((p) => startsWith(peerId, p))) return false;
    return !this.deny.some((p) => startsWith(peerId, p));
  }
}

function startsWith(id: Buffer, prefix: Buffer): boolean {
  return id.length >= prefix.length && id.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
