/**
 * Binds `::` (every address, both families) and falls back to `0.0.0.0` where
 * the host has no IPv6 (the kernel refuses the family or the address). Any
 * other host, and any other error, is the caller's. One rule for the HTTP
 * listener and the UDP socket, so the two always end up on the same family.
 */
export async function listenAnyAddress<T>(host: string, listen: (host: string) => Promise<T>): Promise<T> {
  try {
    return await listen(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (host !== '::' || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
    return listen('0.0.0.0');
  }
}
